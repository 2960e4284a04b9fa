// The Metrics seam backed by one prom-client registry. The daemon imports this module only
// when metrics are on (a dynamic import), so prom-client costs nothing at start-up otherwise.
// Nothing here uses prom-client's global default registry: everything goes to the registry
// made here, which later features (an upstream proxy, object storage) add their metrics to.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client'
import type { CollectedSpec, CounterMetric, Exposition, GaugeMetric, HistogramMetric, HistogramSpec, Labels, MetricSpec, Metrics } from '../core/metrics.js'

/** A registry with the Node process metrics, and the seam that adds eggserve's to it. */
export interface PrometheusMetrics {
  readonly metrics: Metrics
  readonly exposition: Exposition
}

/** Options of createPrometheusMetrics. */
export interface PrometheusOptions {
  /** eggserve's version, for eggserve_build_info. */
  readonly version: string
  /** Event-loop delay histogram resolution (prom-client's eventLoopMonitoringPrecision), ms. */
  readonly eventLoopPrecisionMs?: number
}

/** A fresh registry with the default process and Node metrics (event-loop lag included) and build info. */
export function createPrometheusMetrics (options: PrometheusOptions): PrometheusMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: options.eventLoopPrecisionMs ?? 10 })
  // These three are gauges named like counters, which `promtool check metrics` flags ("non-counter
  // metrics should not have _total suffix"); nodejs_active_{handles,requests,resources} carry the
  // same counts by type.
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name)
  const metrics = new RegistryMetrics(registry)
  metrics.gauge<'version' | 'node_version'>({
    name: 'eggserve_build_info',
    help: 'Always 1; the labels say which eggserve and which Node are running',
    labelNames: ['version', 'node_version'],
  }).set({ version: options.version, node_version: process.version }, 1)
  return {
    metrics,
    exposition: { contentType: registry.contentType, render: () => registry.metrics() },
  }
}

const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

type Kind = 'counter' | 'gauge' | 'histogram'

class RegistryMetrics implements Metrics {
  readonly enabled = true
  readonly #registry: Registry
  readonly #declared = new Map<string, { kind: Kind; labels: string; metric: Metric }>()

  constructor (registry: Registry) {
    this.#registry = registry
  }

  counter<L extends string = never> (spec: MetricSpec<L>): CounterMetric<L> {
    const counter = this.#declare(spec, 'counter', () => new Counter({ ...base(spec), registers: [this.#registry] }))
    return { inc: (labels: Labels<L>, value = 1) => { counter.inc(labels, value) } }
  }

  gauge<L extends string = never> (spec: MetricSpec<L>): GaugeMetric<L> {
    const gauge = this.#declare(spec, 'gauge', () => new Gauge({ ...base(spec), registers: [this.#registry] }))
    return { set: (labels: Labels<L>, value: number) => { gauge.set(labels, value) } }
  }

  collectedGauge<L extends string = never> (spec: CollectedSpec<L>): void {
    this.#declare(spec, 'gauge', () => new Gauge({
      ...base(spec),
      registers: [this.#registry],
      collect () {
        // Label sets that are gone must not keep their last value.
        this.reset()
        spec.collect((labels, value) => { this.set(labels, value) })
      },
    }))
  }

  collectedCounter<L extends string = never> (spec: CollectedSpec<L>): void {
    this.#declare(spec, 'counter', () => new Counter({
      ...base(spec),
      registers: [this.#registry],
      collect () {
        this.reset()
        spec.collect((labels, value) => { this.inc(labels, value) })
      },
    }))
  }

  histogram<L extends string = never> (spec: HistogramSpec<L>): HistogramMetric<L> {
    const histogram = this.#declare(spec, 'histogram', () => new Histogram({ ...base(spec), buckets: [...spec.buckets], registers: [this.#registry] }))
    return { observe: (labels: Labels<L>, value: number) => { histogram.observe(labels, value) } }
  }

  // One metric per name: a second declaration with the same kind and labels shares it.
  #declare<M extends Metric> (spec: MetricSpec<string>, kind: Kind, make: () => M): M {
    const labels = [...spec.labelNames].sort().join(',')
    const known = this.#declared.get(spec.name)
    if (known !== undefined) {
      if (known.kind !== kind || known.labels !== labels) {
        throw new TypeError(`Metric ${spec.name} is declared twice: as a ${known.kind} with labels [${known.labels}] and as a ${kind} with labels [${labels}]`)
      }
      // Same name, kind and labels: the metric made for that declaration.
      return known.metric as M
    }
    const metric = make()
    this.#declared.set(spec.name, { kind, labels, metric })
    return metric
  }
}

function base<L extends string> (spec: MetricSpec<L>): { name: string; help: string; labelNames: L[] } {
  return { name: spec.name, help: spec.help, labelNames: [...spec.labelNames] }
}
