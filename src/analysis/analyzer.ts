// Analyzers: one reads a file's digests and core metadata from storage; a decorator remembers them.
import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { randomAccessSource, readCoreMetadata } from '../archives/read-core-metadata.js'
import type { HashAlgorithm } from '../core/digests.js'
import type { DistFile, FileFacts, MetadataFacts } from '../core/index-model.js'
import { parseCoreMetadata } from '../core/metadata.js'
import { AppError } from '../errors.js'
import type { OpenFile, Storage, StoredFile } from '../storage/storage.js'
import { digestStream } from './digest-stream.js'
import type { FairScheduler } from './fair-scheduler.js'

/** Facts together with the file they were computed from (which may be newer than the one asked for). */
export interface AnalysisResult {
  readonly file: StoredFile
  readonly facts: FileFacts
}

/** Options of one analysis request. */
export interface AnalyzeOptions {
  /** Fairness group: the project's normalized name. */
  readonly group: string
  /** True when a client is waiting for the result. */
  readonly urgent?: boolean
}

/** Computes (or recalls) the facts of distribution files. */
export interface Analyzer {
  analyze (file: DistFile, options: AnalyzeOptions): Promise<AnalysisResult>
  /** Forget what is remembered for a file identity that no longer exists. */
  forget (identity: string): void
  /**
   * Take facts computed elsewhere for a file identity, e.g. while an upload streamed in, so
   * that the file is never read again to learn them. Analyzers that remember nothing ignore it.
   */
  remember (identity: string, facts: FileFacts): void
}

/** The file was removed before it could be read. */
export class FileGoneError extends AppError {
  constructor (key: string) {
    super('EGGSERVE_FILE_GONE', `"${key}" disappeared before it could be read`, { statusCode: 404 })
  }
}

/** Counters of the work a StreamingAnalyzer did, for logs, progress and tests. */
export interface AnalysisStats {
  files: number
  bytes: number
}

/**
 * Reads each file once through storage: the digests in one streaming pass, then the core
 * metadata by random access (a zip's central directory, or the head of a tarball). Runs on
 * a bounded, fair scheduler.
 */
export class StreamingAnalyzer implements Analyzer {
  readonly stats: AnalysisStats = { files: 0, bytes: 0 }
  readonly #storage: Storage
  readonly #algorithms: readonly HashAlgorithm[]
  readonly #scheduler: FairScheduler
  readonly #log: FastifyBaseLogger

  constructor (options: { storage: Storage; algorithms: readonly HashAlgorithm[]; scheduler: FairScheduler; log: FastifyBaseLogger }) {
    this.#storage = options.storage
    this.#algorithms = options.algorithms
    this.#scheduler = options.scheduler
    this.#log = options.log.child({ component: 'analyzer' })
  }

  analyze (file: DistFile, options: AnalyzeOptions): Promise<AnalysisResult> {
    return this.#scheduler.run(options.group, async () => {
      const opened = await this.#storage.open(file.key)
      if (opened === undefined) throw new FileGoneError(file.key)
      try {
        const digests = await digestStream(opened.createReadStream(), this.#algorithms)
        const metadata = await this.#metadata(file, opened)
        this.stats.files++
        this.stats.bytes += opened.file.size
        return { file: opened.file, facts: metadata === undefined ? { digests } : { digests, metadata } }
      } finally {
        await opened.close()
      }
    }, options.urgent ?? true)
  }

  forget (): void {
    // Nothing is remembered here.
  }

  remember (): void {
    // Nothing is remembered here.
  }

  async #metadata (file: DistFile, opened: OpenFile): Promise<MetadataFacts | undefined> {
    const read = await readCoreMetadata(randomAccessSource(opened), file.parsed, file.filename)
    if (!read.ok) {
      this.#log.warn({ key: file.key, code: read.code }, `No core metadata for "${file.key}": ${read.reason}`)
      return undefined
    }
    return metadataFacts(read.bytes)
  }
}

/** The facts the index keeps from metadata bytes. */
export function metadataFacts (bytes: Buffer): MetadataFacts {
  const requiresPython = parseCoreMetadata(bytes).get('requires-python')?.trim()
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  return requiresPython === undefined || requiresPython === '' ? { sha256 } : { sha256, requiresPython }
}

/**
 * Remembers facts by file identity, so an unchanged file is read once per process, and lets
 * concurrent requests for the same file share one computation.
 */
export class MemoizingAnalyzer implements Analyzer {
  readonly #inner: Analyzer
  readonly #known = new Map<string, FileFacts>()
  readonly #inFlight = new Map<string, Promise<AnalysisResult>>()

  constructor (inner: Analyzer) {
    this.#inner = inner
  }

  /** Number of identities remembered. */
  get size (): number {
    return this.#known.size
  }

  analyze (file: DistFile, options: AnalyzeOptions): Promise<AnalysisResult> {
    const facts = this.#known.get(file.identity)
    if (facts !== undefined) return Promise.resolve({ file, facts })
    const running = this.#inFlight.get(file.identity)
    if (running !== undefined) return running
    const computed = this.#inner.analyze(file, options).then((result) => {
      this.#known.set(result.file.identity, result.facts)
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

  remember (identity: string, facts: FileFacts): void {
    this.#known.set(identity, facts)
    this.#inner.remember(identity, facts)
  }
}
