// The upstream settings (--upstream, --never-upstream, --merge-upstream, --offline and their
// variables) and the circuit breaker.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { resolveConfig } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'
import { CircuitBreaker } from '../../src/upstream/circuit-breaker.js'
import { parseUpstreamUrl, resolveUpstreamConfig } from '../../src/upstream/upstream-settings.js'

await test('flags keep their order; variables are split; flags win', () => {
  const config = resolveUpstreamConfig(
    {
      upstream: ['https://a.example/simple', 'http://b.example/pypi/simple/'],
      neverUpstream: ['acme-*'],
      mergeUpstream: ['NumPy'],
    },
    { EGGSERVE_UPSTREAM: 'https://ignored.example/' },
  )
  assert.deepEqual(
    config.upstreams.map((upstream) => upstream.url),
    ['https://a.example/simple/', 'http://b.example/pypi/simple/'],
  )
  assert.deepEqual(config.neverUpstream, ['acme-*'])
  assert.deepEqual(config.merge, ['numpy'])
  assert.equal(config.offline, false)
  const fromEnv = resolveUpstreamConfig(
    {},
    {
      EGGSERVE_UPSTREAM: ' https://a.example/simple/\nhttps://b.example/simple/ ',
      EGGSERVE_NEVER_UPSTREAM: 'acme-*, corp_*',
      EGGSERVE_MERGE_UPSTREAM: 'numpy scipy',
      EGGSERVE_OFFLINE: 'yes',
    },
  )
  assert.deepEqual(
    fromEnv.upstreams.map((upstream) => upstream.url),
    ['https://a.example/simple/', 'https://b.example/simple/'],
  )
  assert.deepEqual(fromEnv.neverUpstream, ['acme-*', 'corp_*'])
  assert.deepEqual(fromEnv.merge, ['numpy', 'scipy'])
  assert.equal(fromEnv.offline, true)
})

await test('credentials in an upstream URL become its Authorization and leave the URL', () => {
  const upstream = parseUpstreamUrl('https://deploy:s3cr%40t@repo.example/simple')
  assert.equal(upstream.url, 'https://repo.example/simple/')
  assert.equal(upstream.label, 'https://repo.example/simple/')
  assert.equal(upstream.authorization, `Basic ${Buffer.from('deploy:s3cr@t').toString('base64')}`)
  assert.equal(parseUpstreamUrl('https://repo.example/simple/').authorization, undefined)
})

await test('bad values are ConfigErrors that never show a credential', () => {
  for (const bad of [
    'ftp://u:secret@repo.example/simple/',
    'file:///srv/simple/',
    'https://u:secret@repo.example/simple/?x=1',
    'not a url secret',
  ]) {
    assert.throws(
      () => parseUpstreamUrl(bad),
      (err: unknown) => err instanceof ConfigError && !err.message.includes('secret'),
      bad,
    )
  }
  assert.throws(() => resolveUpstreamConfig({ neverUpstream: ['acme-['] }, {}), ConfigError)
  assert.throws(() => resolveUpstreamConfig({ mergeUpstream: ['-bad-'] }, {}), ConfigError)
  assert.throws(() => resolveUpstreamConfig({}, { EGGSERVE_OFFLINE: 'maybe' }), ConfigError)
})

await test('--upstream needs a cache directory', () => {
  assert.throws(
    () => resolveConfig({ upstream: ['https://pypi.example/simple/'], cacheDir: 'none' }, {}),
    /needs a cache directory/,
  )
  assert.equal(
    resolveConfig({ upstream: ['https://pypi.example/simple/'], cacheDir: '/tmp/x' }, {}).upstream.upstreams.length,
    1,
  )
})

await test('the circuit breaker opens after N failures in a row, lets one probe through later, and closes on success', () => {
  let now = 0
  const breaker = new CircuitBreaker({ failures: 3, openMs: 1000 }, () => now)
  breaker.failure()
  breaker.failure()
  breaker.success()
  breaker.failure()
  breaker.failure()
  assert.equal(breaker.state, 'closed', 'a success resets the count')
  breaker.failure()
  assert.equal(breaker.state, 'open')
  assert.equal(breaker.allow(), false)
  now = 1000
  assert.equal(breaker.state, 'half-open')
  assert.equal(breaker.allow(), true)
  assert.equal(breaker.allow(), false, 'one probe at a time')
  breaker.failure()
  assert.equal(breaker.state, 'open', 'a failed probe opens it again')
  now = 2000
  assert.equal(breaker.allow(), true)
  breaker.success()
  assert.equal(breaker.state, 'closed')
  assert.equal(breaker.allow(), true)
})

await test('--upstream-ttl and --upstream-timeout apply to every upstream; connecting never waits longer than answering', () => {
  const config = resolveUpstreamConfig(
    { upstream: ['https://a.example/simple/', 'https://b.example/simple/'], upstreamTtl: '0', upstreamTimeout: '1.5' },
    {},
  )
  for (const upstream of config.upstreams) {
    assert.equal(upstream.ttlMs, 0)
    assert.equal(upstream.timeouts.firstByteMs, 1500)
    assert.equal(upstream.timeouts.connectMs, 1500)
  }
  const defaults = resolveUpstreamConfig({ upstream: ['https://a.example/simple/'] }, { EGGSERVE_UPSTREAM_TTL: '60' })
  const [only] = defaults.upstreams
  assert.ok(only !== undefined)
  assert.equal(only.ttlMs, 60_000)
  assert.equal(only.timeouts.connectMs, 3000)
  assert.equal(only.timeouts.firstByteMs, 10_000)
  assert.throws(() => resolveUpstreamConfig({ upstreamTtl: 'soon' }, {}), /--upstream-ttl/)
  assert.throws(() => resolveUpstreamConfig({}, { EGGSERVE_UPSTREAM_TIMEOUT: '-1' }), /EGGSERVE_UPSTREAM_TIMEOUT/)
})
