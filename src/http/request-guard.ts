// The first hook every request meets: headers every response carries.
import type { FastifyInstance } from 'fastify'
import { NOSNIFF } from './security-headers.js'

/** Install the hook. Register it before any hook that may answer early (CORS preflights). */
export function registerRequestGuard (app: FastifyInstance): void {
  // A callback hook, not an async one: no promise per request on the hot path.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('x-content-type-options', NOSNIFF)
    done()
  })
}
