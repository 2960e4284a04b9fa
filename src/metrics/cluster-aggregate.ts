// /metrics with --workers: every process's registry (the primary's and each worker's, as
// getMetricsAsJSON() gives them) merged by prom-client's AggregatorRegistry. Counters and
// histograms add up; a gauge adds up unless it describes the one shared tree, which each
// worker reports whole (the index's size, the warm-up's backlog), or a fact of the build.
// Loaded only when metrics are on.
import { AggregatorRegistry, type Aggregator, type MetricObjectWithValues, type MetricValue } from 'prom-client'

const SHARED: Readonly<Record<string, Aggregator>> = {
  eggserve_build_info: 'first',
  eggserve_index_projects: 'max',
  eggserve_index_files: 'max',
  eggserve_index_bytes: 'max',
  eggserve_hashing_backlog_files: 'max',
  eggserve_hashing_backlog_bytes: 'max',
  eggserve_hashing_progress_ratio: 'min',
  eggserve_ready: 'min',
}

/** One process's metrics, as getMetricsAsJSON() returns them. */
export type ProcessMetrics = MetricObjectWithValues<MetricValue<string>>[]

/** The text exposition of all processes' metrics together. */
export async function aggregateMetrics(processes: readonly ProcessMetrics[]): Promise<string> {
  const lists = processes.map((metrics) =>
    metrics.map((metric) => {
      const aggregator = SHARED[metric.name]
      return aggregator === undefined ? metric : { ...metric, aggregator }
    }),
  )
  return AggregatorRegistry.aggregate(lists).metrics()
}
