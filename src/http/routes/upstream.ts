// /simple/<project>/ when upstreams are configured (the name rule decides who answers), and
// the upstream files under /files/upstream/<project>/<file>.
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import { normalizeProjectName } from '../../core/names.js'
import type { UpstreamFile } from '../../core/upstream-page.js'
import { V1_JSON, type SimpleMediaType } from '../../core/negotiation.js'
import {
  listLocalFile,
  listUpstreamFile,
  renderListedHtml,
  renderListedJson,
  type ListedFile,
} from '../../render/listed-files.js'
import { NotFoundError } from '../../errors.js'
import { contentTypeFor } from '../content-type.js'
import { sendDistribution } from '../download.js'
import { UpstreamFailure } from '../../upstream/upstream-errors.js'
import type { ProjectSnapshot } from '../../live-index/index-service.js'
import type { UpstreamIndex, UpstreamView } from '../../upstream/upstream-index.js'
import { sendPage } from '../page-response.js'
import { redirect } from '../replies.js'
import type { IndexRouteOptions } from './route-options.js'
import { sendProjectPage, type TreePages } from './tree-pages.js'

const METADATA_SUFFIX = '.metadata'

/** Answer /simple/<name>/ through the name rule: the local page, an upstream's, or both merged. */
export async function sendResolvedProject(
  request: FastifyRequest,
  reply: FastifyReply,
  pages: TreePages,
  upstream: UpstreamIndex,
  name: string,
): Promise<FastifyReply> {
  const resolution = await withRetryAfter(reply, upstream.resolve(name))
  switch (resolution.kind) {
    case 'not-found':
      throw new NotFoundError()
    case 'unavailable':
      throw unavailable(reply, resolution.offline)
    case 'local':
      // PEP 503: the normalized URL.
      if (resolution.state.project !== name) return redirect(request, reply, `../${resolution.state.project}/`)
      return sendProjectPage(request, reply, pages, resolution.state)
    case 'merge':
    case 'upstream': {
      const project = resolution.kind === 'merge' ? resolution.state.project : resolution.view.project
      if (project !== name) return redirect(request, reply, `../${project}/`)
      const view = resolution.view
      reply.header('eggserve-origin', resolution.kind === 'merge' ? 'merged' : 'upstream')
      if (view !== undefined) setFreshnessHeaders(reply, view)
      const localGeneration = resolution.kind === 'merge' ? resolution.state.generation : 0
      const version = versionOf(
        `${resolution.kind}:${String(view?.version ?? 0)}:${String(upstream.files.version(project))}:${String(localGeneration)}`,
      )
      return sendPage(
        request,
        reply,
        pages.options.pages,
        { section: `upstream-${pages.section}`, name: project },
        { generation: version, lastModifiedMs: 0 },
        async (type: SimpleMediaType) => {
          const files = await listedFiles(
            upstream,
            project,
            resolution.kind === 'merge' ? resolution.state : undefined,
            view,
          )
          return type === V1_JSON
            ? renderListedJson(project, files)
            : renderListedHtml(project, files, pages.hashAlgorithm)
        },
      )
    }
  }
}

// Stale answers say so (RFC 9111 §5.1 Age; RFC 9111 dropped Warning 110, so a header of our own).
function setFreshnessHeaders(reply: FastifyReply, view: UpstreamView): void {
  const age = Math.max(0, Math.floor((Date.now() - view.fetchedAt) / 1000))
  reply.header('age', String(age))
  if (view.stale) reply.header('eggserve-stale', String(age))
}

async function listedFiles(
  upstream: UpstreamIndex,
  project: string,
  local: ProjectSnapshot | undefined,
  view: UpstreamView | undefined,
): Promise<ListedFile[]> {
  const listed: ListedFile[] = []
  if (local !== undefined) {
    const page = await upstream.local.analyzedPage(local)
    for (const file of page.files) listed.push(listLocalFile(file))
  }
  if (view === undefined) return listed
  const localNames = new Set(listed.map((file) => file.filename))
  const pins = await upstream.files.pinned(project)
  for (const file of view.page.files) {
    // A local file wins a filename both have; offline, only what can be served is listed.
    if (localNames.has(file.filename) || (upstream.offline && !pins.has(file.filename))) continue
    listed.push(listUpstreamFile(project, file, pins.get(file.filename)))
  }
  return listed
}

// Rendered pages are cached by a number; each distinct combination of versions gets its own.
const versions = new Map<string, number>()
let nextVersion = 1
function versionOf(key: string): number {
  let version = versions.get(key)
  if (version === undefined) {
    // Numbers are never reused, so forgetting old combinations only costs a render.
    if (versions.size > 10_000) versions.clear()
    version = nextVersion++
    versions.set(key, version)
  }
  return version
}

function unavailable(reply: FastifyReply, offline: boolean): UpstreamFailure {
  const failure = offline
    ? new UpstreamFailure('EGGSERVE_UPSTREAM_OFFLINE', 'Offline, and this project is not in the cache')
    : // PEP 766: a 503, never a 404, so the client does not go on to another index.
      new UpstreamFailure(
        'EGGSERVE_UPSTREAM_UNAVAILABLE',
        'The upstream index cannot be reached and this project is not in the cache',
      )
  reply.headers(failure.headers)
  return failure
}

async function withRetryAfter<T>(reply: FastifyReply, work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (err) {
    if (err instanceof UpstreamFailure) reply.headers(err.headers)
    throw err
  }
}

interface FileParams {
  project: string
  file: string
}

/** GET and HEAD of upstream files (and their PEP 658 metadata). */
export const upstreamFileRoutes: FastifyPluginCallback<IndexRouteOptions & { upstream: UpstreamIndex }> = (
  app,
  options,
  done,
) => {
  const { upstream, filesCacheControl } = options
  app.route<{ Params: FileParams }>({
    method: ['GET', 'HEAD'],
    url: '/files/upstream/:project/:file',
    onRequest: options.access.hooks('download'),
    handler: async (request, reply) => {
      const { project, file } = request.params
      if (normalizeProjectName(project) !== project || !(await upstream.reachesUpstream(project)))
        throw new NotFoundError()
      if (filesCacheControl !== undefined) reply.header('cache-control', filesCacheControl)
      // A cached file is immutable: served without asking anyone (also offline, or with the upstream down).
      if (await upstream.files.lookup(project, file))
        return sendDistribution(request, reply, {
          files: await upstream.files.cachedStorage(),
          key: `${project}/${file}`,
          filename: file,
        })
      const target = await withRetryAfter(reply, findFile(upstream, project, file))
      if (target === 'unavailable') throw unavailable(reply, upstream.offline)
      if (target === undefined) throw new NotFoundError()
      const download = await withRetryAfter(
        reply,
        upstream.files.fetch({ project, file: target.file, upstream: target.view.upstream }),
      )
      // The first download: no Range, no validators yet (the file has no identity until it is
      // verified and kept); a failure cuts the body short (see Download).
      reply.type(contentTypeFor(file))
      if (download.length !== undefined) reply.header('content-length', download.length)
      if (request.method === 'HEAD') return reply.send()
      return reply.send(download.reader())
    },
  })
  done()
}

async function findFile(
  upstream: UpstreamIndex,
  project: string,
  filename: string,
): Promise<{ view: UpstreamView; file: UpstreamFile } | 'unavailable' | undefined> {
  const direct = await upstream.file(project, filename)
  if (direct !== undefined) return 'unavailable' in direct ? 'unavailable' : direct
  if (!filename.endsWith(METADATA_SUFFIX)) return undefined
  // PEP 658: <file URL>.metadata, for a file whose page entry says it exists.
  const base = await upstream.file(project, filename.slice(0, -METADATA_SUFFIX.length))
  if (base === undefined || 'unavailable' in base) return base === undefined ? undefined : 'unavailable'
  const metadata = base.file.coreMetadata
  if (metadata === undefined) return undefined
  return {
    view: base.view,
    file: { filename, url: `${base.file.url}${METADATA_SUFFIX}`, hashes: metadata === true ? {} : metadata },
  }
}
