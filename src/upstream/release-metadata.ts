// Core metadata of upstream releases, for the PyPI JSON API's `info` and the browse UI's
// project pages (docs/upstream.md, "Release metadata"). One file speaks for its release, as for
// local projects (a wheel, else an sdist, else an egg), and the cheapest source wins: a cached
// PEP 658 `<file>.metadata`, else a cached distribution read with the archive readers (through
// the live index's metadata store), else `<file>.metadata` fetched through the file cache, when
// the upstream's page announces one (PEP 658 / PEP 714 `core-metadata`) and the upstream may be
// asked now. A whole distribution is never downloaded just for its metadata.
import type { FastifyBaseLogger } from 'fastify'
import { parseDistFilename } from '../core/filenames.js'
import type { DistFile } from '../core/index-model.js'
import type { UpstreamFile } from '../core/upstream-page.js'
import { CoreMetadataStore } from '../live-index/metadata-store.js'
import type { BreakerState } from './circuit-breaker.js'
import { coreMetadataFile, pinnedOtherBytes } from '../core/upstream-file-rules.js'
import type { UpstreamFiles } from './file-cache.js'
import type { UpstreamSettings } from './upstream-settings.js'

/** Why an upstream release has no metadata to show. */
export type NoMetadataReason =
  /** The upstream's page announces no `.metadata` for any file of it, and none of them is cached. */
  | 'not-offered'
  /** Offline (`--offline`, or the upstream's own setting), and its metadata is not cached. */
  | 'offline'
  /** The upstream cannot be asked now (its breaker is open, its page is served stale) or the fetch failed. */
  | 'unavailable'

/** The metadata of an upstream release, or why there is none. */
export type ReleaseMetadata =
  | {
      readonly kind: 'read'
      /** The exact core metadata bytes. */
      readonly bytes: Buffer
      /** Names these bytes for the README cache: a cached file's identity, or the `.metadata` file's pinned sha256. */
      readonly identity: string
    }
  | { readonly kind: 'none'; readonly reason: NoMetadataReason }

/** One release of an upstream project, as its page lists it. */
export interface UpstreamRelease {
  /** The normalized project name (its folder in the file cache). */
  readonly project: string
  /** The release's files on the upstream's page (the cooldown already applied). */
  readonly files: readonly UpstreamFile[]
  readonly upstream: UpstreamSettings
  /** The page is served stale because the upstream failed: it is not asked again for metadata. */
  readonly stale: boolean
}

// Wheels first: their METADATA is what installers read; then sdists (PKG-INFO), then eggs.
const KIND_ORDER = ['wheel', 'sdist', 'egg']
// The archive readers' cap on a metadata member (src/archives/metadata-read.ts): a `.metadata`
// file bigger than that is not read either.
const MAX_METADATA_BYTES = 10 * 1024 * 1024
/** How long a release whose metadata could not be fetched waits before its pages try again. */
export const METADATA_RETRY_MS = 30_000

/** Reads (and on a miss fetches) the core metadata of upstream releases. */
export class UpstreamReleaseMetadata {
  readonly #files: UpstreamFiles
  readonly #offline: boolean
  readonly #breakerState: (label: string) => BreakerState | undefined
  readonly #log: FastifyBaseLogger
  readonly #now: () => number
  /** Concurrent readers of one release share one read (and so at most one upstream request). */
  readonly #inFlight = new Map<string, Promise<ReleaseMetadata>>()
  /** Projects whose last fetch failed, and when. */
  readonly #failedAt = new Map<string, number>()
  /** Reads metadata from cached distributions (created with the cache's storage). */
  #archives: CoreMetadataStore | undefined

  constructor(options: {
    files: UpstreamFiles
    offline: boolean
    breakerState: (label: string) => BreakerState | undefined
    log: FastifyBaseLogger
    now?: () => number
  }) {
    this.#files = options.files
    this.#offline = options.offline
    this.#breakerState = options.breakerState
    this.#log = options.log.child({ component: 'upstream-metadata' })
    this.#now = options.now ?? Date.now
  }

  /**
   * A number for the cache key of pages showing metadata of `project`: 0 normally; while its
   * last fetch failed, it changes every METADATA_RETRY_MS, so such a page is made again (and
   * the upstream asked again) that often, not on every request and not never.
   */
  retryEpoch(project: string): number {
    return this.#failedAt.has(project) ? 1 + Math.floor(this.#now() / METADATA_RETRY_MS) : 0
  }

  /** Forget what memory holds about `project` (purged from the cache directory). */
  forget(project: string): void {
    this.#failedAt.delete(project)
  }

  /** The core metadata of `release`: from the cache, else fetched when the upstream offers it and may be asked. */
  async read(release: UpstreamRelease): Promise<ReleaseMetadata> {
    const files = [...release.files].sort((a, b) => kindRank(a.filename) - kindRank(b.filename))
    const key = `${release.upstream.label}\n${release.project}\n${files.map((file) => file.filename).join('\n')}`
    let pending = this.#inFlight.get(key)
    if (pending === undefined) {
      pending = this.#read({ ...release, files })
        .then((read) => {
          // Had (from the cache or the upstream): the project's pages need no more retries.
          if (read.kind === 'read') this.#failedAt.delete(release.project)
          return read
        })
        .finally(() => {
          this.#inFlight.delete(key)
        })
      this.#inFlight.set(key, pending)
    }
    return pending
  }

  /**
   * The core metadata of `release` from the cache alone (a cached `.metadata`, else a cached
   * distribution), or undefined: never fetched, for the UI's project list.
   */
  async readCached(release: Pick<UpstreamRelease, 'project' | 'files'>): Promise<ReleaseMetadata | undefined> {
    const files = [...release.files].sort((a, b) => kindRank(a.filename) - kindRank(b.filename))
    return this.#fromCache(release.project, files)
  }

  /**
   * The METADATA of the cached distribution `filename` of `project` itself, read from its pinned
   * bytes, with the cached file's modification time; undefined when it is not cached or has
   * none that can be read. For a pinned file the upstream now lists with another sha256: its
   * `.metadata` there describes the new bytes.
   */
  async ofPinnedFile(
    project: string,
    filename: string,
  ): Promise<{ readonly bytes: Buffer; readonly mtimeMs: number } | undefined> {
    if (!(await this.#files.isCached(project, filename))) return undefined
    const read = await this.#fromArchive(project, filename)
    return read?.kind === 'read' ? { bytes: read.bytes, mtimeMs: read.mtimeMs } : undefined
  }

  async #fromCache(project: string, files: readonly UpstreamFile[]): Promise<ReleaseMetadata | undefined> {
    for (const file of files) {
      const metadata = coreMetadataFile(file)
      if (metadata === undefined || !(await this.#files.isCached(project, metadata.filename))) continue
      // A pinned file the upstream now lists with another hash: a cached `.metadata` may be the
      // upstream's new one; the file's own METADATA is read below instead.
      if (pinnedOtherBytes(file, await this.#files.pinOf(project, file.filename))) continue
      const read = await this.#cachedMetadataFile(project, metadata.filename)
      if (read !== undefined) return read
    }
    for (const file of files) {
      if (!(await this.#files.isCached(project, file.filename))) continue
      const read = await this.#fromArchive(project, file.filename)
      if (read !== undefined) return read
    }
    return undefined
  }

  async #read(release: UpstreamRelease): Promise<ReleaseMetadata> {
    const { project, files } = release
    const cached = await this.#fromCache(project, files)
    if (cached !== undefined) return cached
    const offered = files.find((file) => file.coreMetadata !== undefined)
    const metadata = offered === undefined ? undefined : coreMetadataFile(offered)
    if (metadata === undefined) return { kind: 'none', reason: 'not-offered' }
    if (this.#offline || release.upstream.offline) return { kind: 'none', reason: 'offline' }
    // An upstream that is failing is not asked for metadata: the page it is shown on must not
    // wait for a timeout (the breaker's whole point), and pip's own requests come first. After
    // a failed fetch, the project's metadata is not asked for again for METADATA_RETRY_MS.
    if (release.stale || this.#breakerState(release.upstream.label) !== 'closed')
      return this.#failed(project, 'the upstream is failing')
    const failedAt = this.#failedAt.get(project)
    if (failedAt !== undefined && this.#now() - failedAt < METADATA_RETRY_MS)
      return { kind: 'none', reason: 'unavailable' }
    // Counted as the file cache's miss, then as an upstream `metadata` request, as pip's is.
    await this.#files.lookup(project, metadata.filename)
    try {
      const download = await this.#files.fetch({ project, file: metadata, upstream: release.upstream })
      if ((await download.settled()) !== 'done') return this.#failed(project, download.error?.message)
    } catch (err) {
      return this.#failed(project, err instanceof Error ? err.message : String(err))
    }
    return (await this.#cachedMetadataFile(project, metadata.filename)) ?? { kind: 'none', reason: 'unavailable' }
  }

  #failed(project: string, reason: string | undefined): ReleaseMetadata {
    this.#failedAt.set(project, this.#now())
    this.#log.debug({ project, reason }, 'Cannot fetch the core metadata of an upstream release now')
    return { kind: 'none', reason: 'unavailable' }
  }

  // A verified `.metadata` file of the cache, named by its pinned sha256 (its content).
  async #cachedMetadataFile(project: string, filename: string): Promise<ReleaseMetadata | undefined> {
    const pin = await this.#files.pinOf(project, filename)
    const storage = await this.#files.cachedStorage()
    const opened = pin === undefined ? undefined : await storage.open(`${project}/${filename}`)
    if (pin === undefined || opened === undefined) return undefined
    try {
      const size = opened.file.size
      if (size > MAX_METADATA_BYTES) {
        this.#log.warn({ project, filename, size }, 'Skipping an upstream metadata file larger than 10 MiB')
        return undefined
      }
      const bytes = size === 0 ? Buffer.alloc(0) : await opened.read({ start: 0, end: size - 1 })
      return { kind: 'read', bytes, identity: `sha256:${pin}` }
    } finally {
      await opened.close()
    }
  }

  // A cached distribution's own metadata, read by random access with the archive readers.
  async #fromArchive(
    project: string,
    filename: string,
  ): Promise<(ReleaseMetadata & { readonly mtimeMs: number }) | undefined> {
    const parsed = parseDistFilename(filename)
    if (parsed === undefined) return undefined
    const storage = await this.#files.cachedStorage()
    const stored = (await storage.listFolder(project))?.files.find((file) => file.key === `${project}/${filename}`)
    if (stored === undefined) return undefined
    this.#archives ??= new CoreMetadataStore({ storage, log: this.#log })
    const dist: DistFile = { ...stored, folder: project, filename, parsed }
    const read = await this.#archives.read(dist)
    return read === undefined
      ? undefined
      : { kind: 'read', bytes: read.bytes, identity: read.identity, mtimeMs: stored.mtimeMs }
  }
}

function kindRank(filename: string): number {
  const kind = parseDistFilename(filename)?.kind
  return kind === undefined ? KIND_ORDER.length : KIND_ORDER.indexOf(kind)
}
