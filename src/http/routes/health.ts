// Liveness for process managers and load balancers.
import type { FastifyPluginCallback } from 'fastify'
import type { IndexService } from '../../index/index-service.js'

/** Options of the health route. */
export interface HealthRouteOptions {
  readonly index: IndexService
}

/** `GET /health`: 200 once the index is loaded, 503 before. */
export const healthRoutes: FastifyPluginCallback<HealthRouteOptions> = (app, { index }, done) => {
  app.get('/health', async (_request, reply) => {
    if (!index.loaded) return reply.code(503).send({ status: 'loading' })
    return reply.send({ status: 'ok' })
  })
  done()
}
