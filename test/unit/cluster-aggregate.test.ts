// /metrics with --workers: three processes' real prom-client registries merged. Counts add up;
// the gauges every worker reports whole (the index's size) and the build info appear once.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { aggregateMetrics } from '../../src/metrics/cluster-aggregate.js'
import { registerHashingMetrics } from '../../src/metrics/index-metrics.js'
import { createPrometheusMetrics } from '../../src/metrics/prometheus.js'
import { parseSamples, sampleValue } from '../helpers/metrics-text.js'

function registry(files: number, hashed: number, uploads: number): ReturnType<typeof createPrometheusMetrics> {
  const made = createPrometheusMetrics({ version: '9.9.9' })
  made.metrics.collectedGauge({
    name: 'eggserve_index_files',
    help: 'Distribution files in the index',
    labelNames: [],
    collect: (set) => {
      set({}, files)
    },
  })
  registerHashingMetrics(made.metrics, { files: hashed, bytes: hashed * 10 })
  made.metrics
    .counter<'outcome'>({ name: 'eggserve_uploads_total', help: 'Uploads', labelNames: ['outcome'] })
    .inc({ outcome: 'created' }, uploads)
  return made
}

await test('counters are summed over the processes; the shared gauges and the build info are not', async () => {
  const primary = registry(0, 7, 0)
  const workers = [registry(7, 0, 2), registry(7, 0, 3)]
  const text = await aggregateMetrics(await Promise.all([primary, ...workers].map((made) => made.json())))
  const samples = parseSamples(text)
  assert.equal(sampleValue(samples, 'eggserve_hashed_files_total'), 7)
  assert.equal(sampleValue(samples, 'eggserve_hashed_bytes_total'), 70)
  assert.equal(sampleValue(samples, 'eggserve_uploads_total', { outcome: 'created' }), 5)
  assert.equal(sampleValue(samples, 'eggserve_index_files'), 7)
  assert.equal(sampleValue(samples, 'eggserve_build_info', { version: '9.9.9' }), 1)
})
