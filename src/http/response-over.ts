// One place for everything recorded once a response is over (the access log, the request
// metrics), however many layers want it, at no per-request hook or listener of its own.
//
// Fastify already tells its LogController when each request starts (incomingRequest) and when
// its response finished or failed (requestCompleted: Fastify's own 'finish'/'error' listeners,
// which it adds to every request because the app has a logger). A LogController subclass
// hears both. An onRequest hook and a 'close' listener per response, as this file had before,
// cost every page request a step of Fastify's hook runner, a closure and a listener: most of
// what --metrics cost (docs/metrics.md, "Cost"). What Fastify does not report is a response
// that never finished because the client went away (an abandoned download): for those, one
// 'close' listener per connection finds the responses still open on it.
import type { Socket } from 'node:net'
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

/** Called when the response is over; `bytesSent` is undefined where the socket counts nothing (app.inject()). */
export type ResponseOver = (request: FastifyRequest, reply: FastifyReply, bytesSent: number | undefined) => void

/**
 * Called when the request starts, while the connection is surely open: read there what may be
 * gone by the end (the remote address), and return what to call when the response is over.
 */
export type ResponseStart = (request: FastifyRequest) => ResponseOver

// On the reply: what to call when it is over, and the socket's byte count when it started
// (only the first response on a connection needs it).
const OVER = Symbol('eggserve.responseOver.over')
const BEFORE = Symbol('eggserve.responseOver.bytesBefore')
// On the socket: its byte count when its last response was over; the responses still open on
// it (one, or several when requests are pipelined); whether its 'close' is watched.
const SENT = Symbol('eggserve.responseOver.bytesSent')
const OPEN = Symbol('eggserve.responseOver.open')
const WATCHED = Symbol('eggserve.responseOver.watched')

interface Tracked {
  [OVER]?: ResponseOver | readonly ResponseOver[] | undefined
  [BEFORE]?: number | undefined
}

interface Counted {
  [SENT]?: number
  [OPEN]?: FastifyReply | FastifyReply[] | undefined
  [WATCHED]?: true
}

type TrackedReply = FastifyReply & Tracked
type CountedSocket = Socket & Counted

/**
 * The app's LogController (pass it as Fastify's `logController`), with Fastify's own request
 * lines switched off (the access log writes one line per request instead of Fastify's two).
 * Layers added with `onResponseOver()` run in the order they were added, once per request:
 * after a complete response, after a failed one, and after the client went away. Fastify
 * reports completions only in an app with a logger (`loggerInstance`; buildApp's always has
 * one): it adds its 'finish' listener for the log's sake.
 */
export class ResponseOverController extends LogController {
  readonly #starts: ResponseStart[] = []

  constructor() {
    super({ disableRequestLogging: true })
  }

  /** Call `start` for every request from now on, and what it returns once the response is over. */
  onResponseOver(start: ResponseStart): void {
    this.#starts.push(start)
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    const starts = this.#starts
    if (starts.length === 0) return
    const tracked = reply as TrackedReply
    const socket = request.raw.socket as CountedSocket | null
    // The first response on a connection counts from here (a TLS socket may have counted its
    // handshake); the next ones from where the previous response ended, so the socket's byte
    // count (a getter that copies its write queue) is read once per response. app.inject()'s
    // fake socket counts nothing.
    if (socket !== null && socket[SENT] === undefined) {
      const written: unknown = socket.bytesWritten
      tracked[BEFORE] = typeof written === 'number' ? written : undefined
    }
    const [only] = starts
    tracked[OVER] = starts.length === 1 && only !== undefined ? only(request) : starts.map((each) => each(request))
    if (socket === null) return
    const open = socket[OPEN]
    if (open === undefined) socket[OPEN] = reply
    else if (Array.isArray(open)) open.push(reply)
    else socket[OPEN] = [open, reply]
    if (socket[WATCHED] !== true) {
      socket[WATCHED] = true
      socket.on('close', socketClosed)
    }
  }

  override requestCompleted(_error: Error | null | undefined, _request: FastifyRequest, reply: FastifyReply): void {
    responseOver(reply)
  }
}

/**
 * Forget a request that Fastify answers outside its route lifecycle (frameworkErrors: a URL
 * that cannot be decoded), whose completion it never reports: the caller records it itself.
 */
export function notTracked(reply: FastifyReply): void {
  const tracked = reply as TrackedReply
  if (tracked[OVER] === undefined) return
  tracked[OVER] = undefined
  const socket = reply.request.raw.socket as CountedSocket | null
  if (socket !== null) forget(socket, reply)
}

function responseOver(reply: TrackedReply): void {
  const over = reply[OVER]
  if (over === undefined) return
  // Once: a response that failed after its connection closed could be reported twice.
  reply[OVER] = undefined
  const socket = reply.request.raw.socket as CountedSocket | null
  if (socket !== null) forget(socket, reply)
  const bytesSent = sentBy(socket, reply[BEFORE])
  if (typeof over === 'function') over(reply.request, reply, bytesSent)
  else for (const each of over) each(reply.request, reply, bytesSent)
}

function forget(socket: CountedSocket, reply: FastifyReply): void {
  const open = socket[OPEN]
  if (open === reply) socket[OPEN] = undefined
  else if (Array.isArray(open)) {
    const at = open.indexOf(reply)
    if (at !== -1) open.splice(at, 1)
    if (open.length === 0) socket[OPEN] = undefined
  }
}

// The connection closed: the responses still open on it will never finish (the client went
// away, or the server cut the connection). In the order they were started.
function socketClosed(this: CountedSocket): void {
  const open = this[OPEN]
  if (open === undefined) return
  this[OPEN] = undefined
  if (Array.isArray(open)) for (const reply of [...open]) responseOver(reply)
  else responseOver(open)
}

// The bytes written to the socket since the previous response on it was over (or since this
// one started, for the first): the same count as reading it at the start, on a connection
// that carries one request after the other; with pipelined requests, whose responses end in
// order, each counts what was written after the one before it.
function sentBy(socket: CountedSocket | null, before: number | undefined): number | undefined {
  if (socket === null) return undefined
  const from = socket[SENT] ?? before
  if (from === undefined) return undefined
  const written: unknown = socket.bytesWritten
  if (typeof written !== 'number') return undefined
  socket[SENT] = written
  return written - from
}
