// The histogram that counts its observations itself (src/metrics/counted-histogram.ts) against
// prom-client's own Histogram fed the same observations: the same text exposition, the same
// getMetricsAsJSON() and the same --workers aggregation, at every scrape, across scrapes with
// observations in between, and after a reset.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Histogram, Registry } from 'prom-client'
import { aggregateMetrics, type ProcessMetrics } from '../../src/metrics/cluster-aggregate.js'
import { CountedHistogram } from '../../src/metrics/counted-histogram.js'

type Label = 'route' | 'status_class'

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.1, 1, 10]
const SPEC = { name: 'eggserve_test_duration_seconds', help: 'Time', labelNames: ['route', 'status_class'] as Label[] }

/** The same histogram twice: prom-client's, and the counted one, each in a registry of its own. */
function pair(labelNames: Label[] = SPEC.labelNames): {
  reference: Histogram<Label>
  counted: CountedHistogram<Label>
  registries: { reference: Registry; counted: Registry }
} {
  const registries = { reference: new Registry(), counted: new Registry() }
  const reference = new Histogram<Label>({ ...SPEC, labelNames, buckets: BUCKETS, registers: [registries.reference] })
  const counted = new CountedHistogram<Label>({
    ...SPEC,
    labelNames,
    buckets: BUCKETS,
    registers: [registries.counted],
  })
  return { reference, counted, registries }
}

// Values in and between the buckets, on bounds, at zero and above every bound, with fractions
// whose float sum depends on the order they are added in. A fixed sequence: no randomness.
function* values(count: number, seed: number): Generator<number> {
  let state = seed
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2147483648
    const pick = state % 10
    if (pick === 0) yield BUCKETS[state % BUCKETS.length] ?? 0
    else if (pick === 1) yield 0
    else if (pick === 2) yield 12 + (state % 1000) / 7
    else yield (state / 2147483648) ** 3 * 2
  }
}

async function assertSame(registries: { reference: Registry; counted: Registry }, when: string): Promise<void> {
  assert.equal(await registries.counted.metrics(), await registries.reference.metrics(), `text exposition ${when}`)
  assert.deepEqual(
    withoutExemplars(await registries.counted.getMetricsAsJSON()),
    withoutExemplars(await registries.reference.getMetricsAsJSON()),
    `getMetricsAsJSON() ${when}`,
  )
}

// prom-client writes `exemplar: null` (or undefined) on each sample of a histogram without
// exemplars; nothing reads it (the registry prints exemplars only in OpenMetrics, the aggregation drops them).
function withoutExemplars(metrics: ProcessMetrics): unknown {
  return JSON.parse(JSON.stringify(metrics, (key, value: unknown) => (key === 'exemplar' ? undefined : value)))
}

await test('bound series give prom-client Histogram exposition at every scrape, observations in between', async () => {
  const { reference, counted, registries } = pair()
  const labelSets: Record<Label, string>[] = [
    { route: '/simple/:project/', status_class: '2xx' },
    { route: '/simple/', status_class: '2xx' },
    { status_class: '4xx', route: 'unmatched' },
  ]
  const bound = labelSets.map((labels) => counted.series(labels))
  // Bound but never observed: neither shows it.
  counted.series({ route: '/never/', status_class: '5xx' })
  reference.labels({ route: '/never/', status_class: '5xx' })
  await assertSame(registries, 'before any observation')
  let round = 0
  for (const count of [1, 500, 0, 4000, 3]) {
    let i = 0
    for (const value of values(count, 7 + round)) {
      const which = (i++ * 7 + round) % labelSets.length
      reference.observe(labelSets[which] ?? {}, value)
      bound[which]?.observe(value)
    }
    await assertSame(registries, `at scrape ${String(round)} (after ${String(count)} more)`)
    round++
  }
  // A scrape changes nothing: the counts are not handed over and dropped, nor added twice.
  const text = await registries.counted.metrics()
  assert.equal(await registries.counted.metrics(), text)
  assert.match(text, /eggserve_test_duration_seconds_count\{route="\/simple\/:project\/",status_class="2xx"\} \d+/)
})

await test('observe by labels finds the bound series; a reset empties it as prom-client does', async () => {
  const { reference, counted, registries } = pair()
  for (const value of values(300, 3)) {
    const labels = { route: value > 0.5 ? '/a/' : '/b/', status_class: '2xx' }
    reference.observe(labels, value)
    counted.series(labels).observe(value)
  }
  const bound = counted.series({ route: '/a/', status_class: '2xx' })
  await assertSame(registries, 'before reset')
  reference.reset()
  counted.reset()
  await assertSame(registries, 'after reset')
  reference.observe({ route: '/a/', status_class: '2xx' }, 0.002)
  bound.observe(0.002)
  await assertSame(registries, 'after reset and an observation through a series bound before it')
})

await test('a histogram without labels shows its zero series from the start, as prom-client does', async () => {
  const { reference, counted, registries } = pair([])
  await assertSame(registries, 'at start')
  for (const value of values(50, 11)) {
    reference.observe(value)
    counted.series({} as Record<Label, string>).observe(value)
  }
  await assertSame(registries, 'after observations')
})

await test('the --workers aggregation of counted histograms equals that of prom-client ones', async () => {
  const processes = [pair(), pair(), pair()]
  processes.forEach(({ reference, counted }, index) => {
    for (const value of values(200 * (index + 1), index)) {
      const labels = { route: `/r${String(index % 2)}/`, status_class: '2xx' }
      reference.observe(labels, value)
      counted.series(labels).observe(value)
    }
  })
  const counted = await aggregateMetrics(
    await Promise.all(processes.map((p) => p.registries.counted.getMetricsAsJSON())),
  )
  const reference = await aggregateMetrics(
    await Promise.all(processes.map((p) => p.registries.reference.getMetricsAsJSON())),
  )
  assert.equal(counted, reference)
  assert.match(counted, /eggserve_test_duration_seconds_count\{route="\/r0\/",status_class="2xx"\} 800/)
})

await test('bad values and unknown labels are refused with prom-client messages', () => {
  const { reference, counted } = pair()
  const labels = { route: '/a/', status_class: '2xx' }
  for (const value of [Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => {
      reference.observe(labels, value)
    }, /^TypeError: Value is not a valid number/)
    assert.throws(() => {
      counted.series(labels).observe(value)
    }, /^TypeError: Value is not a valid number/)
  }
  const wrong = { route: '/a/', status: '2xx' } as unknown as Record<Label, string>
  const message = /Added label "status" is not included in initial labelset/
  assert.throws(() => {
    reference.observe(wrong, 1)
  }, message)
  assert.throws(() => {
    counted.series(wrong)
  }, message)
  assert.throws(
    () => new CountedHistogram<'le'>({ ...SPEC, labelNames: ['le'], buckets: BUCKETS, registers: [] }),
    /le is a reserved/,
  )
})
