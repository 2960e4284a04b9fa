// bcrypt checks on a worker thread, a bounded number at a time. bcrypt is slow on purpose
// (tens to hundreds of milliseconds of CPU per check); run on the main thread it would stall
// every download, and run on libuv's threadpool it would compete with file reads. One worker
// checks one password at a time, and at most `maxQueued` checks wait: beyond that a check is
// refused at once ('busy'), so a flood of logins costs one core at most and never the others.
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { FastifyBaseLogger } from 'fastify'

/** The result of one check: a match, no match, or refused because too many checks wait. */
export type BcryptVerdict = boolean | 'busy'

// Plain CommonJS run with `eval`: the same code whether eggserve runs from dist/ or from its
// TypeScript sources (a worker file would need a loader for .ts). bcryptjs is pure JavaScript.
const WORKER_SOURCE = `'use strict'
const { parentPort, workerData } = require('node:worker_threads')
const bcrypt = require(workerData.bcryptjs)
parentPort.on('message', (job) => {
  let ok = false
  try { ok = bcrypt.compareSync(job.password, job.hash) } catch { ok = false }
  parentPort.postMessage({ id: job.id, ok })
})`

interface Job {
  readonly resolve: (ok: boolean) => void
  readonly reject: (err: Error) => void
}

/** A single bcrypt worker with a bounded queue. */
export class BcryptPool {
  readonly #maxQueued: number
  readonly #log: FastifyBaseLogger
  readonly #jobs = new Map<number, Job>()
  #worker: Worker | undefined
  #nextId = 1

  constructor (options: { maxQueued: number; log: FastifyBaseLogger }) {
    this.#maxQueued = options.maxQueued
    this.#log = options.log
  }

  /** Checks running or waiting. */
  get pending (): number {
    return this.#jobs.size
  }

  /** Check `password` against a bcrypt `hash` ($2a$, $2b$, $2y$). */
  compare (password: string, hash: string): Promise<BcryptVerdict> {
    if (this.#jobs.size >= this.#maxQueued) return Promise.resolve('busy')
    const worker = this.#start()
    const id = this.#nextId++
    return new Promise<boolean>((resolve, reject) => {
      this.#jobs.set(id, { resolve, reject })
      worker.postMessage({ id, password, hash })
    })
  }

  /** Stop the worker; waiting checks fail. */
  async close (): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    this.#failAll(new Error('The bcrypt worker was stopped'))
    await worker?.terminate()
  }

  #start (): Worker {
    if (this.#worker !== undefined) return this.#worker
    const bcryptjs = createRequire(import.meta.url).resolve('bcryptjs')
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs } })
    // Idle, it must not keep the process alive (the daemon's shutdown decides when to exit).
    worker.unref()
    worker.on('message', (message: unknown) => {
      if (typeof message !== 'object' || message === null || !('id' in message) || !('ok' in message)) return
      const job = this.#jobs.get(Number(message.id))
      this.#jobs.delete(Number(message.id))
      job?.resolve(message.ok === true)
    })
    worker.on('error', (err) => {
      this.#log.error({ err }, 'The bcrypt worker failed; starting a new one for the next check')
      this.#failAll(err)
    })
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined
      this.#failAll(new Error('The bcrypt worker exited'))
    })
    this.#worker = worker
    return worker
  }

  #failAll (err: Error): void {
    for (const job of this.#jobs.values()) job.reject(err)
    this.#jobs.clear()
  }
}
