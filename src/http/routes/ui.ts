// The browse UI under /-/ (a prefix no project name can take: PEP 508 names start with a letter
// or digit). Server-rendered pages with a little progressive JavaScript; the pages pip and the
// other installers read are not touched (see src/http/ui/browser-home.ts for `/`). This plugin
// sets up what the pages share (assets, README renderer, catalog, security headers) and
// registers the groups of routes: the project list and search (ui-catalog.ts), the project
// pages (ui-projects.ts), the static files and the 404 page (here).
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { ReadmeRenderer } from '../../readme/readme-renderer.js'
import { renderNotFound } from '../../render/ui/home.js'
import { assetContentType } from '../content-type.js'
import { baseUrlOf } from '../public-base.js'
import { redirect } from '../replies.js'
import { ASSETS_DIR, loadAssets } from '../ui/assets.js'
import { Catalog } from '../ui/catalog.js'
import { contentSecurityPolicy, setSecurityHeaders } from '../ui/security-headers.js'
import { relativeRoot, type UiRouteContext } from '../ui/ui-requests.js'
import type { UploaderRecord } from '../../upload/uploader-log.js'
import type { IndexRouteOptions } from './route-options.js'
import { registerCatalogRoutes } from './ui-catalog.js'
import { registerProjectRoutes } from './ui-projects.js'

/** Settings of the browse UI. */
export interface UiSettings {
  /** Show remote (http/https) images in READMEs (`--ui-remote-images`); off by default for air-gapped and privacy-minded sites. */
  readonly remoteImages?: boolean
  /** python3 that can import readme_renderer (default /usr/bin/python3). */
  readonly python?: string
  /** How long the project list is used before the tree is checked again (default 1 s). */
  readonly catalogTtlMs?: number
}

/** The UI routes; registered under the prefix /-. */
export const uiRoutes: FastifyPluginAsync<
  IndexRouteOptions & { readonly ui: UiSettings; readonly uploaders: UploaderRecord }
> = async (app, options) => {
  const { index, metadata, access, uploaders } = options
  const remoteImages = options.ui.remoteImages ?? false
  const csp = contentSecurityPolicy(remoteImages)
  const assets = await loadAssets()
  const readmes = new ReadmeRenderer({
    log: app.log,
    remoteImages,
    ...(options.ui.python === undefined ? {} : { python: options.ui.python }),
  })
  const catalog = new Catalog({
    index,
    metadata,
    log: app.log,
    ...(options.ui.catalogTtlMs === undefined ? {} : { ttlMs: options.ui.catalogTtlMs }),
    ...(options.upstream === undefined ? {} : { upstream: options.upstream }),
  })
  app.addHook('onClose', () => readmes.close())
  // Assets are served by @fastify/static (ranges, validators), under hashed names.
  await app.register(fastifyStatic, { root: ASSETS_DIR, serve: false })
  // Every UI response (401s included) carries the security headers.
  app.addHook('onRequest', (_request, reply, done) => {
    setSecurityHeaders(reply, csp)
    done()
  })
  const notFound = (reply: FastifyReply, root: string, message: string): FastifyReply =>
    reply
      .code(404)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(renderNotFound(assets.names, root, message))
  const ui: UiRouteContext = {
    options,
    assets,
    views: { uploaders, metadata, readmes, assets: assets.names, showOrigin: options.upstream !== undefined },
    // When --authenticate protects listing, the UI needs the same credentials (and downloads, linked from it, their own).
    list: { onRequest: access.hooks('list') },
    // The index URL in install commands: --public-url, or the request's base as the JSON API
    // makes it (X-Forwarded-* only from --trust-proxy peers); a request without a usable base
    // gets the URL relative to the server root.
    indexBase: (request: FastifyRequest): string => {
      const url = baseUrlOf(request, options.urls)
      return url.ok ? url.base : '/'
    },
    notFound,
  }

  // /- itself: the pages' hrefs are relative to /-/, so it must end in a slash.
  app.get('', { ...ui.list, prefixTrailingSlash: 'no-slash' }, (request, reply) => redirect(request, reply, '-/'))
  registerCatalogRoutes(app, ui, catalog)
  registerProjectRoutes(app, ui)

  app.get<{ Params: { file: string } }>('/static/:file', ui.list, (request, reply) => {
    const file = assets.files.get(request.params.file)
    if (file === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('Not Found\n')
    // Hashed names never change content: cache for a year, never revalidate (RFC 8246). The
    // type comes from mime-types, as for downloads, not from @fastify/static's older table.
    return reply
      .type(assetContentType(file))
      .sendFile(file, { maxAge: 365 * 24 * 3600 * 1000, immutable: true, contentType: false })
  })

  app.get('/*', ui.list, (request, reply) => notFound(reply, relativeRoot(request.url), 'There is no such page.'))
}
