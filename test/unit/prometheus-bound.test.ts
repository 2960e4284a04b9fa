// Bound series of the prom-client backed Metrics: counts made through a bound counter add up
// locally and show at the next collection, as if counted one by one; a bound histogram
// observes into the same series as observe(labels, value).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cacheMeter } from '../../src/core/metrics.js'
import { createPrometheusMetrics } from '../../src/metrics/prometheus.js'
import { parseSamples, sampleValue } from '../helpers/metrics-text.js'

await test('a bound counter shows its total at each scrape, and keeps adding after one', async () => {
  const { metrics, exposition } = createPrometheusMetrics({ version: '0.0.0-test' })
  const counter = metrics.counter<'kind'>({ name: 'eggserve_test_things_total', help: 'Things', labelNames: ['kind'] })
  const red = counter.labels({ kind: 'red' })
  red.inc()
  red.inc(41)
  counter.inc({ kind: 'red' }, 100)
  const first = parseSamples(await exposition.render())
  assert.equal(sampleValue(first, 'eggserve_test_things_total', { kind: 'red' }), 142)
  red.inc(8)
  const second = parseSamples(await exposition.render())
  assert.equal(sampleValue(second, 'eggserve_test_things_total', { kind: 'red' }), 150)
  // Nothing counted since: the total stays.
  const third = parseSamples(await exposition.render())
  assert.equal(sampleValue(third, 'eggserve_test_things_total', { kind: 'red' }), 150)
})

await test('a bound counter series appears once counted, even by 0, and refuses what prom-client refuses', async () => {
  const { metrics, exposition } = createPrometheusMetrics({ version: '0.0.0-test' })
  const counter = metrics.counter<'kind'>({ name: 'eggserve_test_things_total', help: 'Things', labelNames: ['kind'] })
  const blue = counter.labels({ kind: 'blue' })
  counter.labels({ kind: 'green' })
  assert.equal((await exposition.render()).includes('kind="blue"'), false)
  blue.inc(0)
  const scraped = parseSamples(await exposition.render())
  assert.equal(sampleValue(scraped, 'eggserve_test_things_total', { kind: 'blue' }), 0)
  assert.equal((await exposition.render()).includes('kind="green"'), false)
  assert.throws(() => {
    blue.inc(-1)
  }, /decrease/)
  assert.throws(() => {
    blue.inc(Number.NaN)
  }, /not a valid number/)
})

await test('two caches share the hit counter, each bound to its own series', async () => {
  const { metrics, exposition } = createPrometheusMetrics({ version: '0.0.0-test' })
  const pages = cacheMeter(metrics, 'page')
  const metadata = cacheMeter(metrics, 'metadata')
  pages.hit()
  pages.hit()
  pages.miss()
  metadata.hit()
  const scraped = parseSamples(await exposition.render())
  assert.equal(sampleValue(scraped, 'eggserve_cache_hits_total', { cache: 'page' }), 2)
  assert.equal(sampleValue(scraped, 'eggserve_cache_misses_total', { cache: 'page' }), 1)
  assert.equal(sampleValue(scraped, 'eggserve_cache_hits_total', { cache: 'metadata' }), 1)
})

await test('a bound histogram observes into the series of its labels', async () => {
  const { metrics, exposition } = createPrometheusMetrics({ version: '0.0.0-test' })
  const histogram = metrics.histogram<'kind'>({
    name: 'eggserve_test_seconds',
    help: 'Time',
    labelNames: ['kind'],
    buckets: [1, 2],
  })
  histogram.labels({ kind: 'a' }).observe(0.5)
  histogram.observe({ kind: 'a' }, 1.5)
  const scraped = parseSamples(await exposition.render())
  assert.equal(sampleValue(scraped, 'eggserve_test_seconds_count', { kind: 'a' }), 2)
  assert.equal(sampleValue(scraped, 'eggserve_test_seconds_sum', { kind: 'a' }), 2)
  assert.equal(sampleValue(scraped, 'eggserve_test_seconds_bucket', { kind: 'a', le: '1' }), 1)
})
