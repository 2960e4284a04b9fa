// The analyzer that really reads: digests in one streaming pass, then core metadata by random access.
import { addAbortSignal } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { randomAccessSource, readCoreMetadata } from '../archives/read-core-metadata.js'
import type { Digests, HashAlgorithm } from '../core/digests.js'
import type { DistFile, MetadataFacts } from '../core/index-model.js'
import { metadataFacts } from '../core/metadata-facts.js'
import type { OpenFile, Storage } from '../storage/storage.js'
import {
  AnalysisStoppedError,
  FileGoneError,
  type AnalysisResult,
  type Analyzer,
  type AnalyzeOptions,
} from './analyzer.js'
import { digestReads, digestStream } from './digest-stream.js'
import type { FairScheduler } from './fair-scheduler.js'

/** Counters of the work a StreamingAnalyzer did, for logs, progress and tests. */
export interface AnalysisStats {
  files: number
  bytes: number
}

// Hashing reads a local file into one of these, reused file after file (a stream allocates a
// new buffer per chunk, up to 1 MiB each): dead chunks no longer pile up between garbage
// collections, which in two hashing workers made most of a cold start's peak resident memory
// (bench row "peak RSS (VmHWM) of the instance that was loaded").
const READ_BUFFER_BYTES = 256 * 1024

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
  /** Aborted by close(): reads in progress stop, queued ones never start. */
  readonly #closing = new AbortController()
  readonly #running = new Set<Promise<AnalysisResult>>()
  /** Read buffers not in use: at most one per file read at once (the scheduler's bound). */
  readonly #buffers: Buffer[] = []

  constructor(options: {
    storage: Storage
    algorithms: readonly HashAlgorithm[]
    scheduler: FairScheduler
    log: FastifyBaseLogger
  }) {
    this.#storage = options.storage
    this.#algorithms = options.algorithms
    this.#scheduler = options.scheduler
    this.#log = options.log.child({ component: 'analyzer' })
  }

  analyze(file: DistFile, options: AnalyzeOptions): Promise<AnalysisResult> {
    return this.#scheduler.run(
      options.group,
      () => {
        if (this.#closing.signal.aborted) return Promise.reject(new AnalysisStoppedError())
        const reading = this.#read(file)
        this.#running.add(reading)
        return reading.finally(() => {
          this.#running.delete(reading)
        })
      },
      options.urgent ?? true,
    )
  }

  /**
   * Stop: files being read are given up, queued ones fail with AnalysisStoppedError without
   * being read, so a shutdown waits for no hashing. Resolves once no file is open any more.
   */
  async close(): Promise<void> {
    this.#closing.abort()
    await Promise.allSettled([...this.#running])
  }

  async #read(file: DistFile): Promise<AnalysisResult> {
    const opened = await this.#storage.open(file.key, { expected: file.identity })
    if (opened === undefined) throw new FileGoneError(file.key)
    try {
      const digests = await this.#digests(opened)
      const metadata = await this.#metadata(file, opened)
      this.stats.files++
      this.stats.bytes += opened.file.size
      return { file: opened.file, facts: metadata === undefined ? { digests } : { digests, metadata } }
    } finally {
      await opened.close()
    }
  }

  async #digests(opened: OpenFile): Promise<Digests> {
    const { readInto } = opened
    if (readInto === undefined)
      return digestStream(addAbortSignal(this.#closing.signal, opened.createReadStream()), this.#algorithms)
    const buffer = this.#buffers.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)
    try {
      return await digestReads(
        { readInto, size: opened.file.size, buffer, signal: this.#closing.signal },
        this.#algorithms,
      )
    } finally {
      this.#buffers.push(buffer)
    }
  }

  forget(): void {
    // Nothing is remembered here.
  }

  remember(): void {
    // Nothing is remembered here.
  }

  async #metadata(file: DistFile, opened: OpenFile): Promise<MetadataFacts | undefined> {
    const read = await readCoreMetadata(randomAccessSource(opened), file.parsed, file.filename)
    if (!read.ok) {
      this.#log.warn({ key: file.key, code: read.code }, `No core metadata for "${file.key}": ${read.reason}`)
      return undefined
    }
    return metadataFacts(read.bytes)
  }
}
