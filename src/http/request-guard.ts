// The first hook every request meets: a Host header that is one valid value (RFC 9112 §3.2,
// as nginx enforces it), the headers every response carries, and CORS (cors.ts). One hook for
// all three: each hook is work on every request.
import type { FastifyInstance } from 'fastify'
import { isValidHost } from '../core/host.js'
import { applyCors } from './cors.js'
import { NOSNIFF } from './security-headers.js'

/** Install the hook. Register it before any hook that may answer early. */
export function registerRequestGuard(app: FastifyInstance): void {
  // Clients send one Host value over and over: the last one found valid is not checked again.
  let validHost: string | undefined
  // A callback hook, not an async one: no promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-content-type-options', NOSNIFF)
    // RFC 9112 §3.2: 400 for more than one Host line or an invalid value. Node keeps the first
    // of several Host lines in `headers`, so they are counted in the raw list. (A missing Host
    // in HTTP/1.1 is answered 400 by Node itself: requireHostHeader.)
    const host = request.headers.host
    let problem: string | undefined
    if (hostLines(request.raw.rawHeaders) > 1) problem = 'more than one Host header'
    else if (host !== undefined && host !== validHost) {
      if (isValidHost(host)) validHost = host
      else problem = 'the Host header is not a valid host[:port]'
    }
    if (problem === undefined) {
      if (!applyCors(request, reply)) done()
      return
    }
    // Answered here, and the connection closed: what follows on it cannot be trusted either.
    void reply
      .code(400)
      .header('connection', 'close')
      .type('text/plain; charset=utf-8')
      .send(`Bad Request: ${problem}\n`)
  })
}

function hostLines(raw: readonly string[]): number {
  let count = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]
    if (name?.length === 4 && name.toLowerCase() === 'host') count++
  }
  return count
}
