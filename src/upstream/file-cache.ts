// Upstream files in the cache directory: a storage like the eggdir's once there (so they are
// served like local files), fetched once on a miss however many clients ask (see Download),
// immutable once verified: the sha256 of the first verified bytes is pinned beside the file.
// With a size cap, the least recently used files are evicted (FileLru); the pinned digest's
// mtime records the last use, so the order survives a restart.
import { mkdir, readdir, readFile, stat, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { FastifyBaseLogger } from 'fastify'
import type { UpstreamFile } from '../core/upstream-page.js'
import { LocalStorage } from '../storage/local-storage.js'
import type { HashChangePolicy } from './cache-settings.js'
import type { CircuitBreaker } from './circuit-breaker.js'
import { Download, type ExpectedDigest } from './file-download.js'
import { FileLru } from './file-lru.js'
import { describeUrl } from './http-client.js'
import { pinnedOtherBytes } from '../core/upstream-file-rules.js'
import { UpstreamFailure, UpstreamFetchError } from './upstream-errors.js'
import { fileKind, NO_OBSERVER, outcomeOf, type UpstreamObserver } from './upstream-observer.js'
import type { UpstreamSettings } from './upstream-settings.js'

// Digests pip can check, strongest first (hashlib's guaranteed algorithms that PEP 503 names).
const VERIFIABLE = ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'md5'] as const

/** The cached files of every upstream project. */
export class UpstreamFiles {
  readonly #dir: string
  readonly #log: FastifyBaseLogger
  readonly #offline: boolean
  readonly #downloads = new Map<string, Download>()
  /** Files whose bytes did not match their page: key → the digest the page wanted. */
  readonly #bad = new Map<string, string>()
  /** Pinned sha256 per cached file, once read. */
  readonly #pins = new Map<string, string>()
  /** Bumped per project whenever a file arrives: pages showing pins or cached files render anew. */
  readonly #versions = new Map<string, number>()
  #changes = 0
  #storage: Promise<LocalStorage> | undefined
  /** The size cap's bookkeeping, when --upstream-cache-max is set. */
  readonly #lru: FileLru | undefined
  /** Counted from the files on disk at start-up (and the cap enforced), before anything else. */
  readonly #ready: Promise<void>
  readonly hashChange: HashChangePolicy
  /** Hash changes already logged (key and new digest), so a page rendered again logs nothing new. */
  readonly #reportedChanges = new Set<string>()
  readonly #observer: UpstreamObserver
  readonly #breakerOf: (upstream: UpstreamSettings) => CircuitBreaker | undefined
  /** Upstream file requests made (for tests and the log). */
  requests = 0

  constructor(options: {
    cacheDir: string
    offline: boolean
    log: FastifyBaseLogger
    maxBytes?: number | undefined
    hashChange?: HashChangePolicy
    observer?: UpstreamObserver
    /** The circuit breaker of an upstream, which its file downloads count toward and obey. */
    breakerOf?: (upstream: UpstreamSettings) => CircuitBreaker | undefined
  }) {
    this.#dir = join(options.cacheDir, 'upstream', 'files')
    this.#breakerOf = options.breakerOf ?? (() => undefined)
    this.#observer = options.observer ?? NO_OBSERVER
    this.#offline = options.offline
    this.#log = options.log.child({ component: 'upstream-files' })
    this.hashChange = options.hashChange ?? 'pin'
    this.#lru = options.maxBytes === undefined ? undefined : new FileLru(options.maxBytes)
    this.#ready = this.#lru === undefined ? Promise.resolve() : this.#countOnDisk(this.#lru)
  }

  /** A number that changes whenever a file of `project` is cached. */
  version(project: string): number {
    return this.#versions.get(project) ?? 0
  }

  /** A number that changes whenever a file of any project is cached or dropped. */
  get changes(): number {
    return this.#changes
  }

  #changed(project: string): void {
    this.#versions.set(project, this.version(project) + 1)
    this.#changes++
  }

  /** The pinned sha256 of every cached file of `project`, by filename. */
  async pinned(project: string): Promise<ReadonlyMap<string, string>> {
    const pins = new Map<string, string>()
    let names: string[]
    try {
      names = await readdir(join(this.#dir, project))
    } catch {
      return pins
    }
    const present = new Set(names)
    for (const name of names) {
      if (name.startsWith('.') || name.endsWith('.sha256') || !present.has(`${name}.sha256`)) continue
      const digest = await this.#pin(project, name)
      if (digest !== undefined) pins.set(name, digest)
    }
    return pins
  }

  /** isCached for a client's request: the answer is counted as a file cache hit or miss. */
  async lookup(project: string, filename: string): Promise<boolean> {
    const cached = await this.isCached(project, filename)
    this.#observer.fileLookup(cached ? 'hit' : 'miss')
    return cached
  }

  /** True when `filename` of `project` is in the cache (verified, pinned). */
  async isCached(project: string, filename: string): Promise<boolean> {
    await this.#ready
    return (await this.#pin(project, filename)) !== undefined
  }

  /** The pinned sha256 of a cached file, or undefined when it is not cached. */
  async pinOf(project: string, filename: string): Promise<string | undefined> {
    await this.#ready
    return this.#pin(project, filename)
  }

  /**
   * A client starts reading `filename` of `project` (cached, or arriving): under a cap it counts
   * as just used, and it is not evicted until the returned release is called.
   */
  use(project: string, filename: string): () => void {
    const lru = this.#lru
    if (lru === undefined) return () => undefined
    const key = `${project}/${filename}`
    if (lru.has(key)) {
      lru.touch(key)
      // The digest's mtime is the last use, read back at start-up.
      const now = new Date()
      void utimes(join(this.#dir, project, `${filename}.sha256`), now, now).catch(() => undefined)
    }
    const release = lru.use(key)
    return () => {
      this.#evict(release())
    }
  }

  /** A cached file turned out to be gone from the disk: it is no longer taken as cached. */
  vanished(project: string, filename: string): void {
    const key = `${project}/${filename}`
    this.#log.warn({ project, filename }, 'A cached upstream file is gone from the cache directory; fetching it again')
    this.#pins.delete(key)
    this.#lru?.remove(key)
    this.#changed(project)
  }

  /** Forget what memory holds about `project` (purged from the cache directory). */
  forget(project: string): void {
    const prefix = `${project}/`
    for (const map of [this.#pins, this.#bad])
      for (const key of [...map.keys()]) if (key.startsWith(prefix)) map.delete(key)
    for (const key of this.#lru?.keys() ?? []) if (key.startsWith(prefix)) this.#lru?.remove(key)
    this.#changed(project)
  }

  /**
   * The upstream page shows `file` with a sha256 other than the pinned one. With `pin`, log it
   * (once per new digest) and keep the file; with `follow`, log it and drop the cached file, so
   * the next request fetches the new bytes (checked against the new hash). True when dropped.
   */
  async hashChanged(project: string, file: UpstreamFile): Promise<boolean> {
    const key = `${project}/${file.filename}`
    const pinned = await this.pinOf(project, file.filename)
    const listed = file.hashes.sha256
    if (listed === undefined || !pinnedOtherBytes(file, pinned)) return false
    // Offline there is nothing to follow to: the cached bytes are all there is.
    const follow = this.hashChange === 'follow' && !this.#offline
    if (!this.#reportedChanges.has(`${key} ${listed}`)) {
      this.#reportedChanges.add(`${key} ${listed}`)
      this.#log.warn(
        { project, filename: file.filename, pinned, listed, policy: this.hashChange },
        follow
          ? 'The upstream changed the hash of a cached file; following it: the cached file is dropped and fetched again'
          : 'The upstream changed the hash of a cached file; serving the pinned bytes (--upstream-hash-change pin)',
      )
    }
    if (!follow) return false
    await this.#drop(key)
    return true
  }

  /** The cached files as a storage (keys `<project>/<filename>`), to serve them like local ones. */
  cachedStorage(): Promise<LocalStorage> {
    this.#storage ??= mkdir(this.#dir, { recursive: true }).then(() => LocalStorage.create(this.#dir, this.#log))
    return this.#storage
  }

  /**
   * Start (or join) the download of `file`, resolving once its bytes start to flow; fails with
   * an UpstreamFailure when the file cannot be had (offline, a known mismatch, an unreachable
   * or failing upstream).
   */
  async fetch(target: { project: string; file: UpstreamFile; upstream: UpstreamSettings }): Promise<Download> {
    const { project, file } = target
    const key = `${project}/${file.filename}`
    const expected = expectedDigest(file)
    if (expected !== undefined && this.#bad.get(key) === expected.hex) {
      throw new UpstreamFailure(
        'EGGSERVE_UPSTREAM_BAD_FILE',
        'The upstream sent bytes that do not match the hash on its page; the file was not kept',
      )
    }
    if (this.#offline || target.upstream.offline)
      throw new UpstreamFailure('EGGSERVE_UPSTREAM_OFFLINE', 'Offline, and this file is not in the cache')
    const download = this.#download(key, target, expected)
    try {
      await download.started
    } catch (err) {
      const bad = download.error instanceof UpstreamFetchError && download.error.kind === 'status'
      throw new UpstreamFailure(
        bad ? 'EGGSERVE_UPSTREAM_BAD_FILE' : 'EGGSERVE_UPSTREAM_UNAVAILABLE',
        bad ? 'The upstream could not send this file' : 'The upstream is unreachable',
        { cause: err },
      )
    }
    return download
  }

  #download(
    key: string,
    target: { project: string; file: UpstreamFile; upstream: UpstreamSettings },
    expected: ExpectedDigest | undefined,
  ): Download {
    const { project, file, upstream } = target
    const kind = fileKind(file.filename)
    const running = this.#downloads.get(key)
    if (running !== undefined && (running.state === 'connecting' || running.state === 'streaming')) {
      this.#observer.joined(upstream.label, kind)
      return running
    }
    const breaker = this.#breakerOf(upstream)
    // Open: the upstream is not asked; a miss answers as a page with no cached copy does (503).
    if (breaker !== undefined && !breaker.allow())
      throw new UpstreamFailure(
        'EGGSERVE_UPSTREAM_UNAVAILABLE',
        'The upstream index cannot be reached and this file is not in the cache',
        {
          cause: new UpstreamFetchError(
            'breaker-open',
            `${upstream.label} failed repeatedly; not asked again for a while`,
          ),
        },
      )
    this.requests++
    const download = new Download({
      request: {
        url: file.url,
        headers: { accept: '*/*' },
        // Credentials only where the index itself is: files elsewhere (a CDN) never get them.
        authorization: upstream.authorization,
        credentialOrigin: new URL(upstream.url).origin,
        timeouts: upstream.timeouts,
        maxRedirects: upstream.maxRedirects,
      },
      expected,
      size: file.size,
      finalPath: join(this.#dir, project, file.filename),
    })
    if (breaker !== undefined) countToward(breaker, download)
    this.#downloads.set(key, download)
    const started = performance.now()
    void download.run().then(() => {
      this.#downloads.delete(key)
      const failure = download.state === 'done' ? undefined : download.error
      this.#observer.requested({
        upstream: upstream.label,
        kind,
        outcome: failure === undefined ? 'ok' : outcomeOf(failure),
        seconds: (performance.now() - started) / 1000,
        bytes: download.received,
      })
      if (download.state === 'done' && download.sha256 !== undefined) {
        this.#pins.set(key, download.sha256)
        this.#bad.delete(key)
        this.#changed(project)
        this.#log.info({ project, filename: file.filename, upstream: upstream.label }, 'Cached an upstream file')
        this.#evict(this.#lru?.add(key, download.available) ?? [])
        return
      }
      if (expected !== undefined && download.error instanceof UpstreamFetchError && download.error.kind === 'digest') {
        this.#bad.set(key, expected.hex)
        this.#observer.hashMismatch(upstream.label)
      }
      this.#log.error(
        { project, filename: file.filename, url: describeUrl(file.url), reason: download.error?.message },
        'Upstream file download failed; nothing was kept',
      )
    })
    return download
  }

  async #pin(project: string, filename: string): Promise<string | undefined> {
    const key = `${project}/${filename}`
    const known = this.#pins.get(key)
    if (known !== undefined) return known
    try {
      const digest = (await readFile(join(this.#dir, project, `${filename}.sha256`), 'utf8')).trim()
      if (!/^[0-9a-f]{64}$/.test(digest)) return undefined
      const lru = this.#lru
      // Cached by another process (`eggserve cache warm`) since start-up: counted from now on.
      if (lru !== undefined && !lru.has(key)) this.#evict(lru.add(key, (await stat(join(this.#dir, key))).size))
      this.#pins.set(key, digest)
      return digest
    } catch {
      return undefined
    }
  }

  // Evicted files leave memory at once (the next request downloads them again); their digest is
  // removed first, so neither another process nor a restart takes a half-removed file as cached.
  #evict(keys: readonly string[]): void {
    for (const key of keys) {
      this.#log.info({ key, cachedBytes: this.#lru?.totalBytes }, 'Evicted an upstream file (--upstream-cache-max)')
      void this.#drop(key)
      // PEP 658 metadata goes with its distribution.
      if (!key.endsWith('.metadata') && this.#lru?.has(`${key}.metadata`) === true) {
        this.#lru.remove(`${key}.metadata`)
        void this.#drop(`${key}.metadata`)
      }
    }
  }

  async #drop(key: string): Promise<void> {
    this.#pins.delete(key)
    this.#lru?.remove(key)
    const project = key.slice(0, key.indexOf('/'))
    this.#changed(project)
    await unlink(join(this.#dir, `${key}.sha256`)).catch(() => undefined)
    await unlink(join(this.#dir, key)).catch(() => undefined)
  }

  // At start-up: every cached file, by the last use its digest's mtime records; then the cap.
  async #countOnDisk(lru: FileLru): Promise<void> {
    const found: { key: string; size: number; usedMs: number }[] = []
    for (const project of await readdir(this.#dir).catch(() => [])) {
      const names = await readdir(join(this.#dir, project)).catch(() => [])
      const present = new Set(names)
      for (const name of names) {
        if (name.startsWith('.') || name.endsWith('.sha256') || !present.has(`${name}.sha256`)) continue
        try {
          const [file, pin] = await Promise.all([
            stat(join(this.#dir, project, name)),
            stat(join(this.#dir, project, `${name}.sha256`)),
          ])
          found.push({ key: `${project}/${name}`, size: file.size, usedMs: pin.mtimeMs })
        } catch {
          // Removed meanwhile: nothing to count.
        }
      }
    }
    found.sort((a, b) => a.usedMs - b.usedMs)
    const evicted: string[] = []
    for (const { key, size } of found) if (!lru.has(key)) evicted.push(...lru.add(key, size))
    if (evicted.length > 0 || found.length > 0)
      this.#log.info(
        { files: found.length, cachedBytes: lru.totalBytes, maxBytes: lru.maxBytes, evicted: evicted.length },
        'Counted the cached upstream files against --upstream-cache-max',
      )
    this.#evict(evicted)
  }
}

// The breaker hears of every download it let through, once it is decided (so a half-open
// breaker's one try always ends): an answer whose status line came is a success, unless it is a
// 5xx; no answer (refused, reset, a connect or first-byte timeout) or a body that stalls is a
// failure. Told on the download's own events, before any client is answered.
function countToward(breaker: CircuitBreaker, download: Download): void {
  let answered = false
  download.once('streaming', () => {
    answered = true
    breaker.success()
  })
  download.once('failed', (err: unknown) => {
    if (upstreamFailed(err)) breaker.failure()
    else if (!answered) breaker.success()
  })
}

function upstreamFailed(err: unknown): boolean {
  if (!(err instanceof UpstreamFetchError)) return false
  switch (err.kind) {
    case 'connect-timeout':
    case 'first-byte-timeout':
    case 'idle-timeout':
    case 'network':
      return true
    case 'status':
      return (err.status ?? 0) >= 500
    default:
      return false
  }
}

/** The strongest digest on the page that can be checked, or undefined when it gives none. */
export function expectedDigest(file: UpstreamFile): ExpectedDigest | undefined {
  for (const algorithm of VERIFIABLE) {
    const hex = file.hashes[algorithm]
    if (hex !== undefined) return { algorithm, hex }
  }
  return undefined
}
