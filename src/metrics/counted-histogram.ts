// A prom-client Histogram whose series count their observations in plain numbers, read when
// metrics are collected. prom-client's own observe() checks the label object, builds a key
// from it and finds the bucket by its bound turned into a string, on every call: under load
// that was the largest part of what --metrics cost a page request (docs/metrics.md, "Cost").
// prom-client has no way to add counted buckets to a series in bulk, so this subclass answers
// the registry's reads itself, with the values, labels and names prom-client's Histogram
// gives: the text exposition, getMetricsAsJSON() and the --workers aggregation of it see no
// difference (test/unit/counted-histogram.test.ts compares them).
import { inspect } from 'node:util'
import {
  Histogram,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricValueWithName,
  type Registry,
} from 'prom-client'
import type { BoundHistogram, Labels } from '../core/metrics.js'

/** A sample as prom-client's Histogram keeps it before get() merges `sharedLabels` (the series' labels) into `labels`. */
type UnsplitValue<L extends string> = Omit<MetricValueWithName<L>, 'labels'> & {
  readonly labels: LabelValues<'le'>
  readonly sharedLabels: LabelValues<L>
}

type Unsplit<L extends string> = MetricObjectWithValues<UnsplitValue<L>>

declare module 'prom-client' {
  interface Histogram<T extends string> {
    /**
     * The samples with each series' labels apart: what the registry formats the text exposition
     * from where a metric has it (lib/registry.js), and what get() reshapes (lib/histogram.js).
     * prom-client's types leave it out.
     */
    getForPromString(): Promise<MetricObjectWithValues<UnsplitValue<T>>>
  }
}

/** A histogram declared with prom-client's checks and registered in its registries. */
export interface CountedHistogramConfig<L extends string> {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly L[]
  readonly buckets: readonly number[]
  readonly registers: Registry[]
}

/**
 * Only series() counts: prom-client's observe(), labels(), zero() and startTimer() of the
 * base class would write where get() does not look, and this module's callers never reach
 * them (the Metrics seam hands out series()).
 */
export class CountedHistogram<L extends string> extends Histogram<L> {
  readonly #bounds: readonly number[]
  readonly #labelNames: readonly L[]
  // Sorted, as prom-client sorts them for its series keys.
  readonly #sortedLabelNames: readonly L[]
  readonly #byKey = new Map<string, CountedSeries<L>>()
  // Series in the order they appeared since the last reset (prom-client's order): at their first observation.
  readonly #observed: CountedSeries<L>[] = []

  constructor(config: CountedHistogramConfig<L>) {
    // prom-client checks the name, the label names ("le" is reserved) and registers the metric.
    super({
      name: config.name,
      help: config.help,
      labelNames: [...config.labelNames],
      buckets: [...config.buckets],
      registers: config.registers,
    })
    this.#bounds = [...config.buckets]
    this.#labelNames = [...config.labelNames]
    this.#sortedLabelNames = [...config.labelNames].sort()
    // prom-client shows the one series of a histogram without labels from the start, at zero.
    if (this.#labelNames.length === 0) this.series({} as Labels<L>).show()
  }

  /** The series of `labels`, made on first use; it appears in the exposition once it observes. */
  series(labels: Labels<L>): CountedSeries<L> {
    const key = this.#key(labels)
    let series = this.#byKey.get(key)
    if (series === undefined) {
      series = new CountedSeries({ ...labels }, this.#bounds, (shown) => this.#observed.push(shown))
      this.#byKey.set(key, series)
    }
    return series
  }

  // prom-client's key: the label names it was given, sorted, with their values.
  #key(labels: Labels<L>): string {
    const given: Readonly<Record<string, string | undefined>> = labels
    for (const name of Object.keys(given)) {
      if (!(this.#labelNames as readonly string[]).includes(name)) {
        // prom-client's message, so a wrong label reads the same as with its own histograms.
        throw new Error(`Added label "${name}" is not included in initial labelset: ${inspect(this.#labelNames)}`)
      }
    }
    const parts: string[] = []
    for (const name of this.#sortedLabelNames) {
      const value = given[name]
      if (value !== undefined) parts.push(`${name}:${value}`)
    }
    return parts.join(',')
  }

  // What the registry reads for the text exposition, and what prom-client's get() (for
  // getMetricsAsJSON()) reads and reshapes: prom-client's own gives the name, help, type and
  // aggregator, and values from the base class's series, which are not used here.
  override async getForPromString(): Promise<Unsplit<L>> {
    const collected = await super.getForPromString()
    return { ...collected, values: this.#values(collected.name) }
  }

  override reset(): void {
    super.reset()
    // prom-client's constructor calls reset() before this class's fields exist: nothing to clear then.
    if (!(#observed in this)) return
    for (const series of this.#observed) series.clear()
    this.#observed.length = 0
  }

  // prom-client's samples: each bucket's count of the observations at or under its bound, then
  // +Inf, sum and count; the series' labels apart (`sharedLabels`), printed after `le`.
  #values(name: string): UnsplitValue<L>[] {
    const bucket = `${name}_bucket`
    const values: UnsplitValue<L>[] = []
    for (const series of this.#observed) {
      const { labels, counts } = series
      let cumulative = 0
      this.#bounds.forEach((bound, index) => {
        cumulative += counts[index] ?? 0
        values.push({ labels: { le: bound }, sharedLabels: labels, value: cumulative, metricName: bucket })
      })
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: labels, value: series.count, metricName: bucket },
        { labels: {}, sharedLabels: labels, value: series.sum, metricName: `${name}_sum` },
        { labels: {}, sharedLabels: labels, value: series.count, metricName: `${name}_count` },
      )
    }
    return values
  }
}

/** One series: its observations by bucket (not cumulative; above every bound only in count), sum and count. */
export class CountedSeries<L extends string> implements BoundHistogram {
  readonly labels: Labels<L>
  readonly counts: number[]
  sum = 0
  count = 0
  readonly #bounds: readonly number[]
  readonly #appear: (series: CountedSeries<L>) => void
  #shown = false

  constructor(labels: Labels<L>, bounds: readonly number[], appear: (series: CountedSeries<L>) => void) {
    this.labels = labels
    this.#bounds = bounds
    this.counts = bounds.map(() => 0)
    this.#appear = appear
  }

  observe(value: number): void {
    // prom-client's check and message.
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${String(value)}`)
    if (!this.#shown) this.show()
    // In prom-client's order (sum, count, bucket), so the sum adds up to the same float.
    this.sum += value
    this.count += 1
    // The first bound at or above the value, as prom-client finds it.
    let index = 0
    for (const bound of this.#bounds) {
      if (value <= bound) {
        this.counts[index] = (this.counts[index] ?? 0) + 1
        return
      }
      index++
    }
  }

  /** Appear in the exposition (at zero until observed). */
  show(): void {
    if (this.#shown) return
    this.#shown = true
    this.#appear(this)
  }

  /** Back to zero, and out of the exposition until observed again (prom-client's reset()). */
  clear(): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
    this.#shown = false
  }
}
