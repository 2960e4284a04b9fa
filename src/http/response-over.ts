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

type Over = ResponseOver | readonly ResponseOver[]

// What is tracked per connection, in one property of the socket added at its first request:
// nothing is added to Fastify's reply. Properties added to every reply after Fastify made it
// needed a property store of their own (an allocation per request), and each one a hidden-class
// transition. A WeakMap from socket to connection costs a hash lookup at each end instead
// (measured slower than the property by a CPU profile).
class Connection {
  /** The socket's byte count when its last response was over (before the first: when it started). */
  sent: number | undefined = undefined
  /** The responses still open on it, in order (one, or several when requests are pipelined)... */
  readonly replies: FastifyReply[] = []
  /** ...and what to call when each is over. */
  readonly overs: Over[] = []
}

const CONNECTION = Symbol('eggserve.responseOver.connection')

/** A socket, or for a request without one, the request itself. */
type Holder = object & { [CONNECTION]?: Connection }

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
    const raw = request.raw
    const socket = raw.socket as Socket | null
    // app.inject() has a fake socket per request; a request without one is its own "connection".
    const holder: Holder = socket ?? raw
    const connection = holder[CONNECTION] ?? opened(holder, socket)
    const only = starts.length === 1 ? starts[0] : undefined
    connection.replies.push(reply)
    connection.overs.push(only !== undefined ? only(request) : starts.map((each) => each(request)))
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
  const connection = connectionOf(reply)
  if (connection !== undefined) take(connection, reply)
}

// The first response on a connection counts from when it started (a TLS socket may have
// counted its handshake); the next ones from where the previous response ended, so the
// socket's byte count (a getter that copies its write queue) is read once per response.
// app.inject()'s fake socket counts nothing.
function opened(holder: Holder, socket: Socket | null): Connection {
  const connection = new Connection()
  holder[CONNECTION] = connection
  if (socket !== null) {
    const written: unknown = socket.bytesWritten
    if (typeof written === 'number') connection.sent = written
    socket.on('close', () => {
      connectionClosed(connection)
    })
  }
  return connection
}

function connectionOf(reply: FastifyReply): Connection | undefined {
  // Null in Node's types only when a request was made without one: then its own "connection".
  const raw = reply.request.raw
  const socket = raw.socket as Socket | null
  const holder: Holder = socket ?? raw
  return holder[CONNECTION]
}

// Remove a response from its connection's open ones; what to call for it, if it was open.
function take(connection: Connection, reply: FastifyReply): Over | undefined {
  const { replies, overs } = connection
  // Almost always the only one open, or the first (pipelined responses end in order).
  const at = replies[0] === reply ? 0 : replies.indexOf(reply)
  if (at === -1) return undefined
  const over = overs[at]
  // pop(), not `length = 0`: setting the length is a call into V8's runtime.
  if (replies.length === 1) {
    replies.pop()
    overs.pop()
  } else {
    replies.splice(at, 1)
    overs.splice(at, 1)
  }
  return over
}

function responseOver(reply: FastifyReply): void {
  const connection = connectionOf(reply)
  if (connection === undefined) return
  // Once: a response that failed after its connection closed could be reported twice.
  const over = take(connection, reply)
  if (over === undefined) return
  const socket = reply.request.raw.socket as Socket | null
  const bytesSent = sentBy(socket, connection)
  if (typeof over === 'function') over(reply.request, reply, bytesSent)
  else for (const each of over) each(reply.request, reply, bytesSent)
}

// The connection closed: the responses still open on it will never finish (the client went
// away, or the server cut the connection). In the order they were started.
function connectionClosed(connection: Connection): void {
  for (const reply of [...connection.replies]) responseOver(reply)
}

// The bytes written to the socket since the previous response on it was over (or since this
// one started, for the first): the same count as reading it at the start, on a connection
// that carries one request after the other; with pipelined requests, whose responses end in
// order, each counts what was written after the one before it.
function sentBy(socket: Socket | null, connection: Connection): number | undefined {
  const from = connection.sent
  if (socket === null || from === undefined) return undefined
  const written: unknown = socket.bytesWritten
  if (typeof written !== 'number') return undefined
  connection.sent = written
  return written - from
}
