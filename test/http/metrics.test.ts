// /metrics through inject: off by default, request counts by route template (never by the
// names in a URL), cache, upload, login and index metrics that move when things happen,
// credentials when reads need them, and the metrics-only server of --metrics-listen.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { AuthAction } from '../../src/core/auth-actions.js'
import { buildMetricsApp } from '../../src/http/metrics-app.js'
import { BackgroundWork } from '../../src/live-index/background.js'
import { registerIndexMetrics } from '../../src/metrics/index-metrics.js'
import { createPrometheusMetrics, type PrometheusMetrics } from '../../src/metrics/prometheus.js'
import { registerUpstreamBreakers, upstreamObserver } from '../../src/metrics/upstream-metrics.js'
import { buildTestApp, type TestApp } from '../helpers/build-app.js'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { metricTypes, parseSamples, sampleValue, type Sample } from '../helpers/metrics-text.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { upload } from '../helpers/upload-form.js'
import { ALICE, basic, writePasswords } from '../helpers/users.js'

const HELLO = { name: 'hello', version: '1.0' }
const WHEEL = buildWheel(HELLO)
const DURATION_COUNT = 'eggserve_http_request_duration_seconds_count'

interface MetricsApp extends TestApp {
  readonly root: string
  readonly prometheus: PrometheusMetrics
  readonly scrape: (headers?: Record<string, string>, remoteAddress?: string) => Promise<Sample[]>
}

async function metricsApp(
  t: TestContext,
  options: {
    uploads?: boolean
    passwords?: boolean
    authenticate?: readonly AuthAction[]
    authFailureLimit?: number
    watch?: boolean
  } = {},
): Promise<MetricsApp> {
  const root = await tempDir(t)
  await writeDist(join(root, 'hello'), WHEEL)
  await writeTree(root, { 'other/other-1.0.tar.gz': 'other sdist' })
  const prometheus = createPrometheusMetrics({ version: '0.0.0-test' })
  const passwords =
    options.passwords === true ? await writePasswords(await tempDir(t, 'eggserve-users-'), [ALICE]) : undefined
  const built = await buildTestApp(t, {
    root,
    metrics: prometheus,
    ...(options.uploads === true ? { uploads: {} } : {}),
    ...(passwords === undefined ? {} : { passwords }),
    ...(options.authenticate === undefined ? {} : { authenticate: options.authenticate }),
    ...(options.authFailureLimit === undefined ? {} : { authFailureLimit: options.authFailureLimit }),
    ...(options.watch === undefined ? {} : { watch: options.watch }),
  })
  const scrape = async (headers: Record<string, string> = {}, remoteAddress = '127.0.0.1'): Promise<Sample[]> => {
    const res = await built.app.inject({ url: '/metrics', headers, remoteAddress })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.headers['content-type'], prometheus.exposition.contentType)
    assert.equal(res.headers['cache-control'], 'no-store')
    return parseSamples(res.body)
  }
  return { ...built, root, prometheus, scrape }
}

async function get(app: FastifyInstance, url: string, headers: Record<string, string> = {}): Promise<number> {
  return (await app.inject({ url, headers })).statusCode
}

await describe('off by default', async () => {
  await test('without metrics, /metrics is no endpoint (the legacy tree 404s it) and nothing is recorded', async (t) => {
    const root = await tempDir(t)
    await writeDist(join(root, 'hello'), WHEEL)
    const { app } = await buildTestApp(t, { root })
    const res = await app.inject({ url: '/metrics' })
    assert.equal(res.statusCode, 404)
    assert.ok(!res.body.includes('eggserve_'))
  })
})

await describe('request metrics', async () => {
  await test('requests are counted by route template, method and status class', async (t) => {
    const { app, scrape } = await metricsApp(t)
    assert.equal(await get(app, '/simple/hello/'), 200)
    assert.equal(await get(app, '/simple/hello/'), 200)
    assert.equal((await app.inject({ method: 'HEAD', url: '/simple/hello/' })).statusCode, 200)
    assert.equal(await get(app, '/simple/'), 200)
    assert.equal(await get(app, '/no/such/path/at/all'), 404)
    const samples = await scrape()
    assert.equal(
      sampleValue(samples, DURATION_COUNT, { route: '/simple/:project/', method: 'GET', status_class: '2xx' }),
      2,
    )
    assert.equal(
      sampleValue(samples, DURATION_COUNT, { route: '/simple/:project/', method: 'HEAD', status_class: '2xx' }),
      1,
    )
    assert.equal(sampleValue(samples, DURATION_COUNT, { route: '/simple/', method: 'GET', status_class: '2xx' }), 1)
    assert.equal(sampleValue(samples, DURATION_COUNT, { route: 'unmatched', method: 'GET', status_class: '4xx' }), 1)
    // Buckets are cumulative: the +Inf bucket holds every observation.
    assert.equal(
      sampleValue(samples, 'eggserve_http_request_duration_seconds_bucket', {
        route: '/simple/:project/',
        method: 'GET',
        status_class: '2xx',
        le: '+Inf',
      }),
      2,
    )
    assert.ok(
      (sampleValue(samples, 'eggserve_http_request_duration_seconds_sum', {
        route: '/simple/:project/',
        method: 'GET',
        status_class: '2xx',
      }) ?? -1) > 0,
    )
  })

  await test('each known method is its own label value; the rest of Node\'s methods share "other"', async (t) => {
    const { app, scrape } = await metricsApp(t)
    const known = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const
    for (const method of known) await app.inject({ method, url: '/no/such/path/at/all' })
    // Node's parser knows these and Fastify routes none of them; app.inject() sends only the
    // seven above, so these go over a socket.
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    for (const method of ['PROPFIND', 'MKCOL', 'LOCK']) {
      await new Promise<void>((resolve, reject) => {
        request({ host: '127.0.0.1', port, method, path: '/no/such/path/at/all', agent: false }, (res) => {
          res.resume().on('end', resolve)
        })
          .on('error', reject)
          .end()
      })
    }
    const samples = await scrape()
    const counted = (method: string): number =>
      samples
        .filter((sample) => sample.name === DURATION_COUNT && sample.labels.route === 'unmatched')
        .filter((sample) => sample.labels.method === method)
        .reduce((sum, sample) => sum + sample.value, 0)
    for (const method of known) assert.equal(counted(method), 1, method)
    assert.equal(counted('other'), 3)
    const methods = new Set(samples.filter((sample) => sample.name === DURATION_COUNT).map((s) => s.labels.method))
    assert.deepEqual([...methods].sort(), [...known, 'other'].sort())
  })

  await test('500 random project names add no label and no series: cardinality stays bounded', async (t) => {
    const { app, scrape } = await metricsApp(t)
    const seriesBefore = (await scrape()).length
    const names: string[] = []
    for (let i = 0; i < 500; i++) {
      const name = `p${randomBytes(6).toString('hex')}`
      names.push(name)
      const paths = [
        `/simple/${name}/`,
        `/packages/${name}/${name}-1.0.tar.gz`,
        `/${name}/`,
        `/${name}/${name}-1.0-py3-none-any.whl`,
      ]
      assert.equal(await get(app, paths[i % paths.length] ?? '/'), 404)
    }
    const res = await app.inject({ url: '/metrics' })
    for (const name of names) assert.ok(!res.body.includes(name), `${name} appears in /metrics`)
    const samples = parseSamples(res.body)
    const routes = new Set(samples.filter((s) => s.name === DURATION_COUNT).map((s) => s.labels.route))
    assert.deepEqual([...routes].sort(), [
      '/:folder/',
      '/:folder/:file',
      '/metrics',
      '/packages/:folder/:file',
      '/simple/:project/',
    ])
    assert.equal(
      sampleValue(samples, DURATION_COUNT, { route: '/simple/:project/', method: 'GET', status_class: '4xx' }),
      125,
    )
    // Four routes' histograms (17 buckets + sum + count) and the two scrapes: bounded, whatever the names.
    assert.ok(
      samples.length - seriesBefore <= 5 * 19 + 10,
      `${String(samples.length - seriesBefore)} new series after 500 names`,
    )
  })
})

await describe('cache, upload, login and index metrics', async () => {
  await test('the page cache and the metadata store count hits and misses', async (t) => {
    const { app, scrape } = await metricsApp(t)
    for (let i = 0; i < 3; i++) assert.equal(await get(app, '/simple/hello/'), 200)
    const metadataUrl = `/packages/hello/${WHEEL.filename}.metadata`
    for (let i = 0; i < 2; i++) assert.equal(await get(app, metadataUrl), 200)
    const samples = await scrape()
    assert.equal(sampleValue(samples, 'eggserve_cache_misses_total', { cache: 'page' }), 1)
    assert.equal(sampleValue(samples, 'eggserve_cache_hits_total', { cache: 'page' }), 2)
    assert.equal(sampleValue(samples, 'eggserve_cache_misses_total', { cache: 'metadata' }), 1)
    assert.equal(sampleValue(samples, 'eggserve_cache_hits_total', { cache: 'metadata' }), 1)
  })

  await test('uploads are counted by outcome', async (t) => {
    const { app, scrape } = await metricsApp(t, { uploads: true, authenticate: [] })
    const fresh = buildWheel({ name: 'fresh', version: '2.0' })
    assert.equal((await upload(app, fresh, { name: 'fresh', version: '2.0' })).statusCode, 200)
    assert.equal((await upload(app, fresh, { name: 'fresh', version: '2.0' })).statusCode, 200)
    const wrongName = await upload(app, fresh, { name: 'another', version: '2.0' })
    assert.equal(wrongName.statusCode, 400, wrongName.body)
    const samples = await scrape()
    assert.equal(sampleValue(samples, 'eggserve_uploads_total', { outcome: 'created' }), 1)
    assert.equal(sampleValue(samples, 'eggserve_uploads_total', { outcome: 'identical' }), 1)
    assert.equal(sampleValue(samples, 'eggserve_uploads_total', { outcome: 'rejected' }), 1)
  })

  await test('failed logins and throttled addresses are counted (a request without credentials is not a failure)', async (t) => {
    const { app, scrape } = await metricsApp(t, {
      passwords: true,
      authenticate: ['update', 'download'],
      authFailureLimit: 2,
    })
    const file = `/packages/hello/${WHEEL.filename}`
    assert.equal(await get(app, file), 401)
    const wrong = { authorization: basic({ user: 'alice', password: 'nope' }) }
    assert.equal(await get(app, file, wrong), 401)
    assert.equal(await get(app, file, wrong), 401)
    assert.equal(await get(app, file, wrong), 429)
    // Reads need credentials here, so /metrics does too (from another address: this one is throttled).
    const samples = await scrape({ authorization: basic(ALICE) }, '127.0.0.2')
    assert.equal(sampleValue(samples, 'eggserve_auth_failures_total', { reason: 'invalid' }), 2)
    assert.equal(sampleValue(samples, 'eggserve_auth_failures_total', { reason: 'throttled' }), 1)
    assert.equal(sampleValue(samples, 'eggserve_auth_throttle_addresses'), 1)
  })

  await test('index size, hashing and readiness are read on each scrape', async (t) => {
    const { app, root, services, prometheus, scrape } = await metricsApp(t)
    const background = new BackgroundWork({ services, log: app.log, reconcileIntervalMs: 0 })
    registerIndexMetrics(prometheus.metrics, {
      index: services.index,
      hashed: services.reader.stats,
      readiness: () => background.readiness(),
    })
    let samples = await scrape()
    assert.equal(sampleValue(samples, 'eggserve_index_projects'), 2)
    assert.equal(sampleValue(samples, 'eggserve_index_files'), 2)
    assert.equal(sampleValue(samples, 'eggserve_index_bytes'), WHEEL.bytes.length + 'other sdist'.length)
    assert.equal(sampleValue(samples, 'eggserve_ready'), 0)
    t.after(() => background.stop())
    background.start()
    for (let attempt = 0; attempt < 400 && !background.readiness().ready; attempt++)
      await new Promise((resolve) => setTimeout(resolve, 25))
    const second = buildWheel({ name: 'second', version: '0.1' })
    await mkdir(join(root, 'second'))
    await writeFile(join(root, 'second', second.filename), second.bytes)
    await services.index.reconcile()
    samples = await scrape()
    assert.equal(sampleValue(samples, 'eggserve_index_projects'), 3)
    assert.equal(sampleValue(samples, 'eggserve_index_files'), 3)
    assert.equal(sampleValue(samples, 'eggserve_ready'), 1)
    assert.equal(sampleValue(samples, 'eggserve_hashing_backlog_files'), 0)
    assert.equal(sampleValue(samples, 'eggserve_hashing_progress_ratio'), 1)
    assert.equal(sampleValue(samples, 'eggserve_hashed_files_total'), 2)
    assert.equal(sampleValue(samples, 'eggserve_hashed_bytes_total'), WHEEL.bytes.length + 'other sdist'.length)
  })
})

await describe('watching and reconciling', async () => {
  await test('watch events are counted', async (t) => {
    const { root, scrape } = await metricsApp(t, { watch: true })
    const before = sampleValue(await scrape(), 'eggserve_watch_events_total') ?? 0
    const late = buildWheel({ name: 'hello', version: '1.1' })
    await writeFile(join(root, 'hello', late.filename), late.bytes)
    // Events arrive asynchronously (inotify): look until one is counted.
    let after = before
    for (let attempt = 0; attempt < 200 && after === before; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
      after = sampleValue(await scrape(), 'eggserve_watch_events_total') ?? 0
    }
    assert.ok(after > before, `watch events: ${String(before)} before, ${String(after)} after`)
  })

  await test('periodic reconciles are counted and timed', async (t) => {
    const { app, services, prometheus, scrape } = await metricsApp(t)
    const background = new BackgroundWork({
      services,
      log: app.log,
      reconcileIntervalMs: 20,
      metrics: prometheus.metrics,
    })
    t.after(() => background.stop())
    background.start()
    let done = 0
    for (let attempt = 0; attempt < 400 && done < 2; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
      done = sampleValue(await scrape(), 'eggserve_reconciles_total', { outcome: 'ok' }) ?? 0
    }
    assert.ok(done >= 2, `reconciles: ${String(done)}`)
    const samples = await scrape()
    assert.ok((sampleValue(samples, 'eggserve_reconcile_duration_seconds_count') ?? 0) >= 2)
  })
})

await describe('credentials for /metrics', async () => {
  await test('when downloads or pages need credentials, so does /metrics on the main listener', async (t) => {
    for (const authenticate of [['update', 'download'], ['list']] as const) {
      const { app, scrape } = await metricsApp(t, { passwords: true, authenticate })
      const res = await app.inject({ url: '/metrics' })
      assert.equal(res.statusCode, 401, authenticate.join())
      assert.equal(res.headers['www-authenticate'], 'Basic realm="eggserve"')
      assert.ok(!res.body.includes('eggserve_'))
      assert.equal(await get(app, '/metrics', { authorization: basic({ user: 'alice', password: 'nope' }) }), 401)
      const samples = await scrape({ authorization: basic(ALICE) })
      assert.equal(sampleValue(samples, 'eggserve_auth_failures_total', { reason: 'invalid' }), 1)
    }
  })

  await test('when only uploads need credentials, /metrics is open like the pages', async (t) => {
    const { scrape } = await metricsApp(t, { passwords: true, authenticate: ['update'] })
    const samples = await scrape()
    assert.equal(
      sampleValue(samples, 'eggserve_build_info', { version: '0.0.0-test', node_version: process.version }),
      1,
    )
  })

  await test('the --metrics-listen server serves /metrics without credentials, and nothing else', async (t) => {
    const { app, prometheus } = await metricsApp(t, { passwords: true, authenticate: ['update', 'download', 'list'] })
    assert.equal(await get(app, '/simple/hello/'), 401)
    const apart = await buildMetricsApp({ exposition: prometheus.exposition, logger: app.log })
    t.after(() => apart.close())
    const res = await apart.inject({ url: '/metrics' })
    assert.equal(res.statusCode, 200)
    assert.equal(
      sampleValue(parseSamples(res.body), DURATION_COUNT, {
        route: '/simple/:project/',
        method: 'GET',
        status_class: '4xx',
      }),
      1,
    )
    for (const url of ['/', '/simple/', '/simple/hello/', `/packages/hello/${WHEEL.filename}`]) {
      const other = await apart.inject({ url })
      assert.equal(other.statusCode, 404, url)
      assert.ok(!other.body.includes('hello'), url)
    }
  })
})

await test('docs/metrics.md lists every eggserve metric with its type, and no other', async (t) => {
  const { app, services, prometheus } = await metricsApp(t, { uploads: true, passwords: true, watch: true })
  const background = new BackgroundWork({ services, log: app.log, reconcileIntervalMs: 0, metrics: prometheus.metrics })
  registerIndexMetrics(prometheus.metrics, {
    index: services.index,
    hashed: services.reader.stats,
    readiness: () => background.readiness(),
  })
  // The upstream proxy's (--upstream) are declared by the daemon when it has upstreams.
  upstreamObserver(prometheus.metrics, ['https://upstream.example/simple/'])
  registerUpstreamBreakers(prometheus.metrics, () => [
    { upstream: 'https://upstream.example/simple/', state: 'closed' },
  ])
  const served = [...metricTypes(await prometheus.exposition.render())].filter(([name]) => name.startsWith('eggserve_'))
  const doc = await readFile(new URL('../../docs/metrics.md', import.meta.url), 'utf8')
  const documented = new Map<string, string>()
  for (const match of doc.matchAll(/^\| `(eggserve_[a-z_]+)` \| (counter|gauge|histogram) \|/gm)) {
    if (match[1] !== undefined && match[2] !== undefined) documented.set(match[1], match[2])
  }
  assert.deepEqual(new Map(served), documented)
})
