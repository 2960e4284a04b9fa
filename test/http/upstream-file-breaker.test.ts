// Upstream file downloads and the upstream's circuit breaker (docs/upstream.md, "Failures"): a
// file fetch that gets no answer (refused, a first-byte timeout) or a 5xx counts toward the
// same breaker as the pages; while it is open, a file miss answers 503 at once without asking
// the upstream, as a page without a cached copy does, and a cached file is still served. The
// upstream is a real eggserve app on loopback behind the counting fault proxy; the clock is
// injected.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/build-app.js'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy, type UpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { appWithUpstreamTable } from '../helpers/upstream-index.js'

const CACHED = buildWheel({ name: 'demo', version: '1.0' })
const MISSED = buildWheel({ name: 'demo', version: '2.0' })
const OTHER = buildWheel({ name: 'other', version: '1.0' })

/** The app under test, its one upstream (a real eggserve app) behind the fault proxy; `table` goes in its [[upstream]] table. */
async function appWith(
  t: TestContext,
  table: string,
  now: () => number,
): Promise<{ app: FastifyInstance; proxy: UpstreamFaultProxy }> {
  const upstreamRoot = await tempDir(t, 'eggserve-file-breaker-upstream-')
  for (const dist of [CACHED, MISSED]) await writeDist(`${upstreamRoot}/demo`, dist)
  await writeDist(`${upstreamRoot}/other`, OTHER)
  const { app: upstream } = await buildTestApp(t, { root: upstreamRoot, hashAlgorithm: 'sha256' })
  await upstream.listen({ port: 0, host: '127.0.0.1' })
  const proxy = await startUpstreamFaultProxy(
    t,
    `http://127.0.0.1:${String((upstream.server.address() as AddressInfo).port)}`,
  )
  const app = await appWithUpstreamTable(t, { upstreamUrl: proxy.url, table, now })
  return { app, proxy }
}

const fileUrl = (filename: string): string => `/files/upstream/demo/${filename}`

await test('5xx file answers open the breaker; then a file miss is a 503 without asking, a cached file is served', async (t) => {
  let now = 1_000_000
  const { app, proxy } = await appWith(t, 'breaker-failures = 2\nbreaker-open-for = "90s"\nttl = "1h"\n', () => now)
  const cached = await app.inject({ url: fileUrl(CACHED.filename) })
  assert.equal(cached.statusCode, 200, cached.body)
  assert.ok(cached.rawPayload.equals(Buffer.from(CACHED.bytes)))
  proxy.setRules([
    { match: (request) => request.path.endsWith(MISSED.filename), fault: { kind: 'status', status: 503 } },
  ])
  for (let failure = 1; failure <= 2; failure++) {
    const res = await app.inject({ url: fileUrl(MISSED.filename) })
    assert.equal(res.statusCode, 502, `failure ${String(failure)}: the upstream's error is passed on`)
  }
  assert.equal(proxy.countMatching(MISSED.filename), 2)

  const before = proxy.count()
  const open = await app.inject({ url: fileUrl(MISSED.filename) })
  assert.equal(open.statusCode, 503, open.body)
  assert.match(open.body, /cannot be reached and this file is not in the cache/)
  assert.equal(open.headers['retry-after'], '30')
  // The same 503 a page without a cached copy answers: the breaker is the upstream's, not the file's.
  const page = await app.inject({ url: '/simple/other/' })
  assert.equal(page.statusCode, 503, page.body)
  assert.match(page.body, /cannot be reached and this project is not in the cache/)
  assert.equal(page.headers['retry-after'], open.headers['retry-after'])
  const again = await app.inject({ url: fileUrl(CACHED.filename) })
  assert.equal(again.statusCode, 200, 'a cached file is served while the breaker is open')
  assert.ok(again.rawPayload.equals(Buffer.from(CACHED.bytes)))
  assert.equal(proxy.count(), before, 'the upstream was not asked while open')

  now += 90_000 - 1
  assert.equal((await app.inject({ url: fileUrl(MISSED.filename) })).statusCode, 503, 'still open 1 ms before its time')
  assert.equal(proxy.count(), before)
  now += 1
  proxy.setRules([])
  const probe = await app.inject({ url: fileUrl(MISSED.filename) })
  assert.equal(probe.statusCode, 200, 'half open: the file download is the one try, and it closes the breaker')
  assert.ok(probe.rawPayload.equals(Buffer.from(MISSED.bytes)))
  assert.equal((await app.inject({ url: '/simple/other/' })).statusCode, 200, 'closed for pages too')
  assert.equal(proxy.countMatching(MISSED.filename), 3)
})

await test('a file fetch refused or left unanswered counts; a 404 does not', async (t) => {
  let now = 1_000_000
  const { app, proxy } = await appWith(
    t,
    'breaker-failures = 3\nbreaker-open-for = "60s"\nttl = "1h"\ntimeout = "2s"\n',
    () => now,
  )
  assert.equal((await app.inject({ url: '/simple/demo/' })).statusCode, 200, 'the page is cached')
  // A 404 for a file is an answer: it resets the count instead of adding to it.
  proxy.setRules([{ match: (request) => request.path.endsWith('.whl'), fault: { kind: 'status', status: 404 } }])
  assert.equal((await app.inject({ url: fileUrl(MISSED.filename) })).statusCode, 502)
  proxy.setRules([{ match: (request) => request.path.endsWith('.whl'), fault: { kind: 'blackhole' }, times: 1 }])
  const silent = await app.inject({ url: fileUrl(MISSED.filename) })
  assert.equal(silent.statusCode, 503, 'no answer within the first-byte timeout')
  await proxy.refuse()
  for (let failure = 2; failure <= 3; failure++) {
    const refused = await app.inject({ url: fileUrl(CACHED.filename) })
    assert.equal(refused.statusCode, 503, `refused ${String(failure)}`)
  }
  await proxy.accept()
  proxy.setRules([])
  const before = proxy.count()
  const open = await app.inject({ url: fileUrl(CACHED.filename) })
  assert.equal(open.statusCode, 503, 'open after 3 failures in a row')
  assert.equal(proxy.count(), before, 'and the upstream was not asked')
  now += 60_000
  assert.equal((await app.inject({ url: fileUrl(CACHED.filename) })).statusCode, 200)
  assert.equal(proxy.count(), before + 1)
})
