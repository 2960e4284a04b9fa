// The metrics seam: what the storage, index, upload, auth and HTTP layers see of metrics. It
// names no library; the daemon backs it with one prom-client registry when metrics are on
// (src/metrics/prometheus.ts), and everything else gets NO_METRICS, which records nothing.
// Names follow the Prometheus conventions (https://prometheus.io/docs/practices/naming/):
// an `eggserve_` prefix, base units (`_seconds`, `_bytes`) and `_total` on counters. Every
// metric is listed in docs/metrics.md.

/** Label values by label name. Values must come from a small fixed set, never from a request. */
export type Labels<L extends string> = Readonly<Record<L, string>>

/** What a metric is: its name, its help text and its label names. */
export interface MetricSpec<L extends string> {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly L[]
}

/** A histogram also has its bucket bounds. */
export interface HistogramSpec<L extends string> extends MetricSpec<L> {
  readonly buckets: readonly number[]
}

/** A metric read when metrics are scraped: `collect` sets its current values. */
export interface CollectedSpec<L extends string> extends MetricSpec<L> {
  readonly collect: (set: (labels: Labels<L>, value: number) => void) => void
}

/** A value that only goes up (per label set). */
export interface CounterMetric<L extends string> {
  inc(labels: Labels<L>, value?: number): void
  /**
   * The series of one label set, for code that counts into it on every request: binding once
   * saves looking the label set up on each count.
   */
  labels(labels: Labels<L>): BoundCounter
}

/** One series of a counter. */
export interface BoundCounter {
  inc(value?: number): void
}

/** A value that goes up and down. */
export interface GaugeMetric<L extends string> {
  set(labels: Labels<L>, value: number): void
}

/** Observations counted into buckets (durations, sizes). */
export interface HistogramMetric<L extends string> {
  observe(labels: Labels<L>, value: number): void
  /** The series of one label set (see CounterMetric.labels). */
  labels(labels: Labels<L>): BoundHistogram
}

/** One series of a histogram. */
export interface BoundHistogram {
  observe(value: number): void
}

/**
 * Where components declare their metrics. Declaring a name twice with the same kind and
 * labels gives the same metric (two caches share `eggserve_cache_hits_total`, told apart by
 * a label); any other reuse of a name is a programming error and throws.
 */
export interface Metrics {
  /** False for NO_METRICS: lets a caller skip work done only to feed metrics. */
  readonly enabled: boolean
  counter<L extends string = never>(spec: MetricSpec<L>): CounterMetric<L>
  gauge<L extends string = never>(spec: MetricSpec<L>): GaugeMetric<L>
  /** A gauge whose value is computed on each scrape, so keeping it costs nothing in between. */
  collectedGauge<L extends string = never>(spec: CollectedSpec<L>): void
  /** A counter kept by someone else (a running total), read on each scrape. */
  collectedCounter<L extends string = never>(spec: CollectedSpec<L>): void
  histogram<L extends string = never>(spec: HistogramSpec<L>): HistogramMetric<L>
}

/** What /metrics serves: every metric in the Prometheus text format, collected when asked. */
export interface Exposition {
  /** The Content-Type of the text format (version 0.0.4). */
  readonly contentType: string
  render(): Promise<string>
}

const IGNORED_SERIES = { inc: () => undefined, observe: () => undefined }
const IGNORED = { inc: () => undefined, set: () => undefined, observe: () => undefined, labels: () => IGNORED_SERIES }

/** Metrics off: every metric accepts values and keeps none. */
export const NO_METRICS: Metrics = {
  enabled: false,
  counter: () => IGNORED,
  gauge: () => IGNORED,
  collectedGauge: () => undefined,
  collectedCounter: () => undefined,
  histogram: () => IGNORED,
}

/** Hit and miss counters of one cache (`eggserve_cache_{hits,misses}_total{cache}`). */
export interface CacheMeter {
  hit(): void
  miss(): void
}

/** The hit and miss counters of the cache called `cache` (a fixed name chosen by the code). */
export function cacheMeter(metrics: Metrics, cache: string): CacheMeter {
  const hits = metrics.counter({
    name: 'eggserve_cache_hits_total',
    help: 'Lookups answered from an in-memory cache, by cache',
    labelNames: ['cache'],
  })
  const misses = metrics.counter({
    name: 'eggserve_cache_misses_total',
    help: 'Lookups an in-memory cache could not answer (the value was computed or read), by cache',
    labelNames: ['cache'],
  })
  // Bound once: a hit is counted on nearly every page and metadata request.
  const hit = hits.labels({ cache })
  const miss = misses.labels({ cache })
  return {
    hit: () => {
      hit.inc()
    },
    miss: () => {
      miss.inc()
    },
  }
}
