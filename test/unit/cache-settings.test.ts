// --upstream-cache-max and --upstream-hash-change, and their variables.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError } from '../../src/errors.js'
import { parseCacheSize, resolveCacheSettings } from '../../src/upstream/cache-settings.js'
import { resolveUpstreamConfig } from '../../src/upstream/upstream-settings.js'

await test('sizes: bytes, or K, M, G, T in powers of 1024', () => {
  assert.equal(parseCacheSize('1000'), 1000)
  assert.equal(parseCacheSize('500M'), 500 * 1024 ** 2)
  assert.equal(parseCacheSize('10G'), 10 * 1024 ** 3)
  assert.equal(parseCacheSize('1.5g'), 1.5 * 1024 ** 3)
  assert.equal(parseCacheSize('2TiB'), 2 * 1024 ** 4)
  for (const bad of ['', '0', '-1G', '10X', 'G', 'ten']) assert.throws(() => parseCacheSize(bad), ConfigError, bad)
  assert.throws(() => parseCacheSize('10X'), /Invalid size "10X" \(--upstream-cache-max\)/)
})

await test('defaults: no cap, pin; flags win over variables; bad values name their source', () => {
  assert.deepEqual(resolveCacheSettings({}, {}), { cacheMaxBytes: undefined, hashChange: 'pin' })
  assert.deepEqual(
    resolveCacheSettings({}, { EGGSERVE_UPSTREAM_CACHE_MAX: '1M', EGGSERVE_UPSTREAM_HASH_CHANGE: 'Follow' }),
    { cacheMaxBytes: 1024 ** 2, hashChange: 'follow' },
  )
  assert.deepEqual(
    resolveCacheSettings(
      { upstreamCacheMax: '2K', upstreamHashChange: 'pin' },
      { EGGSERVE_UPSTREAM_CACHE_MAX: '1M', EGGSERVE_UPSTREAM_HASH_CHANGE: 'follow' },
    ),
    { cacheMaxBytes: 2048, hashChange: 'pin' },
  )
  assert.deepEqual(resolveCacheSettings({}, { EGGSERVE_UPSTREAM_CACHE_MAX: '' }).cacheMaxBytes, undefined)
  assert.throws(
    () => resolveCacheSettings({}, { EGGSERVE_UPSTREAM_HASH_CHANGE: 'latest' }),
    /Invalid hash change policy "latest" \(EGGSERVE_UPSTREAM_HASH_CHANGE\): expected pin or follow/,
  )
  assert.throws(() => resolveCacheSettings({ upstreamCacheMax: 'lots' }, {}), /\(--upstream-cache-max\)/)
  // Part of the upstream configuration.
  const config = resolveUpstreamConfig({ upstreamCacheMax: '10G', upstreamHashChange: 'follow' }, {})
  assert.equal(config.cacheMaxBytes, 10 * 1024 ** 3)
  assert.equal(config.hashChange, 'follow')
})
