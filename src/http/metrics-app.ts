// The small server of --metrics-listen: only GET /metrics, on an address of its own (a
// loopback or management interface), so metrics need not be public and need no credentials.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Exposition } from '../core/metrics.js'
import { metricsRoutes } from './routes/metrics.js'

/** Build the metrics server; the daemon listens on it. */
export async function buildMetricsApp(options: {
  readonly exposition: Exposition
  readonly logger: FastifyBaseLogger
}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'metrics' }),
    // A scrape every few seconds would flood the access log.
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    forceCloseConnections: 'idle',
  })
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).type('text/plain; charset=utf-8').send('Not Found: this address serves /metrics only\n'),
  )
  await app.register(metricsRoutes, { exposition: options.exposition, onRequest: [] })
  return app
}
