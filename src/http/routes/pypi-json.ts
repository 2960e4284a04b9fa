// The PyPI JSON API: /pypi/<project>/json and /pypi/<project>/<version>/json (+ trailing slash).
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import { parseCoreMetadata } from '../../core/metadata.js'
import { normalizeProjectName } from '../../core/names.js'
import { NotFoundError } from '../../errors.js'
import {
  findRelease,
  latestRelease,
  metadataSource,
  releasesOf,
  renderPypiJson,
  type Release,
} from '../../render/pypi-json.js'
import { JSON_API_ERRORS } from '../error-handler.js'
import { sendRepresentation } from '../page-response.js'
import { baseUrlOf } from '../public-base.js'
import { redirect } from '../replies.js'
import { encodeSegment } from '../../render/trees.js'
import type { IndexRouteOptions } from './route-options.js'

interface ProjectParams {
  project: string
}
interface VersionParams {
  project: string
  version: string
}

/** Routes of the PyPI JSON API. */
export const pypiJsonRoutes: FastifyPluginCallback<IndexRouteOptions> = (app, options, done) => {
  // An unknown project or version is a NotFoundError like everywhere; the error handler answers it in JSON here.
  const list = { onRequest: options.access.hooks('list'), config: JSON_API_ERRORS }
  for (const slash of ['', '/'] as const) {
    app.get<{ Params: ProjectParams }>(`/pypi/:project/json${slash}`, list, (request, reply) =>
      sendJsonApi(request, reply, options, { name: request.params.project, version: undefined, slash }),
    )
    app.get<{ Params: VersionParams }>(`/pypi/:project/:version/json${slash}`, list, (request, reply) =>
      sendJsonApi(request, reply, options, { name: request.params.project, version: request.params.version, slash }),
    )
  }
  done()
}

async function sendJsonApi(
  request: FastifyRequest,
  reply: FastifyReply,
  options: IndexRouteOptions,
  wanted: { name: string; version: string | undefined; slash: '' | '/' },
): Promise<FastifyReply> {
  const { index, metadata, pages } = options
  const found = await index.findProject(wanted.name)
  if (found === undefined) throw new NotFoundError()
  // A non-normalized name is redirected, as PyPI does (Warehouse's legacy/api/json.py).
  if (normalizeProjectName(wanted.name) !== wanted.name) {
    // Relative to the request's own path: up past "json" (and the version), then down again.
    const version = wanted.version === undefined ? '' : `${encodeSegment(wanted.version)}/`
    const up = '../'.repeat((wanted.version === undefined ? 1 : 2) + wanted.slash.length)
    return redirect(request, reply, `${up}${found.project}/${version}json${wanted.slash}`)
  }
  const page = await index.analyzedPage(found)
  const releases = releasesOf(page)
  const release: Release | undefined =
    wanted.version === undefined ? latestRelease(releases) : findRelease(releases, wanted.version)
  if (release === undefined) throw new NotFoundError()
  const source = metadataSource(release)
  const url = baseUrlOf(request, options.urls)
  if (!url.ok) return reply.code(400).type('text/plain; charset=utf-8').send(`Bad Request: ${url.reason}\n`)
  // URLs in this API are absolute. With --public-url the document is the same for every
  // request; else it depends on the base the request gives (the page cache is bounded by bytes,
  // so however many bases clients make up, it stays within its budget).
  const name =
    options.urls.publicUrl === undefined
      ? `${url.base}|${found.project}|${release.version}`
      : `${found.project}|${release.version}`
  const key = { section: 'pypi', name, variant: wanted.version === undefined ? 0 : 1 }
  return sendRepresentation(request, reply, pages, key, {
    generation: found.generation,
    lastModifiedMs: found.lastModifiedMs,
    contentType: 'application/json',
    render: async () => {
      const read = source === undefined ? undefined : await metadata.read(source)
      return renderPypiJson({
        page,
        release,
        releases: wanted.version === undefined ? releases : undefined,
        metadata: read === undefined ? undefined : parseCoreMetadata(read.bytes),
        urls: { base: url.base },
      })
    },
  })
}
