// The PyPI JSON API: /pypi/<project>/json and /pypi/<project>/<version>/json (+ trailing slash).
// With upstreams the name rule decides who answers, as for /simple/ (docs/upstream.md, "Pages").
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import type { ProjectSummary } from '../../core/index-model.js'
import { parseCoreMetadata } from '../../core/metadata.js'
import { normalizeProjectName } from '../../core/names.js'
import { NotFoundError } from '../../errors.js'
import type { ProjectSnapshot } from '../../live-index/index-service.js'
import { findListedRelease, listedReleases, renderListedPypiJson } from '../../render/pypi-json-listed.js'
import type { Resolution, UpstreamIndex } from '../../upstream/upstream-index.js'
import {
  findRelease,
  latestRelease,
  metadataSource,
  releasesOf,
  renderPypiJson,
  type Release,
} from '../../render/pypi-json.js'
import { JSON_API_ERRORS } from '../error-handler.js'
import { listedReleaseMetadata } from '../listed-release-metadata.js'
import { sendRepresentation } from '../page-response.js'
import { baseUrlOf } from '../public-base.js'
import { redirect } from '../replies.js'
import { encodeSegment, SIMPLE_TREE } from '../../render/trees.js'
import type { IndexRouteOptions } from './route-options.js'
import { listedFiles, resolvedGeneration, unavailable, withRetryAfter } from './upstream.js'

interface ProjectParams {
  project: string
}
interface VersionParams {
  project: string
  version: string
}
interface Wanted {
  readonly name: string
  readonly version: string | undefined
  readonly slash: '' | '/'
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
  wanted: Wanted,
): Promise<FastifyReply> {
  const { index, metadata, pages, upstream } = options
  let found: ProjectSnapshot | undefined
  if (upstream === undefined) found = await index.findProject(wanted.name)
  else {
    const resolution = await withRetryAfter(reply, upstream.resolve(wanted.name))
    if (resolution.kind === 'unavailable') throw unavailable(reply, resolution.offline)
    if (resolution.kind === 'merge' || resolution.kind === 'upstream')
      return sendListedJsonApi(request, reply, { options, upstream, resolution, wanted })
    found = resolution.kind === 'local' ? resolution.state : undefined
  }
  if (found === undefined) throw new NotFoundError()
  if (normalizeProjectName(wanted.name) !== wanted.name) return redirectToNormalized(request, reply, wanted, found)
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

// A non-normalized name is redirected, as PyPI does (Warehouse's legacy/api/json.py).
function redirectToNormalized(
  request: FastifyRequest,
  reply: FastifyReply,
  wanted: Wanted,
  found: ProjectSummary,
): FastifyReply {
  // Relative to the request's own path: up past "json" (and the version), then down again.
  const version = wanted.version === undefined ? '' : `${encodeSegment(wanted.version)}/`
  const up = '../'.repeat((wanted.version === undefined ? 1 : 2) + wanted.slash.length)
  return redirect(request, reply, `${up}${found.project}/${version}json${wanted.slash}`)
}

// A merged or upstream project: the files its /simple/ page lists, each with "_eggserve-origin",
// and `info` from the release's core metadata (a local file's, else the upstream's PEP 658 file:
// docs/upstream.md, "Release metadata").
async function sendListedJsonApi(
  request: FastifyRequest,
  reply: FastifyReply,
  input: {
    readonly options: IndexRouteOptions
    readonly upstream: UpstreamIndex
    readonly resolution: Extract<Resolution, { kind: 'merge' | 'upstream' }>
    readonly wanted: Wanted
  },
): Promise<FastifyReply> {
  const { options, upstream, resolution, wanted } = input
  const local = resolution.kind === 'merge' ? resolution.state : undefined
  const project = local?.project ?? resolution.view?.project ?? normalizeProjectName(wanted.name)
  const names: ProjectSummary = local ?? { folder: project, project }
  if (project !== wanted.name) return redirectToNormalized(request, reply, wanted, names)
  const files = await listedFiles(upstream, { project, local, view: resolution.view, tree: SIMPLE_TREE })
  const releases = listedReleases(files)
  const release = wanted.version === undefined ? latestRelease(releases) : findListedRelease(releases, wanted.version)
  if (release === undefined) throw new NotFoundError()
  const url = baseUrlOf(request, options.urls)
  if (!url.ok) return reply.code(400).type('text/plain; charset=utf-8').send(`Bad Request: ${url.reason}\n`)
  reply.header('eggserve-origin', resolution.kind === 'merge' ? 'merged' : 'upstream')
  const name =
    options.urls.publicUrl === undefined ? `${url.base}|${project}|${release.version}` : `${project}|${release.version}`
  const key = { section: 'pypi-upstream', name, variant: wanted.version === undefined ? 0 : 1 }
  return sendRepresentation(request, reply, options.pages, key, {
    generation: resolvedGeneration(upstream, resolution, { withMetadata: true }),
    lastModifiedMs: 0,
    contentType: 'application/json',
    render: async () => {
      const read = await listedReleaseMetadata({
        metadata: options.metadata,
        upstream,
        project,
        local,
        view: resolution.view,
        release,
      })
      return renderListedPypiJson({
        names,
        release,
        releases: wanted.version === undefined ? releases : undefined,
        metadata: read.kind === 'read' ? parseCoreMetadata(read.bytes) : undefined,
        urls: { base: url.base },
      })
    },
  })
}
