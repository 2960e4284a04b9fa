// A local disk cache of downloads in front of a bucket (--s3-download-cache DIR): a file is
// fetched from the store once, then served from the local disk. It decorates Storage.open(),
// as SmallFileCache does, and only for the downloads route: hashing reads the store itself.
//
// Every open() still asks the store what the object is now (the HEAD of S3Storage.open, no
// GET), and the copy on disk is named by a digest of that identity (ETag, size and key): a
// replaced object has another name, so a stale copy can never be served, and the headers come
// from the HEAD exactly as without the cache (the same ETag and Last-Modified on every
// replica, cached or not). The copy is fetched with the same If-Match GET as a streamed
// download, so its bytes are that version's.
//
// The size cap is an lru-cache by bytes, not the upstream proxy's FileLru
// (src/upstream/file-lru.ts, which storage may not import; it skips files in use instead of
// evicting them): here a reader opens its descriptor before it reads, and an evicted copy is
// unlinked at once, which on POSIX systems leaves every open descriptor readable to its end.
// So a file being sent is never cut short by an eviction; the disk can briefly hold more than
// the cap by the evicted files still being sent, which is what FileLru's "lingering" bytes count.
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { LRUCache } from 'lru-cache'
import type { FastifyBaseLogger } from 'fastify'
import { NO_METRICS, type Metrics } from '../core/metrics.js'
import { errnoCode } from '../errors.js'
import type { ByteRange } from '../core/range.js'
import { deferredStream } from './deferred-stream.js'
import { createRangeStream, readRange } from './range-stream.js'
import type { OpenFile, OpenOptions, Storage, StoredFile } from './storage.js'

/** Options of S3DownloadCache.open(). */
export interface DownloadCacheOptions {
  /** The directory of the copies (created if missing); nothing else may live in it. */
  readonly dir: string
  /** Total bytes of the copies kept; a larger file is streamed from the store and not kept. */
  readonly maxBytes: number
  /** The store (its open() must describe the object without reading it: S3Storage's HEAD). */
  readonly storage: Pick<Storage, 'open'>
  readonly log: FastifyBaseLogger
  readonly metrics?: Metrics
}

interface Entry {
  readonly size: number
}

// A copy's name: the hex sha256 of the object's identity. Anything else in the directory is
// left alone, but for our own temporary files (a fetch cut short by a crash).
const COPY_NAME = /^[0-9a-f]{64}$/
const TEMPORARY = /^[0-9a-f]{64}\.[0-9a-f]{12}\.tmp$/
const TEMPORARY_GRACE_MS = 3_600_000

/** Counters of the cache, in the metrics registry when metrics are on. */
interface DownloadCacheMeter {
  hit(): void
  miss(): void
  fetched(bytes: number): void
  evicted(): void
}

/** A disk cache of whole objects by identity, with a byte cap and least-recently-used eviction. */
export class S3DownloadCache {
  readonly #dir: string
  readonly #maxBytes: number
  readonly #storage: Pick<Storage, 'open'>
  readonly #log: FastifyBaseLogger
  readonly #lru: LRUCache<string, Entry>
  readonly #meter: DownloadCacheMeter
  /** Fetches in progress by copy name: concurrent misses of one object share one GET. */
  readonly #fetches = new Map<string, Promise<boolean>>()

  private constructor(options: DownloadCacheOptions) {
    this.#dir = options.dir
    this.#maxBytes = options.maxBytes
    this.#storage = options.storage
    this.#log = options.log.child({ component: 'download-cache' })
    this.#meter = meterFor(options.metrics ?? NO_METRICS, () => this.#lru.calculatedSize)
    this.#lru = new LRUCache<string, Entry>({
      maxSize: Math.max(1, options.maxBytes),
      // lru-cache wants a positive size; an empty file costs one byte of the cap.
      sizeCalculation: (entry) => Math.max(1, entry.size),
      dispose: (_entry, name, reason) => {
        // 'set' replaces the entry of a copy just renamed over itself: the file stays.
        if (reason !== 'evict' && reason !== 'delete') return
        if (reason === 'evict') this.#meter.evicted()
        unlink(this.#path(name)).catch((err: unknown) => {
          if (errnoCode(err) !== 'ENOENT') this.#log.warn({ err, name }, 'Cannot remove a download copy')
        })
      },
    })
  }

  /**
   * The cache over `dir`: copies left by an earlier run are counted (oldest first, so they are
   * evicted first) and temporary files of fetches cut short are removed.
   */
  static async open(options: DownloadCacheOptions): Promise<S3DownloadCache> {
    const cache = new S3DownloadCache(options)
    await mkdir(options.dir, { recursive: true })
    const found: { name: string; size: number; mtimeMs: number }[] = []
    for (const name of await readdir(options.dir)) {
      const info = await stat(join(options.dir, name)).catch(() => undefined)
      // Another process (--workers) may be fetching into a recent one.
      if (TEMPORARY.test(name) && (info?.mtimeMs ?? 0) < Date.now() - TEMPORARY_GRACE_MS)
        await rm(join(options.dir, name), { force: true })
      if (!COPY_NAME.test(name)) continue
      if (info?.isFile() === true) found.push({ name, size: info.size, mtimeMs: info.mtimeMs })
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs)
    for (const { name, size } of found) cache.#lru.set(name, { size })
    return cache
  }

  /** Bytes of the copies counted against the cap. */
  get heldBytes(): number {
    return this.#lru.calculatedSize
  }

  /**
   * Storage.open(): the object as the store describes it now, read from the local copy of that
   * very version, fetched first if there is none. HEAD requests and conditional answers
   * (304, 412) never read, so they never fetch.
   */
  async open(key: string, options: OpenOptions = {}): Promise<OpenFile | undefined> {
    // Not from the listing: a copy is named by what the store holds now (its HEAD), see above.
    const opened = await this.#storage.open(key, options.expected === undefined ? {} : { expected: options.expected })
    if (opened === undefined) return undefined
    if (opened.file.size > this.#maxBytes) {
      this.#meter.miss()
      return opened
    }
    const name = copyName(opened.file.identity)
    if (this.#lru.get(name) !== undefined) {
      const handle = await this.#openCopy(name, opened.file.size)
      if (handle !== undefined) {
        this.#meter.hit()
        await opened.close()
        return fromCopy(opened.file, handle)
      }
    }
    this.#meter.miss()
    return this.#pending(name, opened)
  }

  #path(name: string): string {
    return join(this.#dir, name)
  }

  /** The copy opened, or undefined when it is gone (evicted meanwhile) or not the expected size. */
  async #openCopy(name: string, size: number): Promise<FileHandle | undefined> {
    let handle: FileHandle
    try {
      handle = await open(this.#path(name), 'r')
    } catch {
      this.#lru.delete(name)
      return undefined
    }
    const info = await handle.stat().catch(() => undefined)
    if (info?.size === size) return handle
    await handle.close()
    this.#log.warn({ name, expected: size, found: info?.size }, 'A download copy had the wrong size; fetching it again')
    this.#lru.delete(name)
    return undefined
  }

  /**
   * A missed file: the first read waits for the copy (started by this miss or joined), then
   * reads it; if the copy cannot be made or kept, it reads from the store instead, as without
   * the cache, with the If-Match of its own open().
   */
  #pending(name: string, opened: OpenFile): OpenFile {
    let copy: Promise<FileHandle | undefined> | undefined
    const reading = new Set<Readable>()
    const handleFor = (): Promise<FileHandle | undefined> => {
      copy ??= (async () => {
        // Fetched since this download's open(), by another download.
        const kept = this.#lru.has(name) ? await this.#openCopy(name, opened.file.size) : undefined
        if (kept !== undefined) return kept
        let fetching = this.#fetches.get(name)
        if (fetching === undefined) {
          fetching = this.#fetch(name, opened.file).finally(() => this.#fetches.delete(name))
          this.#fetches.set(name, fetching)
        }
        return (await fetching) ? this.#openCopy(name, opened.file.size) : undefined
      })()
      return copy
    }
    return {
      file: opened.file,
      createReadStream: (range?: ByteRange) => {
        const stream = deferredStream(
          async () => {
            const handle = await handleFor()
            return handle === undefined ? opened.createReadStream(range) : copyStream(handle, opened.file, range)
          },
          { highWaterMark: 1024 * 1024 },
        )
        reading.add(stream)
        stream.once('close', () => reading.delete(stream))
        return stream
      },
      read: async (range: ByteRange) => {
        const handle = await handleFor()
        return handle === undefined ? opened.read(range) : readRange(handle.fd, range.start, range.end)
      },
      close: async () => {
        for (const stream of reading) stream.destroy()
        const handle = await copy?.catch(() => undefined)
        await handle?.close()
        await opened.close()
      },
    }
  }

  /**
   * Fetch the whole object into a temporary file, flush it, and rename it to its copy name: a
   * copy is complete or absent. The fetch opens the object itself (one more HEAD), so that no
   * client going away cuts it short for the others, and keeps it only if it is still the
   * version `file` describes. False when no copy was made (logged; readers then read the store).
   */
  async #fetch(name: string, file: StoredFile): Promise<boolean> {
    const temp = join(this.#dir, `${name}.${randomBytes(6).toString('hex')}.tmp`)
    let source: OpenFile | undefined
    try {
      source = await this.#storage.open(file.key, { expected: file.identity })
      if (source?.file.identity !== file.identity) return false
      // `flush`: fsync before the close, so a copy renamed into place is on disk.
      await pipeline(source.createReadStream(), createWriteStream(temp, { flags: 'wx', flush: true }))
      const { size } = await stat(temp)
      if (size !== file.size) throw new Error(`got ${String(size)} bytes of ${String(file.size)} expected`)
      await rename(temp, this.#path(name))
    } catch (err) {
      await rm(temp, { force: true })
      this.#log.warn({ err, key: file.key }, 'Cannot keep a copy of a download; it is streamed from the store')
      return false
    } finally {
      await source?.close()
    }
    this.#meter.fetched(file.size)
    this.#lru.set(name, { size: file.size })
    return true
  }
}

/** The name of the copy of the object with this identity (ETag, size and key). */
function copyName(identity: string): string {
  return createHash('sha256').update(identity).digest('hex')
}

/** An OpenFile over a copy opened already. */
function fromCopy(file: StoredFile, handle: FileHandle): OpenFile {
  const streams = new Set<Readable>()
  return {
    file,
    createReadStream: (range?: ByteRange) => {
      const stream = copyStream(handle, file, range)
      streams.add(stream)
      stream.once('close', () => streams.delete(stream))
      return stream
    },
    read: (range: ByteRange) => readRange(handle.fd, range.start, range.end),
    close: async () => {
      for (const stream of streams) stream.destroy()
      await handle.close().catch(() => undefined)
    },
  }
}

function copyStream(handle: FileHandle, file: StoredFile, range: ByteRange | undefined): Readable {
  return createRangeStream(handle.fd, range?.start ?? 0, range?.end ?? file.size - 1)
}

function meterFor(metrics: Metrics, held: () => number): DownloadCacheMeter {
  const hits = metrics.counter({
    name: 'eggserve_s3_download_cache_hits_total',
    help: 'Downloads from a bucket answered from the local download cache (--s3-download-cache)',
    labelNames: [],
  })
  const misses = metrics.counter({
    name: 'eggserve_s3_download_cache_misses_total',
    help: 'Downloads from a bucket that found no local copy (fetched, joined a fetch, or too large to keep)',
    labelNames: [],
  })
  const fetched = metrics.counter({
    name: 'eggserve_s3_download_cache_fetched_bytes_total',
    help: 'Bytes fetched from the store into the local download cache',
    labelNames: [],
  })
  const evictions = metrics.counter({
    name: 'eggserve_s3_download_cache_evictions_total',
    help: 'Copies removed from the local download cache to stay under its size cap',
    labelNames: [],
  })
  metrics.collectedGauge({
    name: 'eggserve_s3_download_cache_bytes',
    help: 'Bytes of the copies in the local download cache',
    labelNames: [],
    collect: (set) => {
      set({}, held())
    },
  })
  return {
    hit: () => {
      hits.inc({})
    },
    miss: () => {
      misses.inc({})
    },
    fetched: (bytes) => {
      fetched.inc({}, bytes)
    },
    evicted: () => {
      evictions.inc({})
    },
  }
}
