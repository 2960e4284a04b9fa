// Hashers: one computes digests from storage; decorators remember or persist them.
import type { Digests, HashAlgorithm } from '../core/digests.js'
import { AppError } from '../errors.js'
import type { Storage, StoredFile } from '../storage/storage.js'
import { digestStream } from './digest-stream.js'
import type { FairScheduler } from './fair-scheduler.js'

/** Digests together with the file they were computed from (which may be newer than the one asked for). */
export interface HashResult {
  readonly file: StoredFile
  readonly digests: Digests
}

/** Options of one hash request. */
export interface HashOptions {
  /** Fairness group, the project's normalized name. */
  readonly group: string
  /** True when a client is waiting for the result. */
  readonly urgent?: boolean
}

/** Computes (or recalls) the digests of stored files. */
export interface Hasher {
  hash (file: StoredFile, options: HashOptions): Promise<HashResult>
  /** Forget what is remembered for a file identity that no longer exists. */
  forget (identity: string): void
}

/** The file was removed before it could be hashed. */
export class FileGoneError extends AppError {
  constructor (key: string) {
    super('EGGSERVE_FILE_GONE', `"${key}" disappeared before it could be hashed`, { statusCode: 404 })
  }
}

/** Counters of the work a StreamingHasher did, for logs, progress and tests. */
export interface HashingStats {
  files: number
  bytes: number
}

/** Reads each file once through storage, with bounded, fair concurrency. */
export class StreamingHasher implements Hasher {
  readonly stats: HashingStats = { files: 0, bytes: 0 }
  readonly #storage: Storage
  readonly #algorithms: readonly HashAlgorithm[]
  readonly #scheduler: FairScheduler

  constructor (options: { storage: Storage; algorithms: readonly HashAlgorithm[]; scheduler: FairScheduler }) {
    this.#storage = options.storage
    this.#algorithms = options.algorithms
    this.#scheduler = options.scheduler
  }

  hash (file: StoredFile, options: HashOptions): Promise<HashResult> {
    return this.#scheduler.run(options.group, async () => {
      const opened = await this.#storage.open(file.key)
      if (opened === undefined) throw new FileGoneError(file.key)
      try {
        const digests = await digestStream(opened.createReadStream(), this.#algorithms)
        this.stats.files++
        this.stats.bytes += opened.file.size
        return { file: opened.file, digests }
      } finally {
        await opened.close()
      }
    }, options.urgent ?? true)
  }

  forget (): void {
    // Nothing is remembered here.
  }
}

/**
 * Remembers digests by file identity, so an unchanged file is hashed once per process, and
 * lets concurrent requests for the same file share one computation.
 */
export class MemoizingHasher implements Hasher {
  readonly #inner: Hasher
  readonly #known = new Map<string, Digests>()
  readonly #inFlight = new Map<string, Promise<HashResult>>()

  constructor (inner: Hasher) {
    this.#inner = inner
  }

  /** Number of identities remembered. */
  get size (): number {
    return this.#known.size
  }

  hash (file: StoredFile, options: HashOptions): Promise<HashResult> {
    const digests = this.#known.get(file.identity)
    if (digests !== undefined) return Promise.resolve({ file, digests })
    const running = this.#inFlight.get(file.identity)
    if (running !== undefined) return running
    const computed = this.#inner.hash(file, options).then((result) => {
      this.#known.set(result.file.identity, result.digests)
      return result
    }).finally(() => {
      this.#inFlight.delete(file.identity)
    })
    this.#inFlight.set(file.identity, computed)
    return computed
  }

  forget (identity: string): void {
    this.#known.delete(identity)
    this.#inner.forget(identity)
  }
}
