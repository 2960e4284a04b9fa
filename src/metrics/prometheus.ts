// The Metrics seam backed by one prom-client registry. The daemon imports this module only
// when metrics are on (a dynamic import), so prom-client costs nothing at start-up otherwise.
// Nothing here uses prom-client's global default registry: everything goes to the registry
// made here, which later features (an upstream proxy, object storage) add their metrics to.
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Registry,
  type Metric,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client'
import { CountedHistogram } from './counted-histogram.js'
import type {
  BoundCounter,
  CollectedSpec,
  CounterMetric,
  Exposition,
  GaugeMetric,
  HistogramMetric,
  HistogramSpec,
  Labels,
  MetricSpec,
  Metrics,
} from '../core/metrics.js'

/** A registry with the Node process metrics, and the seam that adds eggserve's to it. */
export interface PrometheusMetrics {
  readonly metrics: Metrics
  readonly exposition: Exposition
  /** The registry as prom-client's getMetricsAsJSON() gives it: what a --workers primary aggregates. */
  readonly json: () => Promise<MetricObjectWithValues<MetricValue<string>>[]>
}

/** Options of createPrometheusMetrics. */
export interface PrometheusOptions {
  /** eggserve's version, for eggserve_build_info. */
  readonly version: string
  /** Event-loop delay histogram resolution (prom-client's eventLoopMonitoringPrecision), ms. */
  readonly eventLoopPrecisionMs?: number
}

/** A fresh registry with the default process and Node metrics (event-loop lag included) and build info. */
export function createPrometheusMetrics(options: PrometheusOptions): PrometheusMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: options.eventLoopPrecisionMs ?? 10 })
  // These three are gauges named like counters, which `promtool check metrics` flags ("non-counter
  // metrics should not have _total suffix"); nodejs_active_{handles,requests,resources} carry the
  // same counts by type.
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name)
  const metrics = new RegistryMetrics(registry)
  metrics
    .gauge<'version' | 'node_version'>({
      name: 'eggserve_build_info',
      help: 'Always 1; the labels say which eggserve and which Node are running',
      labelNames: ['version', 'node_version'],
    })
    .set({ version: options.version, node_version: process.version }, 1)
  return {
    metrics,
    exposition: { contentType: registry.contentType, render: () => registry.metrics() },
    json: () => registry.getMetricsAsJSON(),
  }
}

const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
]

type Kind = 'counter' | 'gauge' | 'histogram'

class RegistryMetrics implements Metrics {
  readonly enabled = true
  readonly #registry: Registry
  readonly #declared = new Map<string, { kind: Kind; labels: string; metric: Metric }>()

  constructor(registry: Registry) {
    this.#registry = registry
  }

  counter<L extends string = never>(spec: MetricSpec<L>): CounterMetric<L> {
    const flushes = this.#flushes(spec.name)
    const counter = this.#declare(
      spec,
      'counter',
      () =>
        new Counter({
          ...base(spec),
          registers: [this.#registry],
          collect() {
            for (const flush of flushes) flush()
          },
        }),
    )
    return {
      inc: (labels: Labels<L>, value = 1) => {
        counter.inc(labels, value)
      },
      labels: (labels: Labels<L>) => {
        const series = new PendingCount()
        flushes.push(() => {
          series.flush((value) => {
            counter.inc(labels, value)
          })
        })
        return series
      },
    }
  }

  gauge<L extends string = never>(spec: MetricSpec<L>): GaugeMetric<L> {
    const gauge = this.#declare(spec, 'gauge', () => new Gauge({ ...base(spec), registers: [this.#registry] }))
    return {
      set: (labels: Labels<L>, value: number) => {
        gauge.set(labels, value)
      },
    }
  }

  collectedGauge<L extends string = never>(spec: CollectedSpec<L>): void {
    this.#declare(
      spec,
      'gauge',
      () =>
        new Gauge({
          ...base(spec),
          registers: [this.#registry],
          collect() {
            // Label sets that are gone must not keep their last value.
            this.reset()
            spec.collect((labels, value) => {
              this.set(labels, value)
            })
          },
        }),
    )
  }

  collectedCounter<L extends string = never>(spec: CollectedSpec<L>): void {
    this.#declare(
      spec,
      'counter',
      () =>
        new Counter({
          ...base(spec),
          registers: [this.#registry],
          collect() {
            this.reset()
            spec.collect((labels, value) => {
              this.inc(labels, value)
            })
          },
        }),
    )
  }

  histogram<L extends string = never>(spec: HistogramSpec<L>): HistogramMetric<L> {
    const histogram = this.#declare(
      spec,
      'histogram',
      () => new CountedHistogram<L>({ ...base(spec), buckets: spec.buckets, registers: [this.#registry] }),
    )
    return {
      observe: (labels: Labels<L>, value: number) => {
        histogram.series(labels).observe(value)
      },
      // Bound once: each observation then adds to plain numbers (counted-histogram.ts).
      labels: (labels: Labels<L>) => histogram.series(labels),
    }
  }

  // Counts of bound counter series not yet handed to prom-client, by metric name.
  readonly #pending = new Map<string, (() => void)[]>()

  #flushes(name: string): (() => void)[] {
    let flushes = this.#pending.get(name)
    if (flushes === undefined) {
      flushes = []
      this.#pending.set(name, flushes)
    }
    return flushes
  }

  // One metric per name: a second declaration with the same kind and labels shares it.
  #declare<M extends Metric>(spec: MetricSpec<string>, kind: Kind, make: () => M): M {
    const labels = [...spec.labelNames].sort().join(',')
    const known = this.#declared.get(spec.name)
    if (known !== undefined) {
      if (known.kind !== kind || known.labels !== labels) {
        throw new TypeError(
          `Metric ${spec.name} is declared twice: as a ${known.kind} with labels [${known.labels}] and as a ${kind} with labels [${labels}]`,
        )
      }
      // Same name, kind and labels: the metric made for that declaration.
      return known.metric as M
    }
    const metric = make()
    this.#declared.set(spec.name, { kind, labels, metric })
    return metric
  }
}

/**
 * A bound counter series that adds up locally and hands its total to prom-client when metrics
 * are collected (a scrape): prom-client's inc() builds and checks a key from the label object on
 * every call, which showed as a cost per request under load (docs/metrics.md, "Cost").
 */
class PendingCount implements BoundCounter {
  #pending = 0
  // Counted at all since the last flush (an inc(0) makes the series appear, as in prom-client).
  #touched = false

  inc(value = 1): void {
    // The checks prom-client makes, so a bad value still throws where it is counted.
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${String(value)}`)
    if (value < 0) throw new Error('It is not possible to decrease a counter')
    this.#pending += value
    this.#touched = true
  }

  flush(add: (value: number) => void): void {
    if (!this.#touched) return
    add(this.#pending)
    this.#pending = 0
    this.#touched = false
  }
}

function base<L extends string>(spec: MetricSpec<L>): { name: string; help: string; labelNames: L[] } {
  return { name: spec.name, help: spec.help, labelNames: [...spec.labelNames] }
}
