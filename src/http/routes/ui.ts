// The browse UI under /-/ (a prefix no project name can take: PEP 508 names start with a letter
// or digit). Server-rendered pages with a little progressive JavaScript; the pages pip and the
// other installers read are not touched (see src/http/ui/browser-home.ts for `/`).
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { ReadmeRenderer } from '../../readme/readme-renderer.js'
import { findRelease, latestRelease } from '../../render/pypi-json.js'
import { encodeSegment } from '../../render/trees.js'
import { renderHome, renderNotFound, renderSearch } from '../../render/ui/home.js'
import { renderProject } from '../../render/ui/project.js'
import { assetContentType } from '../content-type.js'
import { sendRepresentation } from '../page-response.js'
import { baseUrlOf } from '../public-base.js'
import { redirect } from '../replies.js'
import { ASSETS_DIR, loadAssets } from '../ui/assets.js'
import { Catalog } from '../ui/catalog.js'
import { projectView } from '../ui/project-view.js'
import { UpstreamProjectPages, type Found, type ListedPageRequest } from '../ui/upstream-pages.js'
import { ReleaseCache } from '../ui/releases.js'
import { contentSecurityPolicy, setSecurityHeaders } from '../ui/security-headers.js'
import type { UploaderRecord } from '../../upload/uploader-log.js'
import type { IndexRouteOptions } from './route-options.js'

/** Settings of the browse UI. */
export interface UiSettings {
  /** Show remote (http/https) images in READMEs (`--ui-remote-images`); off by default for air-gapped and privacy-minded sites. */
  readonly remoteImages?: boolean
  /** python3 that can import readme_renderer (default /usr/bin/python3). */
  readonly python?: string
  /** How long the project list is used before the tree is checked again (default 1 s). */
  readonly catalogTtlMs?: number
}

interface ProjectParams {
  project: string
}
interface VersionParams {
  project: string
  version: string
}

const PAGE_SIZE = 50
const SUGGESTIONS = 10
const SEARCH_RESULTS = 100
const MAX_QUERY = 100

/** The UI routes; registered under the prefix /-. */
export const uiRoutes: FastifyPluginAsync<
  IndexRouteOptions & { readonly ui: UiSettings; readonly uploaders: UploaderRecord }
> = async (app, options) => {
  const { index, metadata, pages, access, uploaders } = options
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
  })
  const context = {
    uploaders,
    metadata,
    readmes,
    assets: assets.names,
    showOrigin: options.upstream !== undefined,
  }
  const releaseCache = new ReleaseCache()
  app.addHook('onClose', () => readmes.close())
  // Assets are served by @fastify/static (ranges, validators), under hashed names.
  await app.register(fastifyStatic, { root: ASSETS_DIR, serve: false })
  // Every UI response (401s included) carries the security headers.
  app.addHook('onRequest', (_request, reply, done) => {
    setSecurityHeaders(reply, csp)
    done()
  })
  // When --authenticate protects listing, the UI needs the same credentials (and downloads, linked from it, their own).
  const list = { onRequest: access.hooks('list') }
  // The index URL in install commands: --public-url, or the request's base as the JSON API
  // makes it (X-Forwarded-* only from --trust-proxy peers); a request without a usable base
  // gets the URL relative to the server root.
  const indexBase = (request: FastifyRequest): string => {
    const url = baseUrlOf(request, options.urls)
    return url.ok ? url.base : '/'
  }

  // /- itself: the pages' hrefs are relative to /-/, so it must end in a slash.
  app.get('', { ...list, prefixTrailingSlash: 'no-slash' }, (request, reply) => redirect(request, reply, '-/'))

  app.get('/', { ...list, prefixTrailingSlash: 'slash' }, async (request, reply) => {
    await catalog.refresh()
    const sort = queryString(request.query, 'sort') === 'updated' ? 'updated' : 'name'
    const pageCount = Math.max(1, Math.ceil(catalog.list(sort, 0, 0).total / PAGE_SIZE))
    const page = Math.min(pageCount, Math.max(1, Number.parseInt(queryString(request.query, 'page') ?? '1', 10) || 1))
    const base = indexBase(request)
    return sendRepresentation(
      request,
      reply,
      pages,
      { section: `ui-home|${base}`, name: `${sort}|${page}`, variant: 0 },
      {
        generation: catalog.version,
        lastModifiedMs: 0,
        contentType: 'text/html; charset=utf-8',
        render: () => {
          const { total, rows } = catalog.list(sort, (page - 1) * PAGE_SIZE, PAGE_SIZE)
          return Promise.resolve(
            renderHome({
              assets: assets.names,
              indexUrl: `${base}simple/`,
              total,
              rows,
              page,
              pages: pageCount,
              sort,
              recent: catalog.recent(),
              loading: catalog.loading,
            }),
          )
        },
      },
    )
  })

  app.get('/search', list, async (request, reply) => {
    await catalog.refresh()
    const query = (queryString(request.query, 'q') ?? '').slice(0, MAX_QUERY)
    const found = catalog.search(query, SEARCH_RESULTS)
    return reply
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(renderSearch({ assets: assets.names, query, rows: found.rows, total: found.total }))
  })

  // The search-as-you-type endpoint of ui.js. URLs are relative to the UI root.
  app.get('/api/search', list, async (request, reply) => {
    await catalog.refresh()
    const query = (queryString(request.query, 'q') ?? '').slice(0, MAX_QUERY)
    const found = catalog.search(query, SUGGESTIONS)
    const results = found.rows.map((row) => ({
      name: row.folder,
      project: row.project,
      version: row.version ?? null,
      summary: row.summary ?? null,
      url: `project/${encodeSegment(row.project)}/`,
    }))
    return reply
      .header('cache-control', 'no-store')
      .type('application/json')
      .send(JSON.stringify({ query, total: found.total, results }))
  })

  app.get<{ Params: { file: string } }>('/static/:file', list, (request, reply) => {
    const file = assets.files.get(request.params.file)
    if (file === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('Not Found\n')
    // Hashed names never change content: cache for a year, never revalidate (RFC 8246). The
    // type comes from mime-types, as for downloads, not from @fastify/static's older table.
    return reply
      .type(assetContentType(file))
      .sendFile(file, { maxAge: 365 * 24 * 3600 * 1000, immutable: true, contentType: false })
  })

  // With upstreams the name rule decides who answers, as on /simple/ (docs/ui.md, "Upstream projects").
  const upstreamPages =
    options.upstream === undefined
      ? undefined
      : new UpstreamProjectPages({ upstream: options.upstream, context, pages, notFound })
  const find = async (name: string): Promise<Found> => {
    if (upstreamPages !== undefined) return upstreamPages.find(name)
    const state = await index.findProject(name)
    return state === undefined ? { kind: 'not-found' } : { kind: 'local', state }
  }
  // The answer for a name the eggdir does not answer alone: an upstream or merged project's
  // page, a 503 when its upstream cannot be asked, else a 404.
  const notLocal = (
    found: Exclude<Found, { kind: 'local' }>,
    page: ListedPageRequest,
  ): FastifyReply | Promise<FastifyReply> => {
    if (upstreamPages === undefined || found.kind === 'not-found')
      return notFound(page.reply, page.root, `No project is called “${page.name}” on this index.`)
    return found.kind === 'listed' ? upstreamPages.send(found, page) : upstreamPages.unavailable(page, found.offline)
  }

  app.get<{ Params: ProjectParams }>('/project/:project', list, async (request, reply) => {
    const found = await find(request.params.project)
    if (found.kind === 'not-found')
      return notFound(reply, '../', `No project is called “${request.params.project}” on this index.`)
    if (found.kind === 'unavailable') return redirect(request, reply, `${encodeSegment(request.params.project)}/`)
    return redirect(request, reply, `${found.kind === 'local' ? found.state.project : found.project}/`)
  })

  app.get<{ Params: ProjectParams }>('/project/:project/', list, async (request, reply) => {
    const { project } = request.params
    const all = queryString(request.query, 'releases') === 'all'
    const base = indexBase(request)
    const lookup = await find(project)
    if (lookup.kind !== 'local')
      return notLocal(lookup, {
        request,
        reply,
        root: '../../',
        name: project,
        version: undefined,
        all,
        indexUrl: `${base}simple/`,
      })
    const found = lookup.state
    if (found.project !== project) return redirect(request, reply, `../${found.project}/`)
    return sendRepresentation(
      request,
      reply,
      pages,
      { section: `ui|${base}`, name: found.project, variant: all ? 1 : 0 },
      {
        generation: found.generation,
        lastModifiedMs: found.lastModifiedMs,
        contentType: 'text/html; charset=utf-8',
        render: async () => {
          const page = await index.analyzedPage(found)
          const releases = releaseCache.releases(page, found.generation)
          const release = latestRelease(releases)
          if (release === undefined) return renderNotFound(assets.names, '../../', `“${project}” has no files.`)
          return renderProject(
            await projectView(context, {
              page,
              releases,
              release,
              root: '../../',
              indexUrl: `${base}simple/`,
              allReleases: all,
            }),
          )
        },
      },
    )
  })

  app.get<{ Params: VersionParams }>('/project/:project/:version', list, (request, reply) =>
    redirect(request, reply, `${encodeSegment(request.params.version)}/`),
  )

  app.get<{ Params: VersionParams }>('/project/:project/:version/', list, async (request, reply) => {
    const { project, version } = request.params
    const base = indexBase(request)
    const lookup = await find(project)
    if (lookup.kind !== 'local')
      return notLocal(lookup, {
        request,
        reply,
        root: '../../../',
        name: project,
        version,
        all: false,
        indexUrl: `${base}simple/`,
      })
    const found = lookup.state
    const page = await index.analyzedPage(found)
    const releases = releaseCache.releases(page, found.generation)
    const release = findRelease(releases, version)
    if (release === undefined) return notFound(reply, '../../../', `${found.project} has no version “${version}”.`)
    if (found.project !== project || release.version !== version) {
      return redirect(request, reply, `../../${found.project}/${encodeSegment(release.version)}/`)
    }
    return sendRepresentation(
      request,
      reply,
      pages,
      { section: `ui|${base}`, name: `${found.project}|${release.version}`, variant: 0 },
      {
        generation: found.generation,
        lastModifiedMs: found.lastModifiedMs,
        contentType: 'text/html; charset=utf-8',
        render: async () =>
          renderProject(
            await projectView(context, {
              page,
              releases,
              release,
              root: '../../../',
              indexUrl: `${base}simple/`,
              allReleases: false,
            }),
          ),
      },
    )
  })

  app.get('/*', list, (request, reply) => notFound(reply, relativeRoot(request.url), 'There is no such page.'))

  function notFound(reply: FastifyReply, root: string, message: string): FastifyReply {
    return reply
      .code(404)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(renderNotFound(assets.names, root, message))
  }
}

/** The query parameter `name` when given once as a string. */
function queryString(query: unknown, name: string): string | undefined {
  if (typeof query !== 'object' || query === null || !(name in query)) return undefined
  const value: unknown = (query as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : undefined
}

// From /-/a/b/c back to /-/: one "../" per segment after the prefix.
function relativeRoot(url: string): string {
  const path = url.split('?')[0] ?? ''
  const segments = path.slice('/-/'.length).split('/').length - 1
  return '../'.repeat(Math.max(0, segments))
}
