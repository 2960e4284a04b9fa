// Password checks on a worker thread, a bounded number at a time. bcrypt is slow on purpose
// (tens to hundreds of milliseconds of CPU per check) and $apr1$ takes about 2 ms in
// JavaScript; run on the main thread they would stall every download, and run on libuv's
// threadpool they would compete with file reads. One worker runs one login's checks at a
// time, and at most `maxQueued` logins wait: beyond that a login is refused at once ('busy'),
// so a flood of logins costs one core at most and never the others.
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { FastifyBaseLogger } from 'fastify'
import type { LoginWork } from '../core/login-work.js'

/** Which of the hashes of a LoginWork the password matched. */
export type Matches = Readonly<Partial<Record<'bcrypt' | 'apr1' | 'sha1', boolean>>>

/** Work the worker has done, counted by the worker as it does it. */
export interface WorkDone {
  /** Logins checked. */
  readonly checks: number
  /** Logins refused because too many waited. */
  readonly refused: number
  /** bcrypt rounds of key expansion: 2^cost per hash computed. */
  readonly bcryptRounds: number
  readonly apr1: number
  readonly sha1: number
}

// Plain CommonJS run with `eval`: the same code whether eggserve runs from dist/ or from its
// TypeScript sources (a worker file would need a loader for .ts). bcryptjs and apache-md5 are
// pure JavaScript. apache-md5 hashes each character as one byte: it gets the UTF-8 bytes, as
// htpasswd hashed them.
const WORKER_SOURCE = `'use strict'
const { parentPort, workerData } = require('node:worker_threads')
const { createHash, timingSafeEqual } = require('node:crypto')
const bcrypt = require(workerData.bcryptjs)
const aprMd5 = require(workerData.apacheMd5)
const BCRYPT = /^\\$2[aby]\\$(\\d\\d)\\$.{53}$/
function same (a, b) {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}
parentPort.on('message', ({ id, password, work }) => {
  const matches = {}
  let rounds = 0
  if (work.bcrypt !== undefined) {
    const cost = BCRYPT.exec(work.bcrypt.hash)
    try { matches.bcrypt = bcrypt.compareSync(password, work.bcrypt.hash) } catch { matches.bcrypt = false }
    if (cost !== null) rounds += 2 ** Number(cost[1])
    for (const pad of work.bcrypt.padCosts) {
      bcrypt.hashSync(password, bcrypt.genSaltSync(pad))
      rounds += 2 ** pad
    }
  }
  if (work.apr1 !== undefined) {
    matches.apr1 = same(aprMd5(Buffer.from(password, 'utf8').toString('latin1'), work.apr1), work.apr1)
  }
  if (work.sha1 !== undefined) {
    matches.sha1 = same('{SHA}' + createHash('sha1').update(password, 'utf8').digest('base64'), work.sha1)
  }
  parentPort.postMessage({ id, matches, rounds })
})`

interface Job {
  readonly resolve: (matches: Matches) => void
  readonly reject: (err: Error) => void
}

/** A single password-checking worker with a bounded queue. */
export class PasswordWorker {
  readonly #maxQueued: number
  readonly #log: FastifyBaseLogger
  readonly #jobs = new Map<number, Job>()
  #worker: Worker | undefined
  #nextId = 1
  #done: WorkDone = { checks: 0, refused: 0, bcryptRounds: 0, apr1: 0, sha1: 0 }

  constructor(options: { maxQueued: number; log: FastifyBaseLogger }) {
    this.#maxQueued = options.maxQueued
    this.#log = options.log
  }

  /** Logins running or waiting. */
  get pending(): number {
    return this.#jobs.size
  }

  /** Work done so far. */
  get done(): WorkDone {
    return this.#done
  }

  /** Run the checks of one login, or refuse at once ('busy') when `maxQueued` wait already. */
  check(password: string, work: LoginWork): Promise<Matches | 'busy'> {
    if (this.#jobs.size >= this.#maxQueued) {
      this.#done = { ...this.#done, refused: this.#done.refused + 1 }
      return Promise.resolve('busy')
    }
    const worker = this.#start()
    const id = this.#nextId++
    return new Promise<Matches>((resolve, reject) => {
      this.#jobs.set(id, { resolve, reject })
      worker.postMessage({ id, password, work })
    })
  }

  /** Stop the worker; waiting checks fail. */
  async close(): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    this.#failAll(new Error('The password worker was stopped'))
    await worker?.terminate()
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const resolve = createRequire(import.meta.url).resolve
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { bcryptjs: resolve('bcryptjs'), apacheMd5: resolve('apache-md5') },
    })
    // Idle, it must not keep the process alive (the daemon's shutdown decides when to exit).
    worker.unref()
    worker.on('message', (message: unknown) => {
      this.#finish(message)
    })
    worker.on('error', (err) => {
      this.#log.error({ err }, 'The password worker failed; starting a new one for the next login')
      this.#failAll(err)
    })
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined
      this.#failAll(new Error('The password worker exited'))
    })
    this.#worker = worker
    return worker
  }

  #finish(message: unknown): void {
    if (
      typeof message !== 'object' ||
      message === null ||
      !('id' in message) ||
      !('matches' in message) ||
      !('rounds' in message)
    )
      return
    const id = Number(message.id)
    const job = this.#jobs.get(id)
    if (job === undefined) return
    this.#jobs.delete(id)
    const matches = message.matches as Matches // built by WORKER_SOURCE above: booleans only
    this.#done = {
      checks: this.#done.checks + 1,
      refused: this.#done.refused,
      bcryptRounds: this.#done.bcryptRounds + Number(message.rounds),
      apr1: this.#done.apr1 + (matches.apr1 === undefined ? 0 : 1),
      sha1: this.#done.sha1 + (matches.sha1 === undefined ? 0 : 1),
    }
    job.resolve(matches)
  }

  #failAll(err: Error): void {
    for (const job of this.#jobs.values()) job.reject(err)
    this.#jobs.clear()
  }
}
