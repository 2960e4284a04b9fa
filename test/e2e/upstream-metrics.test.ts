// The upstream proxy's metrics, scraped from the real daemon (--metrics) after real upstream
// traffic: a second eggserve behind the counting fault proxy. Every count is the one that
// traffic must produce (docs/metrics.md, "Upstream proxy"); the singleflight joins are checked
// against the requests the proxy really received. The exposition passes `promtool check metrics`.
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, type BuiltDist } from '../helpers/distributions.js'
import { parseSamples, promtoolCheck, sampleValue, type Sample } from '../helpers/metrics-text.js'
import { httpGet, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { noise } from '../helpers/test-bytes.js'
import { needTool } from '../helpers/tools.js'
import { startUpstreamFaultProxy, type UpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { startUpstreamEggserve, startWithUpstreams } from '../helpers/upstream-index.js'

const UPDEMO = buildWheel({ name: 'updemo', version: '1.0' })
const TAMPERED: BuiltDist = { filename: 'tampered-1.0.tar.gz', bytes: noise(512 * 1024, 21) }
const SHARED: BuiltDist = { filename: 'shared-1.0.tar.gz', bytes: noise(256 * 1024, 22) }
const PAGEJOIN = buildWheel({ name: 'pagejoin', version: '1.0' })
const RESILIENT = buildWheel({ name: 'resilient', version: '1.0' })
// What eggserve asks an upstream for (src/upstream/page-source.ts): the same bytes come back.
const PAGE_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01'
const CONCURRENT = 5

/** GET to the end of the body, or to the point where the server cut it: status and bytes received. */
async function drain(url: string): Promise<{ status: number; length: number; ended: 'end' | 'error' }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let length = 0
      let settled = false
      const done = (ended: 'end' | 'error'): void => {
        if (settled) return
        settled = true
        resolve({ status: res.statusCode ?? 0, length, ended })
      }
      res.on('data', (chunk: Buffer) => {
        length += chunk.length
      })
      res.once('end', () => {
        done('end')
      })
      res.once('error', () => {
        done('error')
      })
      res.once('aborted', () => {
        done('error')
      })
    })
    req.once('error', reject)
    req.end()
  })
}

/** Scrape /metrics, have promtool check it, and return its samples. */
async function scrape(promtool: string, server: ServerHandle): Promise<Sample[]> {
  const res = await httpGet(`${server.url}/metrics`)
  assert.equal(res.status, 200)
  const text = res.body.toString('utf8')
  const verdict = promtoolCheck(promtool, text)
  assert.equal(verdict.status, 0, verdict.output)
  assert.equal(verdict.output, '')
  return parseSamples(text)
}

/** The length of the page an upstream sends eggserve for `project` (asked the same way, without gzip). */
async function pageBytes(proxy: UpstreamFaultProxy, project: string): Promise<number> {
  const res = await httpGet(`${proxy.url}/simple/${project}/`, { headers: { accept: PAGE_ACCEPT } })
  assert.equal(res.status, 200)
  return res.body.length
}

await test('upstream metrics count what the upstream traffic did', async (t) => {
  const promtool = needTool(t, 'promtool')
  if (promtool === undefined) return
  const { server: upstream } = await startUpstreamEggserve(t, {
    updemo: [UPDEMO],
    tampered: [TAMPERED],
    shared: [SHARED],
    pagejoin: [PAGEJOIN],
  })
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const root = await tempDir(t, 'eggserve-upmetrics-')
  const server = await startWithUpstreams(t, {
    eggdir: join(root, 'eggs'),
    cacheDir: join(root, 'cache'),
    upstreams: [proxy.url],
    args: ['--metrics'],
  })
  const label = `${proxy.url}/simple/`
  const file = (project: string, filename: string): string => `${server.url}/files/upstream/${project}/${filename}`
  const value = (samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number =>
    sampleValue(samples, name, labels) ?? 0

  // Before any traffic: the configured upstream's counters exist at 0, its breaker is closed.
  const idle = await scrape(promtool, server)
  assert.equal(sampleValue(idle, 'eggserve_upstream_page_cache_hits_total', { upstream: label }), 0)
  assert.equal(sampleValue(idle, 'eggserve_upstream_breaker_openings_total', { upstream: label }), 0)
  assert.equal(sampleValue(idle, 'eggserve_upstream_file_cache_misses_total'), 0)
  assert.equal(sampleValue(idle, 'eggserve_upstream_breaker_state', { upstream: label, state: 'closed' }), 1)

  // A page twice (a miss, then a hit), an unknown name twice (a 404 remembered).
  assert.equal((await httpGet(`${server.url}/simple/updemo/`)).status, 200)
  assert.equal((await httpGet(`${server.url}/simple/updemo/`)).status, 200)
  assert.equal((await httpGet(`${server.url}/simple/no-such-project/`)).status, 404)
  assert.equal((await httpGet(`${server.url}/simple/no-such-project/`)).status, 404)
  // A file (a miss, its page a hit), then again (a hit: no page lookup), then its PEP 658
  // metadata (a miss; two page lookups: the .metadata name, then the file it belongs to).
  const wheel = await httpGet(file('updemo', UPDEMO.filename))
  assert.equal(wheel.status, 200)
  assert.deepEqual(wheel.body, UPDEMO.bytes)
  assert.equal((await httpGet(file('updemo', UPDEMO.filename))).status, 200)
  const metadata = await httpGet(file('updemo', `${UPDEMO.filename}.metadata`))
  assert.equal(metadata.status, 200)
  // Wrong bytes under the right length: the transfer is cut, one hash mismatch.
  assert.equal((await httpGet(`${server.url}/simple/tampered/`)).status, 200)
  proxy.setRules([{ match: (request) => request.path.endsWith(TAMPERED.filename), fault: { kind: 'wrong-bytes' } }])
  const cut = await drain(file('tampered', TAMPERED.filename))
  assert.equal(cut.ended, 'error')
  // Concurrent downloads of one uncached file while the upstream is slow to answer: the ones
  // that found the download started joined it.
  assert.equal((await httpGet(`${server.url}/simple/shared/`)).status, 200)
  proxy.setRules([
    { match: (request) => request.path.endsWith(SHARED.filename), fault: { kind: 'delay', ms: 1500 } },
    { match: (request) => request.path === '/simple/pagejoin/', fault: { kind: 'delay', ms: 1500 } },
  ])
  const shared = await Promise.all(Array.from({ length: CONCURRENT }, () => drain(file('shared', SHARED.filename))))
  for (const body of shared) assert.deepEqual(body, { status: 200, length: SHARED.bytes.length, ended: 'end' })
  // Concurrent first requests for one page: one upstream request, the others joined it.
  const pages = await Promise.all(Array.from({ length: CONCURRENT }, () => httpGet(`${server.url}/simple/pagejoin/`)))
  for (const page of pages) assert.equal(page.status, 200)
  proxy.setRules([])
  const sharedGets = proxy.count(`/packages/shared/${SHARED.filename}`)
  const pagejoinGets = proxy.count('/simple/pagejoin/')

  const samples = await scrape(promtool, server)
  const requests = (kind: string, outcome: string): number =>
    value(samples, 'eggserve_upstream_requests_total', { upstream: label, kind, outcome })
  // Pages: updemo, tampered, shared and pagejoin (once per upstream request) ok; the unknown name a 404.
  assert.equal(requests('page', 'ok'), 3 + pagejoinGets)
  assert.equal(requests('page', 'not_found'), 1)
  assert.equal(requests('page', 'error'), 0)
  // Files: updemo's wheel and shared (per upstream GET) ok; tampered invalid; one metadata file.
  assert.equal(requests('file', 'ok'), 1 + sharedGets)
  assert.equal(requests('file', 'invalid'), 1)
  assert.equal(requests('metadata', 'ok'), 1)
  // The proxy saw exactly those requests.
  assert.equal(proxy.count('/simple/*'), 4 + pagejoinGets)
  assert.equal(proxy.count('/packages/*'), 3 + sharedGets)
  // Every request is in the duration histogram.
  const durations = (kind: string): number =>
    value(samples, 'eggserve_upstream_request_duration_seconds_count', { upstream: label, kind })
  assert.equal(durations('page'), 4 + pagejoinGets)
  assert.equal(durations('file'), 2 + sharedGets)
  assert.equal(durations('metadata'), 1)
  // Bytes: every file's body (the tampered one whole: only its content was wrong), each page's.
  assert.equal(
    value(samples, 'eggserve_upstream_received_bytes_total', { upstream: label, kind: 'file' }),
    UPDEMO.bytes.length + TAMPERED.bytes.length + sharedGets * SHARED.bytes.length,
  )
  assert.equal(
    value(samples, 'eggserve_upstream_received_bytes_total', { upstream: label, kind: 'metadata' }),
    metadata.body.length,
  )
  const pageSizes =
    (await pageBytes(proxy, 'updemo')) +
    (await pageBytes(proxy, 'tampered')) +
    (await pageBytes(proxy, 'shared')) +
    pagejoinGets * (await pageBytes(proxy, 'pagejoin'))
  assert.equal(value(samples, 'eggserve_upstream_received_bytes_total', { upstream: label, kind: 'page' }), pageSizes)
  // Page lookups. Hits: updemo's second, the 404 remembered, the wheel's page, the metadata's
  // two, tampered's file and each concurrent download of shared. Misses: the first request for
  // each page, and each concurrent request for pagejoin (those not sent joined).
  assert.equal(value(samples, 'eggserve_upstream_page_cache_hits_total', { upstream: label }), 5 + 1 + CONCURRENT)
  assert.equal(value(samples, 'eggserve_upstream_page_cache_misses_total', { upstream: label }), 4 + CONCURRENT)
  assert.equal(value(samples, 'eggserve_upstream_page_cache_stale_total', { upstream: label }), 0)
  assert.equal(
    value(samples, 'eggserve_upstream_singleflight_joins_total', { upstream: label, kind: 'page' }),
    CONCURRENT - pagejoinGets,
  )
  assert.equal(
    value(samples, 'eggserve_upstream_singleflight_joins_total', { upstream: label, kind: 'file' }),
    CONCURRENT - sharedGets,
  )
  // File lookups: the wheel's second request hit; the wheel, its metadata, tampered and each shared missed.
  assert.equal(value(samples, 'eggserve_upstream_file_cache_hits_total'), 1)
  assert.equal(value(samples, 'eggserve_upstream_file_cache_misses_total'), 3 + CONCURRENT)
  assert.equal(value(samples, 'eggserve_upstream_hash_mismatches_total', { upstream: label }), 1)
  assert.equal(value(samples, 'eggserve_upstream_breaker_openings_total', { upstream: label }), 0)
  assert.equal(value(samples, 'eggserve_upstream_breaker_state', { upstream: label, state: 'open' }), 0)
  // No label holds a project or file name.
  for (const sample of samples.filter((s) => s.name.startsWith('eggserve_upstream_'))) {
    for (const text of Object.values(sample.labels))
      assert.ok(
        !/updemo|tampered|shared|pagejoin|no-such/.test(text),
        `${sample.name} ${JSON.stringify(sample.labels)}`,
      )
  }
})

await test('upstream metrics through an outage: revalidation, stale pages, timeouts, refusals, the breaker', async (t) => {
  const promtool = needTool(t, 'promtool')
  if (promtool === undefined) return
  const { server: upstream } = await startUpstreamEggserve(t, { resilient: [RESILIENT] })
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const root = await tempDir(t, 'eggserve-upoutage-')
  // Every page request asks the upstream again (TTL 0); a silent one is given up on after 1 s.
  const server = await startWithUpstreams(t, {
    eggdir: join(root, 'eggs'),
    cacheDir: join(root, 'cache'),
    upstreams: [proxy.url],
    args: ['--metrics', '--upstream-ttl', '0', '--upstream-timeout', '1'],
  })
  const label = `${proxy.url}/simple/`
  const page = async (): Promise<{ status: number; stale: boolean }> => {
    const res = await httpGet(`${server.url}/simple/resilient/`)
    return { status: res.status, stale: res.headers['eggserve-stale'] !== undefined }
  }

  assert.deepEqual(await page(), { status: 200, stale: false }, 'fetched')
  assert.deepEqual(await page(), { status: 200, stale: false }, 'revalidated: 304')
  proxy.setRules([{ match: () => true, fault: { kind: 'status', status: 500 } }])
  assert.deepEqual(await page(), { status: 200, stale: true }, '500: served stale')
  proxy.setRules([{ match: () => true, fault: { kind: 'blackhole' } }])
  assert.deepEqual(await page(), { status: 200, stale: true }, 'no answer within 1 s: served stale')
  proxy.setRules([])
  await proxy.refuse()
  // Three refusals make five failures in a row: the breaker (5 failures) opens on the last.
  for (let i = 0; i < 3; i++) assert.deepEqual(await page(), { status: 200, stale: true }, `refused ${String(i)}`)
  // Open: the upstream is not asked at all, the page is served stale.
  assert.deepEqual(await page(), { status: 200, stale: true }, 'breaker open')
  assert.equal(proxy.count('/simple/resilient/'), 4)

  const samples = await scrape(promtool, server)
  const requests = (outcome: string): number | undefined =>
    sampleValue(samples, 'eggserve_upstream_requests_total', { upstream: label, kind: 'page', outcome })
  assert.equal(requests('ok'), 1)
  assert.equal(requests('not_modified'), 1)
  assert.equal(requests('error'), 1)
  assert.equal(requests('timeout'), 1)
  assert.equal(requests('refused'), 3)
  assert.equal(
    sampleValue(samples, 'eggserve_upstream_request_duration_seconds_count', { upstream: label, kind: 'page' }),
    7,
  )
  // A 304 has no body: the page's bytes were received once.
  const size = sampleValue(samples, 'eggserve_upstream_received_bytes_total', { upstream: label, kind: 'page' })
  await proxy.accept()
  assert.equal(size, await pageBytes(proxy, 'resilient'))
  assert.equal(sampleValue(samples, 'eggserve_upstream_page_cache_hits_total', { upstream: label }), 0)
  assert.equal(sampleValue(samples, 'eggserve_upstream_page_cache_misses_total', { upstream: label }), 8)
  assert.equal(sampleValue(samples, 'eggserve_upstream_page_cache_stale_total', { upstream: label }), 6)
  assert.equal(sampleValue(samples, 'eggserve_upstream_breaker_openings_total', { upstream: label }), 1)
  assert.equal(sampleValue(samples, 'eggserve_upstream_breaker_state', { upstream: label, state: 'open' }), 1)
  assert.equal(sampleValue(samples, 'eggserve_upstream_breaker_state', { upstream: label, state: 'closed' }), 0)
  assert.equal(sampleValue(samples, 'eggserve_upstream_breaker_state', { upstream: label, state: 'half_open' }), 0)
})
