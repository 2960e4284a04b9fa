// An Analyzer that runs StreamingAnalyzers in worker threads: hashing a cold tree uses every
// core, and the event loop that serves requests only passes messages. Fairness and the bound
// on concurrent reads stay on the main thread, in one FairScheduler.
import type { Worker } from 'node:worker_threads'
import type { FastifyBaseLogger } from 'fastify'
import type { HashAlgorithm } from '../core/digests.js'
import type { DistFile } from '../core/index-model.js'
import { AppError, isStoreFailureCode, StoreFailure } from '../errors.js'
import { startWorker } from '../platform/worker-thread.js'
import type { StorageSpec } from '../storage/open-storage.js'
import {
  AnalysisStoppedError,
  FileGoneError,
  type AnalysisResult,
  type Analyzer,
  type AnalyzeOptions,
} from './analyzer.js'
import type { AnalysisWorkerData } from './analysis-worker.js'
import { FairScheduler } from './fair-scheduler.js'
import type { AnalysisStats } from './streaming-analyzer.js'
import type { WorkerFailure, WorkerReply, WorkerRequest } from './worker-protocol.js'

/** Options of WorkerAnalyzer.create(). */
export interface WorkerAnalyzerOptions {
  readonly workers: number
  /** Files read at once per worker (overlaps I/O with hashing). */
  readonly perWorker: number
  readonly storage: StorageSpec
  readonly algorithms: readonly HashAlgorithm[]
  readonly log: FastifyBaseLogger
}

interface Pending {
  readonly resolve: (result: AnalysisResult) => void
  readonly reject: (err: Error) => void
  readonly file: DistFile
}

interface Slot {
  readonly worker: Worker
  /** Analyses sent to this worker and not answered yet. */
  readonly ids: Set<number>
  /** Set once the worker has opened its storage. */
  ready: boolean
  /** Set when the pool stops it on purpose (idle). */
  retired: boolean
}

// How long workers stay after their last file.
const IDLE_MS = 60_000

/** Analyzes files in a pool of worker threads. */
export class WorkerAnalyzer implements Analyzer {
  readonly stats: AnalysisStats = { files: 0, bytes: 0 }
  readonly #options: WorkerAnalyzerOptions
  readonly #log: FastifyBaseLogger
  readonly #scheduler: FairScheduler
  readonly #slots: Slot[] = []
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #closed = false
  #broken = false
  #idleTimer: NodeJS.Timeout | undefined

  private constructor(options: WorkerAnalyzerOptions) {
    this.#options = options
    this.#log = options.log.child({ component: 'analyzer' })
    this.#scheduler = new FairScheduler(options.workers * options.perWorker)
  }

  /**
   * Make the pool, with no worker yet. A worker starts with the first file to read, another
   * only when each running one is busy with a file (requests sent while a worker loads wait in
   * its message port), and all stop after a minute without work: a server whose cache knows
   * every file carries no worker threads (each costs some 12-15 MB).
   */
  static create(options: WorkerAnalyzerOptions): WorkerAnalyzer {
    return new WorkerAnalyzer(options)
  }

  analyze(file: DistFile, options: AnalyzeOptions): Promise<AnalysisResult> {
    return this.#scheduler.run(options.group, () => this.#dispatch(file), options.urgent ?? true)
  }

  /** Worker threads running now (each started on demand, stopped after a minute idle). */
  get threads(): number {
    return this.#slots.length
  }

  forget(): void {
    // Nothing is remembered here.
  }

  remember(): void {
    // Nothing is remembered here.
  }

  /**
   * Stop the workers: analyses running or queued fail with AnalysisStoppedError (a shutdown
   * waits for no hashing), and so does any later one, without starting a worker.
   */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#idleTimer)
    const stopped = new AnalysisStoppedError()
    for (const pending of this.#pending.values()) pending.reject(stopped)
    this.#pending.clear()
    await Promise.all(this.#slots.splice(0).map((slot) => slot.worker.terminate()))
  }

  #dispatch(file: DistFile): Promise<AnalysisResult> {
    if (this.#closed) return Promise.reject(new AnalysisStoppedError())
    if (this.#broken) return Promise.reject(new AppError('EGGSERVE_ANALYSIS', 'the analysis workers cannot start'))
    clearTimeout(this.#idleTimer)
    let slot = this.#slots.reduce<Slot | undefined>(
      (best, candidate) => (best === undefined || candidate.ids.size < best.ids.size ? candidate : best),
      undefined,
    )
    // One more worker only when every running one is busy: a file dropped into a served tree
    // starts one worker (an isolate costs some 12 MB of RSS), a cold tree all of them. Not
    // later than that: a worker reads its files one after the other, so a small file a client
    // waits for, sent to a worker busy with a huge one, would wait for all of it.
    if (this.#slots.length < this.#options.workers && (slot === undefined || slot.ids.size > 0)) slot = this.#spawn()
    if (slot === undefined) return Promise.reject(new AppError('EGGSERVE_ANALYSIS', 'no analysis worker is running'))
    const id = this.#nextId++
    return new Promise<AnalysisResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, file })
      slot.ids.add(id)
      const request: WorkerRequest = { id, file }
      slot.worker.postMessage(request)
    }).finally(() => {
      slot.ids.delete(id)
      if (this.#pending.size === 0 && !this.#closed) {
        clearTimeout(this.#idleTimer)
        this.#idleTimer = setTimeout(() => {
          this.#retire()
        }, IDLE_MS).unref()
      }
    })
  }

  // Idle: let the workers go; the next file to read starts them again.
  #retire(): void {
    if (this.#pending.size > 0) return
    const slots = this.#slots.splice(0)
    for (const slot of slots) {
      slot.retired = true
      void slot.worker.terminate()
    }
  }

  #spawn(): Slot {
    const data: AnalysisWorkerData = {
      storage: this.#options.storage,
      algorithms: this.#options.algorithms,
      concurrency: this.#options.perWorker,
      logLevel: this.#log.level,
    }
    // A worker streams files through small buffers and keeps nothing: a small heap is plenty,
    // and without a limit each worker's heap grows with the garbage of a cold tree's hashing.
    // 4 MB young: little is allocated per chunk (reads reuse one buffer); 64 MB old: room for
    // the files in flight (perWorker) each holding a METADATA of up to 10 MiB (METADATA_LIMITS).
    // Bench row "peak RSS (VmHWM) of the instance that was loaded": 16/96 MB gave a 16 MB higher
    // cold-start peak at 100,000 files with two workers.
    const resourceLimits = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 }
    const worker = startWorker(import.meta.url, 'analysis-worker', { workerData: data, resourceLimits })
    const slot: Slot = { worker, ids: new Set(), ready: false, retired: false }
    this.#slots.push(slot)
    worker.on('message', (reply: WorkerReply) => {
      if (reply.kind === 'ready') slot.ready = true
      else this.#receive(reply)
    })
    worker.on('error', (err) => {
      this.#log.error({ err }, 'An analysis worker failed')
    })
    worker.on('exit', (code) => {
      this.#replace(slot, code)
    })
    return slot
  }

  #receive(reply: Exclude<WorkerReply, { kind: 'ready' }>): void {
    if (reply.kind === 'log') {
      this.#relog(reply.line)
      return
    }
    const pending = this.#pending.get(reply.id)
    if (pending === undefined) return
    this.#pending.delete(reply.id)
    if (reply.kind === 'result') {
      this.stats.files++
      this.stats.bytes += reply.bytes
      pending.resolve({ file: reply.file, facts: reply.facts })
    } else {
      pending.reject(rebuild(reply, pending.file))
    }
  }

  // A worker that died takes its analyses with it: fail them (callers log and move on) and start another.
  #replace(slot: Slot, code: number): void {
    const index = this.#slots.indexOf(slot)
    if (index >= 0) this.#slots.splice(index, 1)
    if (this.#closed || slot.retired) return
    for (const id of slot.ids) {
      this.#pending.get(id)?.reject(new AppError('EGGSERVE_ANALYSIS', 'the analysis worker exited'))
      this.#pending.delete(id)
    }
    // A worker that never got ready would fail again the same way: do not loop.
    if (!slot.ready) {
      this.#broken = true
      this.#log.error({ code }, 'An analysis worker could not start; files cannot be hashed')
      return
    }
    this.#log.error({ code }, 'An analysis worker exited; starting another')
    this.#spawn()
  }

  #relog(line: string): void {
    let record: unknown
    try {
      record = JSON.parse(line)
    } catch {
      return
    }
    if (typeof record !== 'object' || record === null) return
    const { level, msg, ...rest } = record as Record<string, unknown> // pino's own JSON line
    const text = typeof msg === 'string' ? msg : ''
    // The record carries the worker's own bindings (its component): log it through the root logger.
    const log = this.#options.log
    if (typeof level === 'number' && level >= 50) log.error(rest, text)
    else if (typeof level === 'number' && level >= 40) log.warn(rest, text)
    else log.debug(rest, text)
  }
}

// The error the worker met, as it would be in this thread: the same class (so a request gets
// the same status and headers), message, cause and details.
function rebuild(reply: WorkerFailure, file: DistFile): AppError {
  if (reply.code === 'EGGSERVE_FILE_GONE') return new FileGoneError(file.key)
  const options = {
    ...(reply.cause === undefined ? {} : { cause: new Error(reply.cause) }),
    ...(reply.details === undefined ? {} : { details: reply.details }),
  }
  return isStoreFailureCode(reply.code)
    ? new StoreFailure(reply.code, reply.message, options)
    : new AppError(reply.code, reply.message, options)
}
