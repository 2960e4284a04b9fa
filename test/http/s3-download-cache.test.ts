// The local download cache in front of a bucket (--s3-download-cache), with moto behind the
// fault-injecting proxy, which counts the GETs of each object: a cached download makes no
// GetObject, a replaced object is fetched again and never served stale, ranges and
// conditionals answer exactly as without the cache, the size cap evicts the least recently
// used copies (never cutting short a copy being read), concurrent misses make one GET, and a
// restarted cache finds its copies again.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { pino } from 'pino'
import { resolveConfig } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'
import { createPrometheusMetrics } from '../../src/metrics/prometheus.js'
import type { S3StorageSpec } from '../../src/storage/open-storage.js'
import { S3DownloadCache } from '../../src/storage/s3-download-cache.js'
import { S3Storage } from '../../src/storage/s3-storage.js'
import { buildBucketApp } from '../helpers/build-app.js'
import { parseSamples, sampleValue } from '../helpers/metrics-text.js'
import { startMoto, type Moto } from '../helpers/moto.js'
import { startFaultProxy, type FaultProxy } from '../helpers/s3-fault-proxy.js'
import { tempDir } from '../helpers/temp-tree.js'

const PREFIX = 'pypi/'
const SIZE = 300 * 1024

interface Fixture {
  readonly bucket: string
  readonly proxy: FaultProxy
  readonly spec: S3StorageSpec
  readonly put: (filename: string, bytes: Uint8Array) => Promise<void>
  /** GetObjects of this file seen by the proxy so far. */
  readonly gets: (filename: string) => number
}

async function fixture(t: TestContext, moto: Moto, files: Record<string, Uint8Array>): Promise<Fixture> {
  const bucket = await moto.createBucket()
  const proxy = await startFaultProxy(t, moto.endpoint)
  const put = async (filename: string, bytes: Uint8Array): Promise<void> => {
    await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}demo/${filename}`, Body: bytes }))
  }
  for (const [filename, bytes] of Object.entries(files)) await put(filename, bytes)
  return {
    bucket,
    proxy,
    spec: moto.spec(bucket, { prefix: PREFIX, endpoint: proxy.url }),
    put,
    gets: (filename) =>
      proxy.requests.filter((request) => request.operation === 'GetObject' && request.path.endsWith(`/${filename}`))
        .length,
  }
}

const url = (filename: string): string => `/packages/demo/${filename}`

await test('the S3 download cache', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return

  await t.test('a cached download makes no GetObject, and the metrics count it', async (t) => {
    const bytes = randomBytes(SIZE)
    const f = await fixture(t, moto, { 'demo-1.0.tar.gz': bytes })
    const prometheus = createPrometheusMetrics({ version: '0.0.0-test' })
    const { app } = await buildBucketApp(t, f.spec, {
      downloadCache: { dir: await tempDir(t), maxBytes: 10 * SIZE },
      metrics: { metrics: prometheus.metrics, exposition: prometheus.exposition },
    })
    const before = f.gets('demo-1.0.tar.gz')
    const first = await app.inject(url('demo-1.0.tar.gz'))
    assert.equal(first.statusCode, 200)
    assert.deepEqual(first.rawPayload, bytes)
    assert.equal(f.gets('demo-1.0.tar.gz') - before, 1, 'the miss fetches the object once')
    for (let i = 0; i < 3; i++) {
      const again = await app.inject(url('demo-1.0.tar.gz'))
      assert.equal(again.statusCode, 200)
      assert.deepEqual(again.rawPayload, bytes)
      assert.equal(again.headers.etag, first.headers.etag)
    }
    assert.equal(f.gets('demo-1.0.tar.gz') - before, 1, 'the hits read the local copy')
    const samples = parseSamples(await prometheus.exposition.render())
    assert.equal(sampleValue(samples, 'eggserve_s3_download_cache_hits_total'), 3)
    assert.equal(sampleValue(samples, 'eggserve_s3_download_cache_misses_total'), 1)
    assert.equal(sampleValue(samples, 'eggserve_s3_download_cache_fetched_bytes_total'), SIZE)
    assert.equal(sampleValue(samples, 'eggserve_s3_download_cache_bytes'), SIZE)
  })

  await t.test('a replaced object is fetched again, never served from the stale copy', async (t) => {
    const old = randomBytes(SIZE)
    const f = await fixture(t, moto, { 'demo-1.0.tar.gz': old })
    const { app } = await buildBucketApp(t, f.spec, { downloadCache: { dir: await tempDir(t), maxBytes: 10 * SIZE } })
    const before = f.gets('demo-1.0.tar.gz')
    const first = await app.inject(url('demo-1.0.tar.gz'))
    assert.deepEqual(first.rawPayload, old)
    // The same size and name, other bytes: only the ETag tells them apart.
    const replaced = randomBytes(SIZE)
    await f.put('demo-1.0.tar.gz', replaced)
    const second = await app.inject(url('demo-1.0.tar.gz'))
    assert.equal(second.statusCode, 200)
    assert.deepEqual(second.rawPayload, replaced)
    assert.notEqual(second.headers.etag, first.headers.etag)
    assert.equal(f.gets('demo-1.0.tar.gz') - before, 2)
    const third = await app.inject(url('demo-1.0.tar.gz'))
    assert.deepEqual(third.rawPayload, replaced)
    assert.equal(f.gets('demo-1.0.tar.gz') - before, 2, 'the new version is cached in turn')
  })

  await t.test('ranges and conditionals answer exactly as without the cache', async (t) => {
    const bytes = randomBytes(SIZE)
    const f = await fixture(t, moto, { 'demo-1.0.tar.gz': bytes })
    const { app: cached } = await buildBucketApp(t, f.spec, {
      downloadCache: { dir: await tempDir(t), maxBytes: 10 * SIZE },
    })
    // The uncached app reads through a proxy of its own, so that the GETs are told apart.
    const other = await startFaultProxy(t, moto.endpoint)
    const { app: plain } = await buildBucketApp(t, moto.spec(f.bucket, { prefix: PREFIX, endpoint: other.url }))
    const before = f.gets('demo-1.0.tar.gz')
    const probe = await plain.inject({ method: 'HEAD', url: url('demo-1.0.tar.gz') })
    const etag = String(probe.headers.etag)
    const lastModified = String(probe.headers['last-modified'])
    const requests: { method?: 'GET' | 'HEAD'; headers?: Record<string, string> }[] = [
      {},
      { method: 'HEAD' },
      { headers: { range: 'bytes=100000-150000' } },
      { headers: { range: 'bytes=-5' } },
      { headers: { range: 'bytes=0-0' } },
      { headers: { range: `bytes=${String(SIZE - 10)}-` } },
      { headers: { range: `bytes=${String(SIZE)}-` } },
      { headers: { range: 'bytes=0-10, 20-30' } },
      { headers: { range: 'bytes=10-20', 'if-range': etag } },
      { headers: { range: 'bytes=10-20', 'if-range': '"stale"' } },
      { headers: { range: 'bytes=10-20', 'if-range': lastModified } },
      { headers: { 'if-none-match': etag } },
      { headers: { 'if-none-match': '"other"' } },
      { headers: { 'if-modified-since': lastModified } },
      { headers: { 'if-match': '"other"' } },
      { headers: { 'if-match': etag, range: 'bytes=5-9' } },
      { headers: { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' } },
    ]
    // Twice: the first round may fill the cache, the second is answered from it.
    for (const round of ['miss', 'hit']) {
      for (const request of requests) {
        const options = { method: request.method ?? 'GET', url: url('demo-1.0.tar.gz'), headers: request.headers ?? {} }
        const [a, b] = [await cached.inject(options), await plain.inject(options)]
        const what = `${round}: ${JSON.stringify(options)}`
        assert.equal(a.statusCode, b.statusCode, what)
        for (const header of ['etag', 'last-modified', 'content-range', 'content-length', 'accept-ranges'])
          assert.equal(a.headers[header], b.headers[header], `${what}: ${header}`)
        assert.deepEqual(a.rawPayload, b.rawPayload, what)
      }
    }
    assert.equal(f.gets('demo-1.0.tar.gz') - before, 1, 'the cached app fetched the object once')
  })

  await t.test(
    'the size cap evicts the least recently used copies; a copy being read is read to its end',
    async (t) => {
      const files: Record<string, Uint8Array> = {}
      for (const name of ['a', 'b', 'c']) files[`demo-${name}.tar.gz`] = randomBytes(SIZE)
      const f = await fixture(t, moto, files)
      const dir = await tempDir(t)
      const log = pino({ level: 'silent' })
      const storage = await S3Storage.open(f.spec, log)
      // Room for two files and a half.
      const cache = await S3DownloadCache.open({ dir, maxBytes: Math.floor(2.5 * SIZE), storage, log })
      const read = async (filename: string): Promise<Buffer> => {
        const opened = await cache.open(`demo/${filename}`)
        assert.ok(opened !== undefined)
        const chunks: Buffer[] = []
        for await (const chunk of opened.createReadStream()) chunks.push(chunk as Buffer)
        await opened.close()
        return Buffer.concat(chunks)
      }
      assert.deepEqual(await read('demo-a.tar.gz'), files['demo-a.tar.gz'])
      // A copy opened and not read yet...
      const held = await cache.open('demo/demo-a.tar.gz')
      assert.ok(held !== undefined)
      const heldStream = held.createReadStream()
      assert.deepEqual(await read('demo-b.tar.gz'), files['demo-b.tar.gz'])
      assert.deepEqual(await read('demo-c.tar.gz'), files['demo-c.tar.gz'])
      assert.ok(cache.heldBytes <= 2.5 * SIZE, String(cache.heldBytes))
      assert.equal((await readdir(dir)).length, 2, 'two copies are kept')
      // ...is read to its end although it was evicted meanwhile.
      const chunks: Buffer[] = []
      for await (const chunk of heldStream) chunks.push(chunk as Buffer)
      await held.close()
      assert.deepEqual(Buffer.concat(chunks), files['demo-a.tar.gz'])
      const before = { a: f.gets('demo-a.tar.gz'), c: f.gets('demo-c.tar.gz') }
      assert.deepEqual(await read('demo-c.tar.gz'), files['demo-c.tar.gz'])
      assert.equal(f.gets('demo-c.tar.gz'), before.c, 'the most recent copy is kept')
      assert.deepEqual(await read('demo-a.tar.gz'), files['demo-a.tar.gz'])
      assert.equal(f.gets('demo-a.tar.gz'), before.a + 1, 'the least recently used copy was evicted')
      assert.equal((await readdir(dir)).length, 2)
    },
  )

  await t.test('concurrent misses of one file make one GET', async (t) => {
    const bytes = randomBytes(SIZE)
    const f = await fixture(t, moto, { 'demo-1.0.tar.gz': bytes })
    const { app } = await buildBucketApp(t, f.spec, { downloadCache: { dir: await tempDir(t), maxBytes: 10 * SIZE } })
    const before = f.gets('demo-1.0.tar.gz')
    // The fetch's GET waits a little, so that every request has joined it before it answers.
    f.proxy.setRules([
      {
        match: (request) => request.operation === 'GetObject' && request.path.endsWith('/demo-1.0.tar.gz'),
        action: { kind: 'stall', ms: 300 },
        times: 1,
      },
    ])
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        app.inject({ url: url('demo-1.0.tar.gz'), headers: i % 2 === 0 ? {} : { range: 'bytes=1000-1999' } }),
      ),
    )
    for (const [i, answer] of answers.entries()) {
      if (i % 2 === 0) assert.deepEqual(answer.rawPayload, bytes)
      else assert.deepEqual(answer.rawPayload, bytes.subarray(1000, 2000))
    }
    assert.equal(f.gets('demo-1.0.tar.gz') - before, 1)
  })

  await t.test('a restarted cache serves the copies of the last run; leftovers of a crash are removed', async (t) => {
    const bytes = randomBytes(SIZE)
    const f = await fixture(t, moto, { 'demo-1.0.tar.gz': bytes })
    const dir = await tempDir(t)
    const log = pino({ level: 'silent' })
    const storage = await S3Storage.open(f.spec, log)
    const first = await S3DownloadCache.open({ dir, maxBytes: 10 * SIZE, storage, log })
    const opened = await first.open('demo/demo-1.0.tar.gz')
    assert.ok(opened !== undefined)
    assert.deepEqual(await opened.read({ start: 0, end: SIZE - 1 }), bytes)
    await opened.close()
    // A fetch cut short long ago, and a file that is none of the cache's.
    const stale = join(dir, `${'0'.repeat(64)}.0123456789ab.tmp`)
    await writeFile(stale, 'half')
    await utimes(stale, new Date(0), new Date(0))
    await writeFile(join(dir, 'README'), 'not ours')
    const before = f.gets('demo-1.0.tar.gz')
    const second = await S3DownloadCache.open({ dir, maxBytes: 10 * SIZE, storage, log })
    assert.equal(second.heldBytes, SIZE)
    const again = await second.open('demo/demo-1.0.tar.gz')
    assert.ok(again !== undefined)
    assert.deepEqual(await again.read({ start: 10, end: 19 }), bytes.subarray(10, 20))
    await again.close()
    assert.equal(f.gets('demo-1.0.tar.gz'), before)
    const names = await readdir(dir)
    assert.ok(names.includes('README'), 'a file that is not a copy is left alone')
    assert.equal(names.filter((name) => name.endsWith('.tmp')).length, 0)
  })
})

await test('--s3-download-cache needs a bucket, and takes a size cap', () => {
  assert.throws(() => resolveConfig({ s3DownloadCache: '/var/cache/eggs' }, {}), ConfigError)
  const config = resolveConfig({ storage: 's3://bucket/pypi', s3DownloadCache: '/var/cache/eggs' }, {})
  assert.deepEqual(config.s3DownloadCache, { dir: '/var/cache/eggs', maxBytes: 10 * 1024 ** 3 })
  const capped = resolveConfig(
    { storage: 's3://bucket', s3DownloadCacheMax: '512M' },
    {
      EGGSERVE_S3_DOWNLOAD_CACHE: '/srv/cache',
    },
  )
  assert.deepEqual(capped.s3DownloadCache, { dir: '/srv/cache', maxBytes: 512 * 1024 ** 2 })
  assert.equal(resolveConfig({ storage: 's3://bucket' }, {}).s3DownloadCache, undefined)
  assert.throws(() => resolveConfig({ storage: 's3://bucket', s3DownloadCache: 'x', s3DownloadCacheMax: 'lots' }, {}))
})
