// Reading the cache file at start-up: in a worker thread when the file is large, so that its
// parsing (about 0.8 s of CPU for 100,000 records) runs on another core while the main thread
// lists the tree; in the calling thread otherwise, or when the worker fails.
import { closeSync, openSync, readSync, statSync } from 'node:fs'
import type { Worker } from 'node:worker_threads'
import type { HashAlgorithm } from '../core/digests.js'
import { errnoCode } from '../errors.js'
import { startWorker } from '../platform/worker-thread.js'
import { LogParser } from './facts-record.js'
import { hasDigest, type StoredFileFacts } from './packed-facts.js'

/** What a cache file holds, as a facts store takes it in. */
export interface FactsFileContents {
  /** The header is not this version's, for this namespace (or there is none): nothing was read. */
  readonly foreign: boolean
  /** Records that failed their checksum, and a torn last line. */
  readonly corrupt: number
  /** Sound records, usable or not. */
  readonly records: number
  /**
   * The usable records (every algorithm asked for present), in file order, a later record of
   * an identity after an earlier one: `facts[i]` is what `identities[i]` maps to.
   */
  readonly identities: string[]
  readonly facts: StoredFileFacts[]
}

/** What the worker is started with. */
export interface FactsReadRequest {
  readonly path: string
  readonly namespace: string
  readonly algorithms: readonly HashAlgorithm[]
}

/** What the worker answers: the contents, no file, or a failure the calling thread reads again to report. */
export type FactsReadReply =
  | { readonly kind: 'read'; readonly contents: FactsFileContents }
  | { readonly kind: 'missing' }
  | { readonly kind: 'failed' }

/** Files at least this large are read in a worker thread (a thread costs ~30 ms of CPU and ~10 MB to start). */
export const WORKER_FROM_BYTES = 1024 * 1024

/**
 * The contents of the cache file at `request.path` (undefined: there is none), read in a worker
 * thread when it holds at least `workerFromBytes` bytes. Rejects with the system error when the
 * file cannot be read.
 */
export async function readFactsFile(
  request: FactsReadRequest,
  workerFromBytes = WORKER_FROM_BYTES,
): Promise<{ contents: FactsFileContents | undefined; inWorker: boolean }> {
  const size = statSync(request.path, { throwIfNoEntry: false })?.size
  if (size === undefined) return { contents: undefined, inWorker: false }
  if (size >= workerFromBytes) {
    const reply = await inWorker(request)
    if (reply.kind === 'missing') return { contents: undefined, inWorker: true }
    if (reply.kind === 'read') return { contents: reply.contents, inWorker: true }
  }
  // Small, or the worker failed: read here (a failure is then thrown with all its details).
  try {
    return { contents: readFactsFileSync(request), inWorker: false }
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { contents: undefined, inWorker: false }
    throw err
  }
}

// Never rejects: a worker that cannot start, throws or exits without answering is a failure.
function inWorker(request: FactsReadRequest): Promise<FactsReadReply> {
  return new Promise((resolve) => {
    let worker: Worker
    try {
      worker = startWorker(import.meta.url, 'facts-read-worker', { workerData: request })
    } catch {
      resolve({ kind: 'failed' })
      return
    }
    worker.once('message', (reply: FactsReadReply) => {
      resolve(reply)
    })
    worker.once('error', () => {
      resolve({ kind: 'failed' })
    })
    worker.once('exit', () => {
      resolve({ kind: 'failed' })
    })
  })
}

// Pieces of this size (more for a longer line): the file is never in memory whole.
const READ_PIECE_BYTES = 1024 * 1024

/** The contents of the cache file at `request.path`, read in this thread; throws the system error. */
export function readFactsFileSync(request: FactsReadRequest): FactsFileContents {
  const { algorithms, namespace } = request
  const identities: string[] = []
  const facts: StoredFileFacts[] = []
  let records = 0
  const parser = new LogParser(namespace, (identity, stored) => {
    records++
    // Records computed with other algorithms cannot serve this configuration.
    if (algorithms.every((algorithm) => hasDigest(stored, algorithm))) {
      identities.push(identity)
      facts.push(stored)
    }
  })
  readPieces(request.path, parser)
  const parsed = parser.result()
  return parsed.foreign
    ? { foreign: true, corrupt: 0, records: 0, identities: [], facts: [] }
    : { foreign: false, corrupt: parsed.corrupt, records, identities, facts }
}

// Feed the file at `path` to `parser` piece by piece, each piece starting with the line the
// last one left unfinished.
function readPieces(path: string, parser: LogParser): void {
  const fd = openSync(path, 'r')
  try {
    let buffer = Buffer.allocUnsafe(READ_PIECE_BYTES)
    let filled = 0
    for (;;) {
      if (filled === buffer.length) {
        // One line longer than the buffer: a bigger one.
        const bigger = Buffer.allocUnsafe(buffer.length * 2)
        buffer.copy(bigger, 0, 0, filled)
        buffer = bigger
      }
      const bytesRead = readSync(fd, buffer, filled, buffer.length - filled, null)
      filled += bytesRead
      const last = bytesRead === 0
      const used = parser.feed(buffer.subarray(0, filled), last)
      if (last) return
      buffer.copy(buffer, 0, used, filled)
      filled -= used
    }
  } finally {
    closeSync(fd)
  }
}
