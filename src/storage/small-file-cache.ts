// Small stored files kept in memory, so a download of one is a stat and a buffer instead of an
// open, an fstat, a read and a close (each a round trip through libuv's thread pool). It
// decorates Storage.open(): the route still gets an OpenFile whose `file` describes its bytes.
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import { LRUCache } from 'lru-cache'
import type { ByteRange } from '../core/range.js'
import type { OpenFile, OpenOptions, Storage, StoredFile } from './storage.js'

/** Options of SmallFileCache. */
export interface SmallFileCacheOptions {
  /** Total bytes of file bodies (plus an estimate per entry) kept at most; default 16 MiB. */
  readonly maxBytes?: number
  /** Largest file kept; default 64 KiB. */
  readonly maxFileBytes?: number
  /** A monotonic clock in milliseconds; performance.now unless a test drives it. */
  readonly now?: () => number
}

/** A small file's bytes in memory, with the StoredFile they were read as. */
export interface HeldFile {
  readonly file: StoredFile
  readonly bytes: Buffer
}

// A held copy and when a stat last found it current (the clock's milliseconds).
interface Entry extends HeldFile {
  checkedAt: number
}

/**
 * How long a stat that found a held copy current is trusted for a request the live index vouches
 * for (see held()): the index's own CHECK_INTERVAL_MS (src/live-index/change-detector.ts), so a
 * download is never staler than the listing that links to it, even when a watch event is missed.
 */
export const VOUCHED_TRUST_MS = 500

// 64 KiB: the size Node's file streams read in one chunk (fs.createReadStream's default
// highWaterMark), so above it a download is a stream of several reads whose cost is the
// transfer, not the open/close around it. It covers signatures (.asc), the many pure-Python
// wheels and sdists of a few KiB, and it keeps one entry a small part of the budget.
const DEFAULT_MAX_FILE_BYTES = 64 * 1024
// 16 MiB holds thousands of small files (5,000 of 3 KiB) while adding little to a daemon that
// must stay under its memory budget with 100,000 files indexed.
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024
// The entry's objects, its key and identity strings and lru-cache's bookkeeping: an estimate,
// so that a budget holds for tiny files too.
const ENTRY_OVERHEAD = 256

/**
 * open() from memory for small files whose identity (device, inode, size, mtime, ctime) is still
 * the one they had when read: the backend's currentIdentity() is asked on every open, so a file
 * replaced or rewritten in place (new inode, or new mtime and ctime) is read again, never served
 * stale; the bytes and the StoredFile of an entry come from one opened descriptor, so headers
 * and bytes always describe the same version. Backends without currentIdentity() (a bucket,
 * where a stat is a request) pass through. held() is the same check without the promise: the
 * download route answers a held file synchronously (and skips the stat while the live index
 * vouches for the copy's identity: see held()).
 */
export class SmallFileCache {
  readonly #storage: Pick<Storage, 'open' | 'currentIdentity'>
  readonly #maxFileBytes: number
  readonly #lru: LRUCache<string, Entry>
  readonly #now: () => number

  constructor(storage: Pick<Storage, 'open' | 'currentIdentity'>, options: SmallFileCacheOptions = {}) {
    this.#storage = storage
    this.#maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
    // Monotonic: a wall clock set back would stretch VOUCHED_TRUST_MS.
    this.#now = options.now ?? (() => performance.now())
    this.#lru = new LRUCache<string, Entry>({
      maxSize: options.maxBytes ?? DEFAULT_MAX_BYTES,
      sizeCalculation: (entry, key) => entry.bytes.length + key.length + entry.file.identity.length + ENTRY_OVERHEAD,
    })
  }

  /** Bytes held now (bodies plus the per-entry estimate). */
  get heldBytes(): number {
    return this.#lru.calculatedSize
  }

  /**
   * The cached copy of `key` when it is the file's current version (one synchronous stat), so a
   * download of it is answered without waiting on a promise; undefined: call open(). A copy
   * found out of date is dropped here, so the open() after it stats no more.
   *
   * `vouched`: the identity the live index holds for the file in a folder it trusts right now
   * without looking (IndexService.findProjectNow(): watched, no watch event since its last check,
   * checked within its CHECK_INTERVAL_MS). When it is the held copy's and a stat found the copy
   * current within VOUCHED_TRUST_MS, the stat is skipped: it was 9% of the CPU of a small
   * download (docs/benchmarks.md). This keeps the index's documented freshness (docs/layout.md,
   * "Changes are picked up live"): a file replaced, rewritten or removed sends a watch event that
   * marks its folder, so the next request is not vouched for and stats; when an event is missed,
   * a copy is still stat'ed at least every VOUCHED_TRUST_MS, like the folder itself.
   */
  held(key: string, vouched?: string): HeldFile | undefined {
    const cached = this.#lru.get(key)
    if (cached === undefined) return undefined
    if (vouched === cached.file.identity && this.#now() - cached.checkedAt < VOUCHED_TRUST_MS) return cached
    if (this.#storage.currentIdentity?.(key) === cached.file.identity) {
      cached.checkedAt = this.#now()
      return cached
    }
    this.#lru.delete(key)
    return undefined
  }

  /** Storage.open(), answered from memory when the cached copy is the file's current version. */
  async open(key: string, options: OpenOptions = {}): Promise<OpenFile | undefined> {
    if (this.#storage.currentIdentity === undefined) return this.#storage.open(key, options)
    const cached = this.held(key)
    if (cached !== undefined) return inMemory(cached)
    // Before the open: its fstat is the check the copy's age counts from.
    const openedAt = this.#now()
    const opened = await this.#storage.open(key, options)
    if (opened === undefined || opened.file.size > this.#maxFileBytes) return opened
    let bytes: Buffer
    try {
      bytes = opened.file.size === 0 ? Buffer.alloc(0) : await opened.read({ start: 0, end: opened.file.size - 1 })
    } finally {
      await opened.close()
    }
    // A file that shrank while it was read is not what its stat says: serve what was read,
    // keep nothing, and let the next request look again.
    const entry: Entry = { file: opened.file, bytes, checkedAt: openedAt }
    if (bytes.length === opened.file.size) this.#lru.set(key, entry)
    return inMemory(entry)
  }
}

function inMemory({ file, bytes }: HeldFile): OpenFile {
  const slice = (range: ByteRange | undefined): Buffer =>
    range === undefined ? bytes : bytes.subarray(range.start, range.end + 1)
  return {
    file: bytes.length === file.size ? file : { ...file, size: bytes.length },
    createReadStream: (range?: ByteRange) => Readable.from([slice(range)]),
    read: (range: ByteRange) => Promise.resolve(slice(range)),
    close: () => Promise.resolve(),
  }
}
