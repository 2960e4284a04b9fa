// One per-request hook for everything recorded once a response is over (the access log, the
// request metrics): one onRequest hook, one 'close' listener and one count of the bytes sent,
// however many layers want them. Each layer adds work to every request, and with two of them
// the second hook and listener were a measurable share of a page request (docs/metrics.md, "Cost").
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** Called when the response is over; `bytesSent` is undefined where the socket counts nothing (app.inject()). */
export type ResponseOver = (request: FastifyRequest, reply: FastifyReply, bytesSent: number | undefined) => void

/**
 * Called in onRequest, while the connection is surely open: read there what may be gone by the
 * end (the remote address), and return what to call when the response is over.
 */
export type ResponseStart = (request: FastifyRequest) => ResponseOver

const STARTS = new WeakMap<FastifyInstance, ResponseStart[]>()

// What the 'close' listener needs, kept on the raw response: one listener function shared by
// every request reads it from `this`, where a closure per request cost an allocation each.
const REPLY = Symbol('eggserve.responseOver.reply')
const OVER = Symbol('eggserve.responseOver.over')
const BEFORE = Symbol('eggserve.responseOver.bytesBefore')
// On the socket: its byte count when its last response was over.
const SENT = Symbol('eggserve.responseOver.bytesSent')

interface Pending {
  [REPLY]?: FastifyReply
  [OVER]?: ResponseOver | readonly ResponseOver[]
  [BEFORE]?: number | undefined
}

interface Counted {
  [SENT]?: number
}

/**
 * Call `start` for every request of `app`, and what it returns once the response is over. The
 * raw response's 'close' event fires both after a complete response and after the client went
 * away, so abandoned downloads are seen too. Layers run in the order they were added.
 */
export function onResponseOver(app: FastifyInstance, start: ResponseStart): void {
  const known = STARTS.get(app)
  if (known !== undefined) {
    known.push(start)
    return
  }
  const starts = [start]
  STARTS.set(app, starts)
  // A callback hook, not an async one: no promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    const response = reply.raw as ServerResponse & Pending
    const socket = request.raw.socket as Socket & Counted
    response[REPLY] = reply
    // The first response on a connection counts from here (a TLS socket may have counted its
    // handshake); the next ones from where the previous response ended (responseClosed), so
    // the socket's byte count (a getter that copies its write queue) is read once per response.
    // app.inject()'s fake socket counts nothing.
    if (socket[SENT] === undefined) {
      const written: unknown = socket.bytesWritten
      response[BEFORE] = typeof written === 'number' ? written : undefined
    }
    const [only] = starts
    response[OVER] = starts.length === 1 && only !== undefined ? only(request) : starts.map((each) => each(request))
    // 'close' fires once: `on` spares the wrapper `once` makes per request.
    response.on('close', responseClosed)
    done()
  })
}

function responseClosed(this: ServerResponse & Pending): void {
  const reply = this[REPLY]
  const over = this[OVER]
  if (reply === undefined || over === undefined) return
  const bytesSent = sentBy(reply.request.raw.socket, this[BEFORE])
  if (typeof over === 'function') over(reply.request, reply, bytesSent)
  else for (const each of over) each(reply.request, reply, bytesSent)
}

// The bytes written to the socket since the previous response on it was over (or since this
// one started, for the first): the same count as reading it at the start, on a connection
// that carries one request after the other; with pipelined requests, whose responses end in
// order, each counts what was written after the one before it.
function sentBy(socket: (Socket & Counted) | null, before: number | undefined): number | undefined {
  if (socket === null) return undefined
  const from = socket[SENT] ?? before
  if (from === undefined) return undefined
  const written: unknown = socket.bytesWritten
  if (typeof written !== 'number') return undefined
  socket[SENT] = written
  return written - from
}
