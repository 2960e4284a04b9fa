// One per-request hook for everything recorded once a response is over (the access log, the
// request metrics): one onRequest hook, one 'close' listener and one count of the bytes sent,
// however many layers want them. Each layer adds work to every request, and with two of them
// the second hook and listener were a measurable share of a page request (docs/metrics.md, "Cost").
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** Called when the response is over; `bytesSent` is undefined where the socket counts nothing (app.inject()). */
export type ResponseOver = (request: FastifyRequest, reply: FastifyReply, bytesSent: number | undefined) => void

/**
 * Called in onRequest, while the connection is surely open: read there what may be gone by the
 * end (the remote address), and return what to call when the response is over.
 */
export type ResponseStart = (request: FastifyRequest) => ResponseOver

const STARTS = new WeakMap<FastifyInstance, ResponseStart[]>()

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
    const socket = request.raw.socket
    // Bytes this socket had written before this response (keep-alive connections carry several).
    // app.inject()'s fake socket counts nothing.
    const before = typeof socket.bytesWritten === 'number' ? socket.bytesWritten : undefined
    const [only] = starts
    if (starts.length === 1 && only !== undefined) {
      const over = only(request)
      // 'close' fires once: `on` spares the wrapper `once` makes per request. One closure per
      // request (a helper reading the byte count would be a second).
      reply.raw.on('close', () => {
        over(request, reply, before === undefined ? undefined : socket.bytesWritten - before)
      })
    } else {
      const overs = starts.map((each) => each(request))
      reply.raw.on('close', () => {
        const bytesSent = before === undefined ? undefined : socket.bytesWritten - before
        for (const over of overs) over(request, reply, bytesSent)
      })
    }
    done()
  })
}
