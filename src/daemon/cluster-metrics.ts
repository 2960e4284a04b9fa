// --workers N with --metrics: the primary's own registry (its process and the hashing, which
// only it does), and the aggregate of every process's metrics that /metrics on any worker and
// --metrics-listen (served by the primary) answer with.
import type { Config } from '../config.js'
import { NO_METRICS, type Metrics } from '../core/metrics.js'
import type { LoggerHandle } from '../logger.js'
import type { ProcessMetrics } from '../metrics/cluster-aggregate.js'
import { packageVersion, serveApart, type DaemonMetrics } from '../metrics/serve-metrics.js'

/** The primary's own metrics (its process, the hashing), when --metrics is on. */
export interface PrimaryTelemetry {
  readonly json: () => Promise<ProcessMetrics>
  readonly contentType: string
}

/** The --metrics-listen server, once listening. */
export type MetricsApart = Pick<DaemonMetrics, 'listen' | 'close'>

/** The primary's registry (prom-client, loaded only with --metrics), or none. */
export async function primaryMetrics(config: Config): Promise<{ metrics: Metrics; telemetry?: PrimaryTelemetry }> {
  if (!config.metrics.enabled) return { metrics: NO_METRICS }
  const { createPrometheusMetrics } = await import('../metrics/prometheus.js')
  const { metrics, json, exposition } = createPrometheusMetrics({ version: packageVersion() })
  return { metrics, telemetry: { json, contentType: exposition.contentType } }
}

/**
 * Every process's metrics as one exposition: the primary's and each worker's (`workers` asks
 * each for its registry's getMetricsAsJSON(); one that does not answer is left out).
 */
export async function aggregateClusterMetrics(
  telemetry: PrimaryTelemetry | undefined,
  workers: () => Promise<unknown>[],
): Promise<string> {
  if (telemetry === undefined) return ''
  const answers = await Promise.all(workers().map((answer) => answer.catch(() => undefined)))
  const { aggregateMetrics } = await import('../metrics/cluster-aggregate.js')
  const lists = [await telemetry.json(), ...answers.filter((list): list is ProcessMetrics => Array.isArray(list))]
  return aggregateMetrics(lists)
}

/** --metrics-listen: served by the primary, with `render` (every process's metrics). */
export async function metricsApart(options: {
  readonly config: Config
  readonly log: LoggerHandle
  readonly telemetry: PrimaryTelemetry | undefined
  readonly render: () => Promise<string>
}): Promise<MetricsApart | undefined> {
  const { config, log, telemetry, render } = options
  if (!config.metrics.enabled || config.metrics.listen === undefined || telemetry === undefined) return undefined
  const apart = await serveApart({
    exposition: { contentType: telemetry.contentType, render },
    logger: log.logger,
    address: config.metrics.listen,
  })
  await apart.listen()
  return apart
}
