// Downloads from a bucket described by the listing the index holds: no HEAD before the GET,
// whose If-Match on the listed ETag makes the store refuse another version; an object replaced
// (or removed) behind the listing's back is looked up again before any header is sent, so a
// response never carries one version's headers with another's bytes. Real moto, behind the
// counting proxy (real traffic), which sees every request the server makes.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { buildBucketApp, type TestApp } from '../helpers/build-app.js'
import { startMoto, type Moto } from '../helpers/moto.js'
import { startFaultProxy, type FaultProxy } from '../helpers/s3-fault-proxy.js'

const PREFIX = 'pypi/'
const md5 = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex')

// Streamed over the plain GET (1 MiB and more), streamed through GetObject, read in one go (64 KiB and less).
const SIZES = { plain: 2 * 1024 * 1024 + 17, streamed: 300 * 1024, small: 10 * 1024 } as const
type Kind = keyof typeof SIZES
const VERSIONS: Record<Kind, string> = { plain: '1.0', streamed: '2.0', small: '3.0' }
const filename = (kind: Kind): string => `listed-${VERSIONS[kind]}.tar.gz`
const url = (kind: Kind): string => `/packages/listed/${filename(kind)}`

interface Setup {
  readonly moto: Moto
  readonly bucket: string
  readonly proxy: FaultProxy
  readonly app: TestApp['app']
  put(kind: Kind, bytes: Buffer): Promise<void>
  /** Requests of `operation` the server sent for `kind`'s object. */
  sent(operation: string, kind: Kind): number
}

/** A bucket holding `kind`'s objects of `stored`, and a server over it that has listed them. */
async function setUp(t: TestContext, moto: Moto, stored: ReadonlyMap<Kind, Buffer>): Promise<Setup> {
  const bucket = await moto.createBucket()
  const put = async (kind: Kind, bytes: Buffer): Promise<void> => {
    await moto.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}listed/${filename(kind)}`, Body: bytes }),
    )
  }
  for (const [kind, bytes] of stored) await put(kind, bytes)
  const proxy = await startFaultProxy(t, moto.endpoint)
  // Listings kept a minute: the index goes on describing what it listed, as a replica does
  // between journal polls for a change made behind eggserve's back.
  const { app } = await buildBucketApp(
    t,
    moto.spec(bucket, { prefix: PREFIX, endpoint: proxy.url, listingTtlMs: 60_000 }),
  )
  const sent = (operation: string, kind: Kind): number =>
    proxy.requests.filter((request) => request.operation === operation && request.path.endsWith(`/${filename(kind)}`))
      .length
  assert.equal((await app.inject('/simple/listed/')).statusCode, 200)
  return { moto, bucket, proxy, app, put, sent }
}

function someObjects(): Map<Kind, Buffer> {
  return new Map((Object.keys(SIZES) as Kind[]).map((kind) => [kind, randomBytes(SIZES[kind])]))
}

await test('downloads described by the listing', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return

  await t.test('are answered without a HEAD: one GET, If-Match on the listed ETag', async (t) => {
    const stored = someObjects()
    const setup = await setUp(t, moto, stored)
    for (const kind of Object.keys(SIZES) as Kind[]) {
      const bytes = stored.get(kind) ?? Buffer.alloc(0)
      const heads = setup.sent('HeadObject', kind)
      const gets = setup.proxy.requests.length
      const res = await setup.app.inject(url(kind))
      assert.equal(res.statusCode, 200, kind)
      assert.deepEqual(res.rawPayload, bytes, kind)
      assert.equal(res.headers['content-length'], String(bytes.length), kind)
      assert.equal(setup.sent('HeadObject', kind), heads, `${kind}: no HEAD`)
      const sinceThen = setup.proxy.requests.slice(gets)
      assert.deepEqual(
        sinceThen.map((request) => [request.operation, request.headers['if-match']]),
        [['GetObject', `"${md5(bytes)}"`]],
        `${kind}: one GET, pinned to the listed version`,
      )
      // A HEAD request and a 304 send no byte: the listing answers them, the store is not asked.
      const before = setup.proxy.requests.length
      const head = await setup.app.inject({ method: 'HEAD', url: url(kind) })
      assert.equal(head.statusCode, 200, kind)
      assert.equal(head.headers.etag, res.headers.etag, kind)
      assert.equal(head.headers['content-length'], String(bytes.length), kind)
      const unchanged = await setup.app.inject({
        url: url(kind),
        headers: { 'if-none-match': String(res.headers.etag) },
      })
      assert.equal(unchanged.statusCode, 304, kind)
      assert.deepEqual(setup.proxy.requests.slice(before), [], `${kind}: nothing asked of the store`)
    }
  })

  await t.test(
    'an object replaced since the listing: looked up again, headers and bytes of the new version',
    async (t) => {
      const setup = await setUp(t, moto, someObjects())
      const before = new Map<Kind, { etag: string; lastModified: string }>()
      for (const kind of Object.keys(SIZES) as Kind[]) {
        const res = await setup.app.inject(url(kind))
        assert.equal(res.statusCode, 200)
        before.set(kind, { etag: String(res.headers.etag), lastModified: String(res.headers['last-modified']) })
      }
      // Replaced behind the server's back, with bytes of another size: the listing still says the old one.
      const replaced = new Map<Kind, Buffer>()
      for (const kind of Object.keys(SIZES) as Kind[]) {
        const bytes = randomBytes(SIZES[kind] + 4097)
        replaced.set(kind, bytes)
        await setup.put(kind, bytes)
      }
      for (const kind of Object.keys(SIZES) as Kind[]) {
        const bytes = replaced.get(kind) ?? Buffer.alloc(0)
        const res = await setup.app.inject(url(kind))
        assert.equal(res.statusCode, 200, kind)
        assert.equal(res.headers['content-length'], String(bytes.length), kind)
        assert.deepEqual(res.rawPayload, bytes, `${kind}: the new version's bytes`)
        assert.notEqual(res.headers.etag, before.get(kind)?.etag, `${kind}: the new version's ETag`)
        // The headers are those of a look-up of the new version: a second request (now from
        // the HEAD again, as the listing is still the old one) says the same.
        const again = await setup.app.inject(url(kind))
        assert.equal(again.headers.etag, res.headers.etag, kind)
        assert.equal(again.headers['last-modified'], res.headers['last-modified'], kind)
        assert.deepEqual(again.rawPayload, bytes, kind)
      }
      // A range asked If-Range the old version: the new version is another entity, so all of it (RFC 9110 §13.1.5).
      const kind: Kind = 'plain'
      const ranged = await setup.app.inject({
        url: url(kind),
        headers: { range: 'bytes=0-99', 'if-range': before.get(kind)?.etag ?? '' },
      })
      assert.equal(ranged.statusCode, 200)
      assert.equal(ranged.headers['content-range'], undefined)
      assert.deepEqual(ranged.rawPayload, replaced.get(kind))
      // A range of the new version, asked while the listing still says the old one: that range of the new bytes.
      const part = await setup.app.inject({ url: url(kind), headers: { range: 'bytes=10-4000000' } })
      assert.equal(part.statusCode, 206)
      const length = replaced.get(kind)?.length ?? 0
      assert.equal(part.headers['content-range'], `bytes 10-${String(length - 1)}/${String(length)}`)
      assert.deepEqual(part.rawPayload, replaced.get(kind)?.subarray(10))
    },
  )

  await t.test('an object removed since the listing: 404, not a broken response', async (t) => {
    const setup = await setUp(t, moto, someObjects())
    for (const kind of Object.keys(SIZES) as Kind[])
      await moto.client.send(
        new DeleteObjectCommand({ Bucket: setup.bucket, Key: `${PREFIX}listed/${filename(kind)}` }),
      )
    for (const kind of Object.keys(SIZES) as Kind[]) {
      const res = await setup.app.inject(url(kind))
      assert.equal(res.statusCode, 404, kind)
      // Nothing of the listed version's headers is left on the answer.
      assert.equal(res.headers['content-length'], String(res.rawPayload.length), kind)
      assert.equal(res.headers.etag, undefined, kind)
      assert.equal(res.headers['last-modified'], undefined, kind)
    }
  })
})
