// The digests of a download, computed in a worker thread from the part file as its writes
// complete, so the event loop that receives the body and sends it to every client does not
// also hash it (sha256 alone was about a fifth of its time per 100 MB; docs/benchmarks.md).
// The worker reads back what was written (from the page cache) into one reused buffer: the
// digest is of the bytes that were kept, and hashing makes no garbage. The verdict still comes
// before the last byte is released (Download waits for finish()).
// One worker per cache, started with the first download and let go when idle. Its source is
// inline (CommonJS, as `eval` workers are), so it runs the same from dist/ and under tsx.
import { Worker } from 'node:worker_threads'

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const { closeSync, openSync, readSync } = require('node:fs')
const buffer = Buffer.allocUnsafe(1024 * 1024)
const jobs = new Map()
function close(id) {
  const job = jobs.get(id)
  jobs.delete(id)
  if (job !== undefined) closeSync(job.fd)
}
parentPort.on('message', (message) => {
  const { id } = message
  try {
    if (message.kind === 'open') {
      jobs.set(id, { fd: openSync(message.path, 'r'), hashes: message.algorithms.map((a) => createHash(a)), done: 0 })
      return
    }
    const job = jobs.get(id)
    if (job === undefined) return
    if (message.kind === 'abort') {
      close(id)
      return
    }
    while (job.done < message.upTo) {
      const read = readSync(job.fd, buffer, 0, Math.min(buffer.length, message.upTo - job.done), job.done)
      if (read === 0) throw new Error('the part file is shorter than the bytes written to it')
      const bytes = buffer.subarray(0, read)
      for (const hash of job.hashes) hash.update(bytes)
      job.done += read
    }
    if (message.kind === 'end') {
      const digests = job.hashes.map((hash) => hash.digest('hex'))
      close(id)
      parentPort.postMessage({ id, digests })
    }
  } catch (err) {
    try { close(id) } catch {}
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) })
  }
})
`

const IDLE_MS = 60_000

/** Bytes written between two messages to the worker, at least (the last ones go with finish()). */
const POST_EVERY = 1024 * 1024

interface Reply {
  readonly id: number
  readonly digests?: readonly string[]
  readonly error?: string
}

interface Waiting {
  readonly resolve: (digests: readonly string[]) => void
  readonly reject: (err: Error) => void
}

/**
 * The hashing worker of the upstream files: started with the first download, referenced only
 * while a file is being hashed (an idle one keeps no process alive), stopped after a minute
 * without one.
 */
export class DigestWorker {
  #worker: Worker | undefined
  #nextId = 1
  /** Files opened and not answered or aborted yet. */
  #open = 0
  readonly #waiting = new Map<number, Waiting>()
  #idle: NodeJS.Timeout | undefined
  readonly #idleMs: number

  constructor(options: { idleMs?: number } = {}) {
    this.#idleMs = options.idleMs ?? IDLE_MS
  }

  /** True while the thread exists (started, not stopped). */
  get running(): boolean {
    return this.#worker !== undefined
  }

  /** Start hashing `path` (a part file about to be written) with `algorithms`, in this order. */
  hash(path: string, algorithms: readonly string[]): PartDigest {
    clearTimeout(this.#idle)
    const worker = this.#start()
    const id = this.#nextId++
    if (this.#open++ === 0) worker.ref()
    worker.postMessage({ kind: 'open', id, path, algorithms })
    let over = false
    let posted = 0
    const end = (): void => {
      if (over) return
      over = true
      // Counted per worker: one that exited meanwhile was replaced, with a count of its own.
      if (this.#worker !== worker || --this.#open > 0) return
      worker.unref()
      // A thread costs some MB even idle: it goes after a minute without downloads.
      this.#idle = setTimeout(() => {
        if (this.#open === 0 && this.#worker === worker) void this.close()
      }, this.#idleMs).unref()
    }
    return {
      written: (upTo) => {
        // A message per MiB, not per write: each costs the event loop more than the write.
        if (over || upTo - posted < POST_EVERY) return
        posted = upTo
        worker.postMessage({ kind: 'upTo', id, upTo })
      },
      finish: (length) => {
        if (over || this.#worker !== worker) return Promise.reject(new Error('the hashing worker exited'))
        const digests = new Promise<readonly string[]>((resolve, reject) => {
          this.#waiting.set(id, { resolve, reject })
        })
        worker.postMessage({ kind: 'end', id, upTo: length })
        // Referenced until the answer is in: a command waiting only for it must not exit.
        return digests.finally(end)
      },
      abort: () => {
        if (over) return
        worker.postMessage({ kind: 'abort', id })
        end()
      },
    }
  }

  /** Stop the worker (tests, shutdown); files being hashed fail. */
  async close(): Promise<void> {
    clearTimeout(this.#idle)
    const worker = this.#worker
    this.#worker = undefined
    await worker?.terminate()
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    // It reads through one 1 MiB buffer and keeps nothing: a small heap is plenty.
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 },
    })
    worker.unref()
    this.#open = 0
    worker.on('message', (reply: Reply) => {
      const job = this.#waiting.get(reply.id)
      if (job === undefined) return
      this.#waiting.delete(reply.id)
      if (reply.digests !== undefined) job.resolve(reply.digests)
      else job.reject(new Error(`hashing the part file failed: ${reply.error ?? 'unknown error'}`))
    })
    const fail = (err: Error): void => {
      if (this.#worker === worker) this.#worker = undefined
      for (const job of this.#waiting.values()) job.reject(err)
      this.#waiting.clear()
    }
    worker.on('error', fail)
    worker.on('exit', () => {
      fail(new Error('the hashing worker exited'))
    })
    this.#worker = worker
    return worker
  }
}

/** The digests of one part file, fed with how far its writes have come. */
export interface PartDigest {
  /** Bytes [0, upTo) of the part file are written. */
  written(upTo: number): void
  /** The file is `length` bytes, all written: its digests, in the order of the algorithms. */
  finish(length: number): Promise<readonly string[]>
  /** The download failed: the worker stops hashing the file and closes it. */
  abort(): void
}
