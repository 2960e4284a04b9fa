// `Expect: 100-continue` (RFC 9110 §10.1.1): a client sends the headers of a large upload,
// then waits for "100 Continue" before sending the body. Node answers 100 itself the moment
// the headers arrive, unless the server listens for 'checkContinue'; then the request is ours.
// We answer 100 only once the route's onRequest hooks (access control) have let the request
// through and its body is about to be read (preParsing), as nginx does: a client without
// credentials gets its 401 before sending a byte of the body, not after sending all of it.
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, preParsingHookHandler } from 'fastify'

// Requests still waiting for their "100 Continue". Marks on request objects (as a private
// field would be): an entry lives as long as its request, whichever app it came through.
const waiting = new WeakSet<IncomingMessage>()

/** True while the client of `raw` waits for "100 Continue" and so has not sent its body. */
export function awaitsContinue(raw: IncomingMessage): boolean {
  return waiting.has(raw)
}

/** Route `Expect: 100-continue` requests through the app, answering 100 when the body is wanted. */
export function registerExpectContinue(app: FastifyInstance): void {
  app.server.on('checkContinue', (req, res) => {
    waiting.add(req)
    // Answered without asking for the body, the client will not send it, so this connection
    // cannot carry another request (RFC 9110 §10.1.1: say whether it will be closed). Set on
    // these rare responses from the start and taken back with the 100, rather than checked by
    // an onSend hook on every response.
    res.setHeader('connection', 'close')
    // The app's own request handler, as for any other request (Fastify's documented `routing`).
    app.routing(req, res)
  })
  // A callback hook, not an async one: no promise per request on the hot path. On the routes that
  // take a body only: Fastify reads none for GET and HEAD, and a preParsing hook on their routes
  // was a step of its hook runner on every download and page (a CPU profile of the small-file
  // row, docs/benchmarks.md). A GET or HEAD sent with the expectation has no body to wait for
  // (RFC 9110 §10.1.1: the server MAY omit the 100 when the framing says there is no content);
  // it is answered without a 100, and its connection closed, as set above.
  const continueWhenRead: preParsingHookHandler = (request, reply, payload, done) => {
    if (waiting.delete(request.raw)) {
      reply.raw.writeContinue()
      reply.raw.removeHeader('connection')
    }
    done(null, payload)
  }
  app.addHook('onRoute', (route) => {
    const methods = typeof route.method === 'string' ? [route.method] : route.method
    if (methods.every((method) => BODYLESS.has(method))) return
    const own = route.preParsing
    route.preParsing =
      own === undefined ? [continueWhenRead] : [continueWhenRead, ...(Array.isArray(own) ? own : [own])]
  })
}

// The methods Fastify never reads a body for.
const BODYLESS: ReadonlySet<string> = new Set(['GET', 'HEAD'])
