// The messages between the primary and its workers (--workers), over node:cluster's IPC
// channel with the "advanced" (structured clone) serialization, and the small request/reply
// layer both ends use: a request carries an id, its reply names it back.
import type { DistFile, FileFacts } from '../core/index-model.js'
import type { ErrorCode } from '../error-codes.js'
import type { AnalysisResult, AnalyzeOptions } from '../file-facts/analyzer.js'
import type { IndexChange } from '../live-index/index-service.js'

/** What a worker asks of the primary and what the primary answers, by request name. */
export interface PrimaryRequests {
  /** The facts of a file: remembered, or read now (once, whichever worker asks). */
  analyze: { ask: { readonly file: DistFile; readonly options: AnalyzeOptions }; answer: AnalysisResult }
  /**
   * The facts remembered so far, a page at a time from `from` (a starting worker's memory):
   * pages keep each message, and the memory it takes to copy it, small. `next` is absent
   * after the last page.
   */
  snapshot: {
    ask: { readonly from: number }
    answer: { readonly entries: readonly (readonly [string, FileFacts])[]; readonly next?: number }
  }
  /** An upload or removal made through this worker: resolves once every other worker knows it. */
  announce: { ask: { readonly change: IndexChange }; answer: null }
  /** /metrics on the main port: every process's metrics, aggregated. */
  metrics: { ask: Record<string, never>; answer: string }
  /**
   * The worker can serve: the primary listens (at the first ask) and answers with the addresses
   * it listens on; connections come as CONNECTION_MESSAGE from then on.
   */
  listen: { ask: Record<string, never>; answer: readonly string[] }
}

/** What the primary asks of a worker. */
export interface WorkerRequests {
  /** A change another worker made: take it in. */
  apply: { ask: { readonly change: IndexChange }; answer: null }
  /** This worker's metrics, as prom-client's getMetricsAsJSON() gives them. */
  metrics: { ask: Record<string, never>; answer: unknown }
}

/** One-way messages: worker → primary. */
export type WorkerEvent =
  /** Listening (at start-up) or done reloading (after a forwarded SIGHUP): sd_notify's READY=1. */
  | { readonly type: 'ready'; readonly status: string }
  /** Its warm-up pass is over. */
  | { readonly type: 'warm' }
  /** A STATUS= line for systemd (warm-up progress). */
  | { readonly type: 'status'; readonly text: string }
  /** Facts of a file that is gone may be dropped. */
  | { readonly type: 'forget'; readonly identity: string }
  /** This many of the connections the primary handed over have closed since the last report. */
  | { readonly type: 'closed'; readonly count: number }

/** One-way messages: primary → worker. */
export type PrimaryEvent =
  /** A signal the primary received, forwarded: the worker acts on these only. */
  | { readonly type: 'signal'; readonly signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP' }
  /** Whether every worker has finished its warm-up (what /health/ready says on each). */
  | { readonly type: 'clusterReady'; readonly ready: boolean }

/** An error as it crosses the channel. */
export interface WireError {
  readonly code: ErrorCode | undefined
  readonly message: string
  readonly details?: Readonly<Record<string, unknown>>
}

/** Everything on the channel, either way. */
export type Envelope =
  | { readonly eggserve: 'request'; readonly id: number; readonly name: string; readonly ask: unknown }
  | { readonly eggserve: 'reply'; readonly id: number; readonly answer?: unknown; readonly error?: WireError }
  | { readonly eggserve: 'event'; readonly event: WorkerEvent | PrimaryEvent }
  /** Primary → worker, with a connection's socket as the message's handle (cluster-balancer.ts). */
  | typeof CONNECTION_MESSAGE

/** The message a connection handed to a worker comes with. */
export const CONNECTION_MESSAGE = { eggserve: 'connection' } as const

/** True for CONNECTION_MESSAGE as a worker receives it (its handle is the connection). */
export function isConnectionMessage(message: unknown): boolean {
  return (
    typeof message === 'object' &&
    message !== null &&
    'eggserve' in message &&
    message.eggserve === CONNECTION_MESSAGE.eggserve
  )
}

/** The end of the IPC channel: a cluster Worker in the primary, `process` in a worker. */
export interface Port {
  send(message: Envelope): unknown
  on(event: 'message', listener: (message: unknown) => void): unknown
  off(event: 'message', listener: (message: unknown) => void): unknown
}

/** Request names, each with what it asks and what it answers. */
type Requests<R> = { readonly [K in keyof R]: { ask: unknown; answer: unknown } }

/** The answering side: one handler per request name. */
export type Handlers<R extends Requests<R>> = { [K in keyof R]: (ask: R[K]['ask']) => Promise<R[K]['answer']> }

/**
 * Requests to the other end (typed by `Out`), answers to its requests (by `In`), and its
 * one-way events. A request pending when the channel closes fails.
 */
export class Channel<Out extends Requests<Out>, In extends Requests<In>, EventIn, EventOut> {
  readonly #port: Port
  readonly #pending = new Map<number, { resolve: (answer: unknown) => void; reject: (err: Error) => void }>()
  readonly #listener: (message: unknown) => void
  #next = 1

  constructor(port: Port, handlers: Handlers<In>, onEvent: (event: EventIn) => void) {
    this.#port = port
    this.#listener = (message) => {
      if (!isEnvelope(message)) return
      switch (message.eggserve) {
        case 'event':
          onEvent(message.event as EventIn) // the other end sends only its own kind of events
          return
        case 'reply':
          this.#settle(message)
          return
        case 'request':
          this.#answer(handlers, message)
          return
        case 'connection':
        // The worker's ConnectionIntake takes it, with its handle.
      }
    }
    port.on('message', this.#listener)
  }

  request<K extends keyof Out & string>(name: K, ask: Out[K]['ask']): Promise<Out[K]['answer']> {
    const id = this.#next++
    return new Promise<Out[K]['answer']>((resolve, reject) => {
      // The answer is what the other end's handler of `name` returned (see Handlers).
      this.#pending.set(id, { resolve, reject })
      this.#send({ eggserve: 'request', id, name, ask }, () => {
        this.#pending.delete(id)
        reject(new Error('the other process is gone'))
      })
    })
  }

  event(event: EventOut & (WorkerEvent | PrimaryEvent)): void {
    this.#send({ eggserve: 'event', event }, () => undefined)
  }

  /** The other end is gone: fail what waits for it. */
  close(): void {
    this.#port.off('message', this.#listener)
    for (const pending of this.#pending.values()) pending.reject(new Error('the other process is gone'))
    this.#pending.clear()
  }

  #send(envelope: Envelope, failed: () => void): void {
    try {
      this.#port.send(envelope)
    } catch {
      // The channel is closed (the other process exited): the request cannot be answered.
      failed()
    }
  }

  #settle(reply: Extract<Envelope, { eggserve: 'reply' }>): void {
    const pending = this.#pending.get(reply.id)
    if (pending === undefined) return
    this.#pending.delete(reply.id)
    if (reply.error === undefined) pending.resolve(reply.answer)
    else pending.reject(Object.assign(new Error(reply.error.message), { wire: reply.error }))
  }

  #answer(handlers: Handlers<In>, request: Extract<Envelope, { eggserve: 'request' }>): void {
    // A name from the other process: looked up as a plain key, since it may be none of ours.
    const handler = (handlers as Record<string, ((ask: unknown) => Promise<unknown>) | undefined>)[request.name]
    const work =
      handler === undefined ? Promise.reject(new Error(`unknown request ${request.name}`)) : handler(request.ask)
    work.then(
      (answer: unknown) => {
        this.#send({ eggserve: 'reply', id: request.id, answer }, () => undefined)
      },
      (err: unknown) => {
        this.#send({ eggserve: 'reply', id: request.id, error: toWire(err) }, () => undefined)
      },
    )
  }
}

/** The wire form of an error met while answering. */
export function toWire(err: unknown): WireError {
  if (err instanceof Error) {
    // AppError's codes are ErrorCodes; another error's code (an errno) travels as it is.
    const code = 'code' in err && typeof err.code === 'string' ? (err.code as ErrorCode) : undefined
    const details =
      'details' in err && typeof err.details === 'object' && err.details !== null
        ? (err.details as Record<string, unknown>)
        : undefined
    return { code, message: err.message, ...(details === undefined ? {} : { details }) }
  }
  return { code: undefined, message: String(err) }
}

/** The wire error a failed request carries, if it came from the other end. */
export function wireError(err: unknown): WireError | undefined {
  // #settle() attaches it as `wire`.
  return err instanceof Error && 'wire' in err ? (err.wire as WireError) : undefined
}

function isEnvelope(message: unknown): message is Envelope {
  return typeof message === 'object' && message !== null && 'eggserve' in message
}
