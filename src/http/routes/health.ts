// Liveness and readiness for process managers and load balancers.
import type { FastifyPluginCallback } from 'fastify'
import type { IndexService } from '../../live-index/index-service.js'
import type { Readiness } from '../../live-index/background.js'

/** Options of the health routes. */
export interface HealthRouteOptions {
  readonly index: IndexService
  /** Defaults to "ready once the index is loaded". */
  readonly readiness?: () => Readiness
}

/**
 * `GET /health`: 200 once the tree is scanned (the server answers as soon as it listens).
 * `GET /health/ready`: 200 once every file is hashed, 503 with the progress before.
 */
export const healthRoutes: FastifyPluginCallback<HealthRouteOptions> = (app, { index, readiness }, done) => {
  app.get('/health', async (_request, reply) => {
    if (!index.loaded) return reply.code(503).send({ status: 'loading' })
    return reply.send({ status: 'ok' })
  })
  app.get('/health/ready', async (_request, reply) => {
    const state = readiness?.() ?? { ready: index.loaded }
    reply.header('cache-control', 'no-store')
    if (state.ready) return reply.send({ status: 'ready' })
    const p = state.progress
    return reply.code(503).send(
      p === undefined
        ? { status: 'loading' }
        : {
            status: 'hashing',
            files: p.files,
            filesDone: p.filesDone,
            bytes: p.bytes,
            bytesDone: p.bytesDone,
            etaSeconds: p.etaSeconds === undefined ? null : Math.ceil(p.etaSeconds),
          },
    )
  })
  done()
}
