// A worker thread that analyzes files (digests and metadata), so hashing uses more than one
// core and never blocks the event loop that serves requests. It opens its own storage from a
// spec and runs the same StreamingAnalyzer the main thread would.
import { parentPort, workerData } from 'node:worker_threads'
import { Writable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { pino } from 'pino'
import type { HashAlgorithm } from '../core/digests.js'
import type { DistFile } from '../core/index-model.js'
import { AppError } from '../errors.js'
import { openStorage, type StorageSpec } from '../storage/open-storage.js'
import { FairScheduler } from './fair-scheduler.js'
import { StreamingAnalyzer } from './streaming-analyzer.js'
import type { WorkerReply, WorkerRequest } from './worker-protocol.js'

/** What the worker is started with. */
export interface AnalysisWorkerData {
  readonly storage: StorageSpec
  readonly algorithms: readonly HashAlgorithm[]
  readonly concurrency: number
  readonly logLevel: string
}

if (parentPort === null) throw new Error('analysis-worker.ts must run in a worker thread')
const port = parentPort
const data = workerData as AnalysisWorkerData // set by WorkerAnalyzer, which owns the contract

// Log records travel to the main thread, which writes them through the one logger.
const forward = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    const reply: WorkerReply = { kind: 'log', line: chunk.toString('utf8') }
    port.postMessage(reply)
    callback()
  },
})
const log: FastifyBaseLogger = pino({ level: data.logLevel, base: null, timestamp: false }, forward)
// This thread only reads files: blocking reads skip libuv's thread pool, which the main thread needs.
const storage = await openStorage(data.storage, log, { blocking: true })
const analyzer = new StreamingAnalyzer({
  storage,
  algorithms: data.algorithms,
  scheduler: new FairScheduler(data.concurrency),
  log,
})

port.on('message', (request: WorkerRequest) => {
  void analyze(request.id, request.file)
})

async function analyze(id: number, file: DistFile): Promise<void> {
  let reply: WorkerReply
  try {
    const result = await analyzer.analyze(file, { group: file.folder })
    reply = { kind: 'result', id, file: result.file, facts: result.facts, bytes: result.file.size }
  } catch (err) {
    // Not logged here: the main thread rebuilds the error (its status and Retry-After come
    // from the registry) and whoever handles it there logs it, once.
    const cause: unknown = err instanceof Error ? err.cause : undefined
    reply = {
      kind: 'error',
      id,
      code: err instanceof AppError ? err.code : 'EGGSERVE_ANALYSIS',
      message: err instanceof Error ? err.message : String(err),
      ...(cause instanceof Error ? { cause: cause.message } : {}),
      ...(err instanceof AppError && err.details !== undefined ? { details: err.details } : {}),
    }
  }
  port.postMessage(reply)
}

const ready: WorkerReply = { kind: 'ready' }
port.postMessage(ready)
