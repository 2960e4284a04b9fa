// Metrics for the daemon: nothing at all when off; when on, one prom-client registry (loaded
// only then: a dynamic import keeps it out of every start-up without metrics), served on the
// main listener or on a small server of its own (--metrics-listen).
import { readFileSync } from 'node:fs'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { AppMetrics } from '../app.js'
import { describeErrno, ListenError } from '../errors.js'
import type { MetricsSetting } from './metrics-settings.js'
import { NO_METRICS, type Exposition, type Metrics } from '../core/metrics.js'

/** The daemon's metrics. */
export interface DaemonMetrics {
  /** Where every component counts; NO_METRICS when off. */
  readonly metrics: Metrics
  /** What buildApp gets: undefined when off. */
  readonly app: AppMetrics | undefined
  /** Listen on --metrics-listen's address, if any; resolves with the scrape URL served apart. */
  listen(): Promise<string | undefined>
  close(): Promise<void>
}

const OFF: DaemonMetrics = {
  metrics: NO_METRICS,
  app: undefined,
  listen: () => Promise.resolve(undefined),
  close: () => Promise.resolve(),
}

/** A --workers worker's metrics: the primary reads them, and aggregates every process's. */
export interface ClusterMetrics {
  provideMetrics(json: () => Promise<unknown>): void
  aggregateMetrics(): Promise<string>
}

/**
 * Create the registry (when metrics are on) and, for --metrics-listen, the server that serves
 * it. In a --workers worker, /metrics on the main port answers with every process's metrics
 * (the primary aggregates them), and --metrics-listen is the primary's to serve.
 */
export async function openMetrics(
  setting: MetricsSetting,
  logger: FastifyBaseLogger,
  cluster?: ClusterMetrics,
): Promise<DaemonMetrics> {
  if (!setting.enabled) return OFF
  const { createPrometheusMetrics } = await import('./prometheus.js')
  const { metrics, exposition, json } = createPrometheusMetrics({ version: packageVersion() })
  if (cluster !== undefined) {
    cluster.provideMetrics(json)
    const aggregated = { contentType: exposition.contentType, render: () => cluster.aggregateMetrics() }
    return {
      metrics,
      app: setting.listen === undefined ? { metrics, exposition: aggregated } : { metrics },
      listen: () => Promise.resolve(undefined),
      close: () => Promise.resolve(),
    }
  }
  const address = setting.listen
  if (address === undefined)
    return {
      metrics,
      app: { metrics, exposition },
      listen: () => Promise.resolve(undefined),
      close: () => Promise.resolve(),
    }
  return { metrics, app: { metrics }, ...(await serveApart({ exposition, logger, address })) }
}

/** The --metrics-listen server of `exposition` (the primary's, with --workers). */
export async function serveApart(apart: {
  exposition: Exposition
  logger: FastifyBaseLogger
  address: { host: string; port: number }
}): Promise<Pick<DaemonMetrics, 'listen' | 'close'>> {
  const { exposition, logger, address } = apart
  const { buildMetricsApp } = await import('../http/metrics-app.js')
  const server: FastifyInstance = await buildMetricsApp({ exposition, logger })
  return {
    listen: async () => {
      try {
        return `${await server.listen({ host: address.host, port: address.port, listenTextResolver: (bound) => `Metrics on ${bound}/metrics` })}/metrics`
      } catch (err) {
        await server.close()
        const reason =
          err instanceof Error && 'syscall' in err
            ? describeErrno(err)
            : err instanceof Error
              ? err.message
              : String(err)
        throw new ListenError(
          `Cannot listen on ${address.host}:${String(address.port)} (--metrics-listen): ${reason}`,
          { cause: err },
        )
      }
    },
    close: () => server.close(),
  }
}

/** eggserve's version (eggserve_build_info's label). */
export function packageVersion(): string {
  const raw: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  return typeof raw === 'object' && raw !== null && 'version' in raw && typeof raw.version === 'string'
    ? raw.version
    : '0.0.0'
}
