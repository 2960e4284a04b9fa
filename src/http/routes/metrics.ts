// GET /metrics: the Prometheus scrape endpoint, on the main listener (--metrics) or on its own
// small server (--metrics-listen, see src/http/metrics-app.ts).
import type { FastifyPluginCallback, onRequestAsyncHookHandler } from 'fastify'
import type { Exposition } from '../../core/metrics.js'

/** The path Prometheus scrapes by default (scrape_config metrics_path). */
export const METRICS_PATH = '/metrics'

/** Options of the metrics route. */
export interface MetricsRouteOptions {
  readonly exposition: Exposition
  /** Access checks (the main listener's, when reads need credentials); none on its own address. */
  readonly onRequest: onRequestAsyncHookHandler[]
}

/** The scrape endpoint. */
export const metricsRoutes: FastifyPluginCallback<MetricsRouteOptions> = (app, { exposition, onRequest }, done) => {
  app.get(METRICS_PATH, { onRequest }, async (_request, reply) => {
    const text = await exposition.render()
    // Every scrape must see current values, never a cached copy.
    return reply.header('cache-control', 'no-store').type(exposition.contentType).send(text)
  })
  done()
}
