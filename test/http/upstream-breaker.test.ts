// Each upstream's circuit breaker as the configuration file sets it (`breaker-failures`,
// `breaker-open-for`; docs/upstream.md): it opens after exactly that many failures in a row,
// and the upstream is not asked again for exactly that long, by an injected clock. The
// upstream is the counting fault proxy answering 503, in front of a port nothing listens on.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { startUpstreamFaultProxy, type UpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { appWithUpstreamTable } from '../helpers/upstream-index.js'

/** An app whose one upstream is the proxy, with `table` added to its [[upstream]] table. */
async function appWith(
  t: TestContext,
  table: string,
  now: () => number,
): Promise<{ app: FastifyInstance; proxy: UpstreamFaultProxy }> {
  const proxy = await startUpstreamFaultProxy(t, 'http://127.0.0.1:9')
  proxy.setRules([{ match: () => true, fault: { kind: 'status', status: 503 } }])
  return { app: await appWithUpstreamTable(t, { upstreamUrl: proxy.url, table, now }), proxy }
}

/** Ask for a page; whether the upstream was asked (every answer is a 503 either way). */
async function asked(app: FastifyInstance, proxy: UpstreamFaultProxy): Promise<boolean> {
  const before = proxy.count()
  const res = await app.inject({ url: '/simple/demo/' })
  assert.equal(res.statusCode, 503, res.body)
  return proxy.count() > before
}

await test('a configured breaker opens after exactly its failures and stays open exactly its time', async (t) => {
  let now = 1_000_000
  const { app, proxy } = await appWith(t, 'breaker-failures = 2\nbreaker-open-for = "90s"\n', () => now)
  assert.equal(await asked(app, proxy), true)
  assert.equal(await asked(app, proxy), true)
  // Open: answered at once, the upstream is not asked.
  assert.equal(await asked(app, proxy), false)
  now += 90_000 - 1
  assert.equal(await asked(app, proxy), false, 'still open 1 ms before its time')
  now += 1
  assert.equal(await asked(app, proxy), true, 'half open: one request tries it')
  assert.equal(await asked(app, proxy), false, 'the failed try opens it again')
  now += 90_000
  assert.equal(await asked(app, proxy), true)
  assert.equal(proxy.count(), 4)
})

await test('the default breaker, for comparison: 5 failures, 60 s', async (t) => {
  let now = 1_000_000
  const { app, proxy } = await appWith(t, '', () => now)
  for (let failure = 1; failure <= 5; failure++)
    assert.equal(await asked(app, proxy), true, `failure ${String(failure)}`)
  assert.equal(await asked(app, proxy), false)
  now += 60_000 - 1
  assert.equal(await asked(app, proxy), false)
  now += 1
  assert.equal(await asked(app, proxy), true)
  assert.equal(proxy.count(), 6)
})
