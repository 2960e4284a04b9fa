// PEP 658/714 metadata of a pinned upstream file (docs/upstream.md, "Files"): when the upstream
// replaces a cached wheel with other bytes under the same filename, --upstream-hash-change pin
// (the default) lists the cached bytes with their own sha256, and their `core-metadata` (HTML
// data-core-metadata / data-dist-info-metadata, JSON core-metadata) describes those bytes too:
// the sha256 of the pinned wheel's own METADATA, which `<file>.metadata` then serves, never the
// upstream's new metadata. The upstream is a real eggserve app (watching its folder) listening on
// loopback behind the counting fault proxy; the wheel is really replaced there.
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { createPrometheusMetrics } from '../../src/metrics/prometheus.js'
import { upstreamObserver } from '../../src/metrics/upstream-metrics.js'
import { resolveUpstreamConfig } from '../../src/upstream/upstream-settings.js'
import { UpstreamIndex } from '../../src/upstream/upstream-index.js'
import { buildTestApp } from '../helpers/build-app.js'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { parseSamples, sampleValue } from '../helpers/metrics-text.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { sha256Hex } from '../helpers/upstream-index.js'

const JSON_TYPE = 'application/vnd.pypi.simple.v1+json'
const PINNED = buildWheel({ name: 'pinme', version: '1.0', summary: 'The pinned bytes' })
const REPLACED = buildWheel({ name: 'pinme', version: '1.0', summary: 'The upstream replaced them' })

interface JsonFile {
  filename: string
  hashes: Record<string, string>
  'core-metadata'?: Record<string, string> | boolean
  'data-dist-info-metadata'?: Record<string, string> | boolean
}

async function get(app: FastifyInstance, url: string, accept?: string) {
  return app.inject({ url, headers: { host: 'index.example:31001', ...(accept === undefined ? {} : { accept }) } })
}

for (const metadataFirst of [false, true])
  await test(`a pinned file whose upstream bytes changed lists and serves its own core metadata (its .metadata ${metadataFirst ? 'cached before' : 'never fetched'})`, async (t) => {
    assert.equal(PINNED.filename, REPLACED.filename)
    const root = await tempDir(t, 'eggserve-pinmeta-upstream-')
    await writeDist(join(root, 'pinme'), PINNED)
    const upstream = await buildTestApp(t, { root, hashAlgorithm: 'sha256', ui: false, watch: true })
    await upstream.app.listen({ port: 0, host: '127.0.0.1' })
    const address = upstream.app.server.address()
    assert.ok(address !== null && typeof address === 'object')
    const proxy = await startUpstreamFaultProxy(t, `http://127.0.0.1:${String(address.port)}`)
    const cacheDir = await tempDir(t, 'eggserve-pinmeta-cache-')
    const prometheus = createPrometheusMetrics({ version: '0.0.0-test' })
    const config = resolveUpstreamConfig({ upstream: [`${proxy.url}/simple/`], upstreamTtl: '0' }, {})
    const { app } = await buildTestApp(t, {
      root: await tempDir(t, 'eggserve-pinmeta-local-'),
      hashAlgorithm: 'sha256',
      metrics: prometheus,
      upstream: (index, log) =>
        new UpstreamIndex({
          index,
          // A TTL of 0: every page request asks the upstream again, so the change is seen at once.
          config,
          cacheDir,
          log,
          observer: upstreamObserver(
            prometheus.metrics,
            config.upstreams.map((settings) => settings.label),
          ),
        }),
    })
    const fileCacheCounts = async (): Promise<{ hits: number | undefined; misses: number | undefined }> => {
      const samples = parseSamples((await app.inject({ url: '/metrics' })).body)
      return {
        hits: sampleValue(samples, 'eggserve_upstream_file_cache_hits_total'),
        misses: sampleValue(samples, 'eggserve_upstream_file_cache_misses_total'),
      }
    }
    const upstreamMetadata = async (): Promise<Buffer> => {
      const res = await upstream.app.inject({ url: `/packages/pinme/${PINNED.filename}.metadata` })
      assert.equal(res.statusCode, 200)
      return res.rawPayload
    }
    const pinnedMetadata = await upstreamMetadata()
    const pinnedMetadataSha = sha256Hex(pinnedMetadata)
    const local = `/files/upstream/pinme/${PINNED.filename}`

    // A client installs the wheel through eggserve: cached, its sha256 pinned; its .metadata too, or not.
    if (metadataFirst) assert.deepEqual((await get(app, `${local}.metadata`)).rawPayload, pinnedMetadata)
    const first = await get(app, local)
    assert.equal(first.statusCode, 200)
    assert.equal(sha256Hex(first.rawPayload), sha256Hex(PINNED.bytes))

    // The upstream replaces the wheel: other bytes, other METADATA, the same filename.
    await writeDist(join(root, 'pinme'), REPLACED)
    while (!(await upstream.app.inject({ url: '/simple/pinme/' })).body.includes(sha256Hex(REPLACED.bytes)))
      await sleep(50)
    const replacedMetadataSha = sha256Hex(await upstreamMetadata())
    assert.notEqual(replacedMetadataSha, pinnedMetadataSha)

    await t.test('HTML pages of both trees: the pinned sha256 and the pinned METADATA’s', async () => {
      for (const url of ['/simple/pinme/', '/pinme/']) {
        const html = (await get(app, url)).body
        const anchor = new RegExp(`<a [^>]*${PINNED.filename}#sha256=([0-9a-f]{64})"[^>]*>`).exec(html)?.[0]
        assert.ok(anchor !== undefined, html)
        assert.ok(anchor.includes(`#sha256=${sha256Hex(PINNED.bytes)}"`), anchor)
        assert.ok(anchor.includes(`data-core-metadata="sha256=${pinnedMetadataSha}"`), anchor)
        assert.ok(anchor.includes(`data-dist-info-metadata="sha256=${pinnedMetadataSha}"`), anchor)
        assert.ok(!html.includes(replacedMetadataSha), html)
      }
    })

    await t.test('the PEP 691 JSON page: core-metadata and data-dist-info-metadata of the pinned bytes', async () => {
      const doc = (await get(app, '/simple/pinme/', JSON_TYPE)).json<{ files: JsonFile[] }>()
      const entry = doc.files.find((file) => file.filename === PINNED.filename)
      assert.ok(entry !== undefined)
      assert.deepEqual(entry.hashes, { sha256: sha256Hex(PINNED.bytes) })
      assert.deepEqual(entry['core-metadata'], { sha256: pinnedMetadataSha })
      assert.deepEqual(entry['data-dist-info-metadata'], { sha256: pinnedMetadataSha })
    })

    await t.test('<file>.metadata serves the bytes the pages describe, never the upstream’s new ones', async () => {
      const before = proxy.count(`/packages/pinme/${PINNED.filename}.metadata`)
      const counted = await fileCacheCounts()
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await app.inject({ method, url: `${local}.metadata` })
        assert.equal(res.statusCode, 200, res.body)
        if (method === 'GET') assert.deepEqual(res.rawPayload, pinnedMetadata)
      }
      assert.equal(proxy.count(`/packages/pinme/${PINNED.filename}.metadata`), before, 'the upstream is not asked')
      // Dated by the pinned file it is read from (RFC 9110 §13.1.3: If-Modified-Since then works).
      const wheelDate = (await app.inject({ method: 'HEAD', url: local })).headers['last-modified']
      const dated = await app.inject({ url: `${local}.metadata` })
      assert.equal(typeof wheelDate, 'string')
      assert.equal(dated.headers['last-modified'], wheelDate)
      const since = await app.inject({ url: `${local}.metadata`, headers: { 'if-modified-since': String(wheelDate) } })
      assert.equal(since.statusCode, 304)
      // Read from the cached file: a file cache hit each, as any request for a cached file is.
      const after = await fileCacheCounts()
      assert.equal(after.hits, (counted.hits ?? NaN) + 5)
      assert.equal(after.misses, counted.misses)
    })

    await t.test('the PyPI JSON API’s info is the pinned wheel’s', async () => {
      const api = (await get(app, '/pypi/pinme/json')).json<{ info: { summary: string } }>()
      assert.equal(api.info.summary, 'The pinned bytes')
    })
  })
