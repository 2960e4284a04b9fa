// Project pages of both trees when upstreams are configured (the name rule decides who answers),
// and the upstream files under /files/upstream/<project>/<file> (and /<project>/<file>).
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import { metadataFacts } from '../../core/metadata-facts.js'
import { normalizeProjectName } from '../../core/names.js'
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
import { CooldownError, UpstreamFailure } from '../../upstream/upstream-errors.js'
import type { ProjectSnapshot } from '../../live-index/index-service.js'
import type { Resolution, UpstreamIndex, UpstreamView } from '../../upstream/upstream-index.js'
import { coreMetadataFile, pinnedOtherBytes } from '../../core/upstream-file-rules.js'
import { sendMetadataBytes } from '../metadata-response.js'
import { sendPage } from '../page-response.js'
import { redirect } from '../replies.js'
import { encodeSegment, type Tree } from '../../render/trees.js'
import type { IndexRouteOptions } from './route-options.js'
import { sendProjectPage, type TreePages } from './tree-pages.js'

const METADATA_SUFFIX = '.metadata'

/**
 * Answer /simple/<name>/ or /<name>/ through the name rule: the local page, an upstream's, or
 * both merged. When the name rule can be applied from memory (UpstreamIndex.resolveNow) and the
 * page is cached, it is sent at once, without a promise, as a local page is without upstreams.
 */
export function sendResolvedProject(
  request: FastifyRequest,
  reply: FastifyReply,
  pages: TreePages,
  upstream: UpstreamIndex,
  name: string,
): FastifyReply | Promise<FastifyReply> {
  const now = upstream.resolveNow(name)
  if (now !== undefined) return sendResolution(request, reply, { pages, upstream, name }, now)
  return withRetryAfter(reply, upstream.resolve(name)).then((resolution) =>
    sendResolution(request, reply, { pages, upstream, name }, resolution),
  )
}

function sendResolution(
  request: FastifyRequest,
  reply: FastifyReply,
  { pages, upstream, name }: { readonly pages: TreePages; readonly upstream: UpstreamIndex; readonly name: string },
  resolution: Resolution,
): FastifyReply | Promise<FastifyReply> {
  switch (resolution.kind) {
    case 'not-found':
      throw new NotFoundError()
    case 'unavailable':
      throw unavailable(reply, resolution.offline)
    case 'local': {
      // PEP 503: the normalized URL (the original tree: the folder's name).
      const page = pages.tree.pageName(resolution.state)
      if (page !== name) return redirect(request, reply, `../${encodeSegment(page)}/`)
      return sendProjectPage(request, reply, pages, resolution.state)
    }
    case 'merge':
    case 'upstream': {
      const project = resolution.kind === 'merge' ? resolution.state.project : resolution.view.project
      // An upstream-only project has no folder: both trees find it under its normalized name.
      const page = resolution.kind === 'merge' ? pages.tree.pageName(resolution.state) : project
      if (page !== name) return redirect(request, reply, `../${encodeSegment(page)}/`)
      const view = resolution.view
      reply.header('eggserve-origin', resolution.kind === 'merge' ? 'merged' : 'upstream')
      if (view !== undefined) setFreshnessHeaders(reply, view)
      const version = resolvedGeneration(upstream, resolution)
      return sendPage(
        request,
        reply,
        pages.options.pages,
        { section: pages.upstreamSection, name: project },
        { generation: version, lastModifiedMs: 0 },
        async (type: SimpleMediaType) => {
          const files = await listedFiles(upstream, {
            project,
            local: resolution.kind === 'merge' ? resolution.state : undefined,
            view,
            tree: pages.tree,
          })
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

/** The files of a merged or upstream project as its pages list them, with hrefs of `tree`. */
export async function listedFiles(
  upstream: UpstreamIndex,
  options: {
    readonly project: string
    readonly local: ProjectSnapshot | undefined
    readonly view: UpstreamView | undefined
    readonly tree: Tree
  },
): Promise<ListedFile[]> {
  const { project, local, view, tree } = options
  const listed: ListedFile[] = []
  if (local !== undefined) {
    const page = await upstream.local.analyzedPage(local)
    for (const file of page.files) listed.push(listLocalFile(file, tree))
  }
  if (view === undefined) return listed
  const localNames = new Set(listed.map((file) => file.filename))
  // Direct downloads: clients fetch from the upstream, so its URLs and hashes are listed. Offline,
  // the cached files are listed at their local URLs instead (they can be served; the upstream
  // is presumed unreachable).
  const direct = view.upstream.directDownloads && !view.upstream.offline
  const pins = await upstream.files.pinned(project)
  for (const file of view.page.files) {
    // A local file wins a filename both have; offline, only what can be served is listed.
    if (localNames.has(file.filename) || (view.upstream.offline && !pins.has(file.filename))) continue
    const cached = pins.get(file.filename)
    // Another hash than the pinned one: logged; with --upstream-hash-change follow the cached
    // file is dropped and the page's hash listed (the next request fetches those bytes).
    const pin = cached !== undefined && (await upstream.files.hashChanged(project, file)) ? undefined : cached
    // Pinned bytes the upstream now describes otherwise: even with direct downloads the file is
    // listed at its local URL with the pinned hash, so clients install the bytes the cache keeps
    // (cached files are immutable: docs/upstream.md, "Files"), never the upstream's new ones.
    const conflict = pinnedOtherBytes(file, pin)
    listed.push(
      listUpstreamFile(project, file, {
        pinnedSha256: direct && !conflict ? undefined : pin,
        tree,
        direct: direct && !conflict,
        ...(conflict && file.coreMetadata !== undefined
          ? { coreMetadata: await pinnedCoreMetadata(upstream, project, file.filename) }
          : {}),
      }),
    )
  }
  return listed
}

// PEP 658/714: the upstream's `core-metadata` of a pinned file whose hash it changed describes
// the new bytes, so pip would check the metadata against the wrong hash, or resolve with
// metadata of bytes it is not given. Listed instead: the sha256 of the pinned file's own
// METADATA (what `<file>.metadata` then serves: sendUpstreamFile), else none (pip reads the
// METADATA from the wheel it downloads).
async function pinnedCoreMetadata(
  upstream: UpstreamIndex,
  project: string,
  filename: string,
): Promise<{ sha256: string } | 'none'> {
  const pinned = await upstream.metadata.ofPinnedFile(project, filename)
  return pinned === undefined ? 'none' : { sha256: metadataFacts(pinned.bytes).sha256 }
}

/** The generation of a merged or upstream project's documents: new whenever the local files, the upstream page or the cached files change. */
export function resolvedGeneration(
  upstream: UpstreamIndex,
  resolution: Extract<Resolution, { kind: 'merge' | 'upstream' }>,
  /** Documents showing release metadata: also new while a failed metadata fetch may be retried. */
  options: { readonly withMetadata?: boolean } = {},
): number {
  const project = resolution.kind === 'merge' ? resolution.state.project : resolution.view.project
  const localGeneration = resolution.kind === 'merge' ? resolution.state.generation : 0
  const retry = options.withMetadata === true ? upstream.metadata.retryEpoch(project) : 0
  const files = upstream.files.version(project)
  const view = resolution.view
  // The last generation of each view, so a request for an unchanged page builds no key.
  const known = view === undefined ? undefined : lastGenerations.get(view)
  if (
    known?.kind === resolution.kind &&
    known.files === files &&
    known.localGeneration === localGeneration &&
    known.retry === retry
  )
    return known.generation
  const generation = versionOf(
    `${resolution.kind}:${String(view?.version ?? 0)}:${String(files)}:${String(localGeneration)}:${String(retry)}`,
  )
  if (view !== undefined)
    lastGenerations.set(view, { kind: resolution.kind, files, localGeneration, retry, generation })
  return generation
}

const lastGenerations = new WeakMap<
  UpstreamView,
  {
    readonly kind: Resolution['kind']
    readonly files: number
    readonly localGeneration: number
    readonly retry: number
    readonly generation: number
  }
>()

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

/** The 503 of a name whose upstream cannot be asked (or offline, not cached), its headers set on `reply`. */
export function unavailable(reply: FastifyReply, offline: boolean): UpstreamFailure {
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

/** Await `work`; an UpstreamFailure's headers (Retry-After) go on `reply` before it is thrown on. */
export async function withRetryAfter<T>(reply: FastifyReply, work: Promise<T>): Promise<T> {
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
      return sendUpstreamFile(request, reply, { upstream, filesCacheControl }, { project, file })
    },
  })
  done()
}

/**
 * Send an upstream file (or its PEP 658 metadata) of `project`, a normalized name the name
 * rule lets reach an upstream: from the cache, else downloaded and verified on the way.
 */
export async function sendUpstreamFile(
  request: FastifyRequest,
  reply: FastifyReply,
  options: { readonly upstream: UpstreamIndex; readonly filesCacheControl: string | undefined },
  { project, file }: FileParams,
): Promise<FastifyReply> {
  const { upstream, filesCacheControl } = options
  if (filesCacheControl !== undefined) reply.header('cache-control', filesCacheControl)
  // Under --upstream-cache-max, a file being sent is not evicted until the response is over.
  reply.raw.once('close', upstream.files.use(project, file))
  if (file.endsWith(METADATA_SUFFIX)) {
    const pinned = await pinnedFileMetadata(upstream, project, withoutMetadataSuffix(file))
    // Dated by the pinned file it is read from, as a local wheel's `.metadata` is.
    if (pinned !== undefined) return sendMetadataBytes(request, reply, pinned.bytes, pinned.mtimeMs)
  }
  // A cached file is immutable: served without asking anyone (also offline, or with the
  // upstream down), unless the cooldown still holds it back, or --upstream-hash-change follow
  // and the (cached or fresh) page changed its hash.
  if ((await upstream.files.lookup(project, file)) && !(await followedHashChange(upstream, project, file))) {
    const held = await upstream.heldInCache(project, withoutMetadataSuffix(file))
    if (held !== undefined) throw new CooldownError(held)
    try {
      return await sendDistribution(request, reply, {
        files: await upstream.files.cachedStorage(),
        key: `${project}/${file}`,
        filename: file,
      })
    } catch (err) {
      // Removed behind this server's back (another process's cap, by hand): fetched again below.
      if (!(err instanceof NotFoundError)) throw err
      upstream.files.vanished(project, file)
    }
  }
  const target = await withRetryAfter(reply, findFile(upstream, project, file))
  if (target === undefined) throw new NotFoundError()
  if ('unavailable' in target) throw unavailable(reply, target.offline)
  if ('held' in target) throw new CooldownError(target.held)
  const download = await withRetryAfter(
    reply,
    upstream.files.fetch({ project, file: target.file, upstream: target.view.upstream }),
  )
  // The first download: no Range, no validators yet (the file has no identity until it is
  // verified and kept); a failure cuts the body short (see Download).
  reply.type(contentTypeFor(file))
  if (download.length !== undefined) reply.header('content-length', download.length)
  if (request.method === 'HEAD') return reply.send()
  // The response as the reader's sink: a client behind the head reads the part file into two
  // buffers of its own, reused once the response took them (src/upstream/read-buffers.ts).
  return reply.send(download.reader(reply.raw))
}

// The `.metadata` of a pinned file the cached page lists with another sha256 (under
// --upstream-hash-change pin): its own METADATA, as its pages list it (pinnedCoreMetadata);
// never the upstream's, which describes the new bytes. Undefined for any other file.
async function pinnedFileMetadata(
  upstream: UpstreamIndex,
  project: string,
  filename: string,
): Promise<{ readonly bytes: Buffer; readonly mtimeMs: number } | undefined> {
  if (upstream.files.hashChange !== 'pin') return undefined
  const pin = await upstream.files.pinOf(project, filename)
  const listed = pin === undefined ? undefined : await upstream.cachedPageFile(project, filename)
  if (listed === undefined || !pinnedOtherBytes(listed, pin)) return undefined
  // Read from the cached file, so counted as a file cache hit (or a miss, if it just went) as
  // every other request for a cached file is (docs/metrics.md).
  if (!(await upstream.files.lookup(project, filename))) throw new NotFoundError()
  const held = await upstream.heldInCache(project, filename)
  if (held !== undefined) throw new CooldownError(held)
  const pinned = await upstream.metadata.ofPinnedFile(project, filename)
  // Listed without core-metadata then: nothing to serve (the upstream's would be wrong).
  if (pinned === undefined) throw new NotFoundError()
  return pinned
}

// With --upstream-hash-change follow: true when the page now gives the cached file another
// sha256 (the cached file was dropped). A page that cannot be had leaves the cached file served.
async function followedHashChange(upstream: UpstreamIndex, project: string, filename: string): Promise<boolean> {
  if (upstream.files.hashChange !== 'follow') return false
  const target = await findFile(upstream, project, filename).catch(() => undefined)
  return target !== undefined && 'file' in target && (await upstream.files.hashChanged(project, target.file))
}

type FoundFile = Awaited<ReturnType<UpstreamIndex['file']>>

async function findFile(upstream: UpstreamIndex, project: string, filename: string): Promise<FoundFile> {
  const direct = await upstream.file(project, filename)
  if (direct !== undefined || !filename.endsWith(METADATA_SUFFIX)) return direct
  // PEP 658: <file URL>.metadata, for a file whose page entry says it exists (and held with it).
  const base = await upstream.file(project, withoutMetadataSuffix(filename))
  if (base === undefined || !('file' in base)) return base
  const metadata = coreMetadataFile(base.file)
  return metadata === undefined ? undefined : { view: base.view, file: metadata }
}

function withoutMetadataSuffix(filename: string): string {
  return filename.endsWith(METADATA_SUFFIX) ? filename.slice(0, -METADATA_SUFFIX.length) : filename
}
