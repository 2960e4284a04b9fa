// The upstream hooks the metrics count: how a failed request is classified, when the circuit
// breaker counts an opening, and the breaker's state as the metrics read it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseSamples, sampleValue } from '../helpers/metrics-text.js'
import { CircuitBreaker, type BreakerState } from '../../src/upstream/circuit-breaker.js'
import { UpstreamFetchError, type FetchFailureKind } from '../../src/upstream/upstream-errors.js'
import { fileKind, outcomeOf, type UpstreamOutcome } from '../../src/upstream/upstream-observer.js'
import { createPrometheusMetrics } from '../../src/metrics/prometheus.js'
import { registerUpstreamBreakers, upstreamObserver } from '../../src/metrics/upstream-metrics.js'
import { NO_METRICS } from '../../src/core/metrics.js'

await test('a failed upstream request is classified by why it failed', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
  const cases: [FetchFailureKind, { status?: number; cause?: unknown }, UpstreamOutcome][] = [
    ['connect-timeout', {}, 'timeout'],
    ['first-byte-timeout', {}, 'timeout'],
    ['idle-timeout', {}, 'timeout'],
    ['network', { cause: refused }, 'refused'],
    ['network', { cause: reset }, 'error'],
    ['status', { status: 404 }, 'not_found'],
    ['status', { status: 410 }, 'not_found'],
    ['status', { status: 503 }, 'error'],
    ['digest', {}, 'invalid'],
    ['length', {}, 'invalid'],
    ['too-large', {}, 'error'],
    ['redirect', {}, 'error'],
    ['bad-page', {}, 'error'],
  ]
  for (const [kind, options, outcome] of cases)
    assert.equal(outcomeOf(new UpstreamFetchError(kind, 'x', options)), outcome, `${kind} ${JSON.stringify(options)}`)
  // A body cut by the network arrives as a plain error.
  assert.equal(outcomeOf(reset), 'error')
  assert.equal(fileKind('demo-1.0-py3-none-any.whl.metadata'), 'metadata')
  assert.equal(fileKind('demo-1.0.tar.gz'), 'file')
})

await test('the breaker counts an opening when it opens, not while it stays open', () => {
  let now = 0
  let openings = 0
  const breaker = new CircuitBreaker(
    { failures: 2, openMs: 1000 },
    () => now,
    () => {
      openings++
    },
  )
  breaker.failure()
  assert.equal(openings, 0)
  breaker.failure()
  assert.equal(breaker.state, 'open')
  assert.equal(openings, 1)
  // A request that was already out fails while open: it stays open, no new opening.
  breaker.failure()
  assert.equal(openings, 1)
  now = 5000
  assert.equal(breaker.allow(), true, 'half open: one probe')
  breaker.failure()
  assert.equal(breaker.state, 'open')
  assert.equal(openings, 2, 'a failed probe opens it again')
  now = 10_000
  assert.equal(breaker.allow(), true)
  breaker.success()
  assert.equal(openings, 2)
})

await test('the breaker state gauge: one series per state, 1 for the current one, read on each scrape', async () => {
  const { metrics, exposition } = createPrometheusMetrics({ version: '0.0.0' })
  const states = new Map<string, BreakerState>([
    ['https://a.example/simple/', 'closed'],
    ['https://b.example/simple/', 'open'],
  ])
  registerUpstreamBreakers(metrics, () => [...states].map(([upstream, state]) => ({ upstream, state })))
  const observer = upstreamObserver(metrics, [...states.keys()])
  observer.breakerOpened('https://b.example/simple/')
  let samples = parseSamples(await exposition.render())
  const gauge = (upstream: string, state: string): number | undefined =>
    sampleValue(samples, 'eggserve_upstream_breaker_state', { upstream, state })
  assert.equal(gauge('https://a.example/simple/', 'closed'), 1)
  assert.equal(gauge('https://a.example/simple/', 'open'), 0)
  assert.equal(gauge('https://b.example/simple/', 'open'), 1)
  assert.equal(gauge('https://b.example/simple/', 'half_open'), 0)
  assert.equal(
    sampleValue(samples, 'eggserve_upstream_breaker_openings_total', { upstream: 'https://b.example/simple/' }),
    1,
  )
  assert.equal(
    sampleValue(samples, 'eggserve_upstream_breaker_openings_total', { upstream: 'https://a.example/simple/' }),
    0,
  )
  states.set('https://b.example/simple/', 'half-open')
  samples = parseSamples(await exposition.render())
  assert.equal(gauge('https://b.example/simple/', 'open'), 0)
  assert.equal(gauge('https://b.example/simple/', 'half_open'), 1)
  // Without metrics nothing is declared and the hooks do nothing.
  upstreamObserver(NO_METRICS, ['https://a.example/simple/']).pageLookup('https://a.example/simple/', 'hit')
})
