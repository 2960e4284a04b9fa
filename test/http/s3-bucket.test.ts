// The whole server over a bucket (moto), through inject: both trees, PEP 691 JSON, metadata,
// yanks and signatures from sidecar objects, the PyPI JSON API, ranges and conditionals
// (validators the same on every replica), uploads with auth, and store failures mapped to
// clear statuses through the fault-injecting proxy.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { test } from 'node:test'
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { buildBucketApp } from '../helpers/build-app.js'
import { buildSdist, buildWheel } from '../helpers/distributions.js'
import { startMoto, MOTO_ENV, type Moto } from '../helpers/moto.js'
import { startFaultProxy } from '../helpers/s3-fault-proxy.js'
import { upload } from '../helpers/upload-form.js'
import { ALICE, basic, writePasswords } from '../helpers/users.js'
import { tempDir } from '../helpers/temp-tree.js'

/** A log record at level error or above, as the error handler writes them. */
interface ErrorRecord {
  readonly msg: unknown
  readonly err: {
    readonly code?: string
    readonly message?: string
    readonly details?: { readonly s3?: { readonly error?: string } }
  }
}

function errorRecords(logs: readonly Record<string, unknown>[]): ErrorRecord[] {
  // The shape pino's error serializer writes, checked field by field by the assertions.
  return logs
    .filter((record) => Number(record.level) >= 50)
    .map((record) => ({ msg: record.msg, err: record.err ?? {} }))
}

const md5 = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex')
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

const WHEEL = buildWheel({ name: 'Demo.Pkg', version: '1.0', summary: 'One point oh', requiresPython: '>=3.7' })
const SDIST = buildSdist({ name: 'Demo.Pkg', version: '1.0', summary: 'One point oh' })
const YANKED = buildWheel({ name: 'Demo.Pkg', version: '2.0' })
const PREFIX = 'pypi/'

interface Bucket {
  readonly name: string
  readonly put: (key: string, body: Uint8Array | string) => Promise<void>
  readonly get: (key: string) => Promise<Buffer | undefined>
  /** Temporary objects and multipart uploads left in the bucket. */
  readonly leftovers: () => Promise<string[]>
}

async function bucketWithDemo(moto: Moto): Promise<Bucket> {
  const name = await moto.createBucket()
  const send = moto.client.send.bind(moto.client)
  const bucket: Bucket = {
    name,
    put: async (key, body) => {
      await send(new PutObjectCommand({ Bucket: name, Key: key, Body: body }))
    },
    get: async (key) => {
      try {
        const got = await send(new GetObjectCommand({ Bucket: name, Key: key }))
        return Buffer.from((await got.Body?.transformToByteArray()) ?? [])
      } catch {
        return undefined
      }
    },
    leftovers: async () => {
      // Temporary objects only: the change journal and the stored facts are meant to stay.
      const objects = await send(new ListObjectsV2Command({ Bucket: name, Prefix: `${PREFIX}.eggserve/tmp/` }))
      const uploads = await send(new ListMultipartUploadsCommand({ Bucket: name }))
      return [
        ...(objects.Contents ?? []).map((object) => object.Key ?? ''),
        ...(uploads.Uploads ?? []).map((item) => item.Key ?? ''),
      ]
    },
  }
  // As a person would drop them in with `aws s3 cp`: the folder-per-project layout under the prefix.
  for (const dist of [WHEEL, SDIST, YANKED]) await bucket.put(`${PREFIX}Demo.Pkg/${dist.filename}`, dist.bytes)
  await bucket.put(`${PREFIX}Demo.Pkg/${YANKED.filename}.yanked`, 'broken build\n')
  await bucket.put(`${PREFIX}Demo.Pkg/${WHEEL.filename}.asc`, '-----BEGIN PGP SIGNATURE-----\n')
  await bucket.put('elsewhere/other-1.0.tar.gz', 'outside the prefix')
  return bucket
}

await test('a bucket-backed server', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return

  await t.test(
    'serves both trees, PEP 691 JSON, metadata, yanks, signatures and the PyPI JSON API from the bucket',
    async (t) => {
      const bucket = await bucketWithDemo(moto)
      const { app, report } = await buildBucketApp(t, moto.spec(bucket.name, { prefix: PREFIX }))
      assert.deepEqual(report.problems, [])
      assert.match((await app.inject('/')).body, /<a href="Demo\.Pkg\/">Demo\.Pkg<\/a>/)
      assert.doesNotMatch((await app.inject('/')).body, /elsewhere|eggserve/)
      const original = (await app.inject('/Demo.Pkg/')).body
      assert.ok(original.includes(`href="${WHEEL.filename}#md5=${md5(WHEEL.bytes)}"`), original)
      assert.match((await app.inject('/simple/')).body, /<a href="demo-pkg\/">Demo\.Pkg<\/a>/)
      const page = (await app.inject('/simple/demo-pkg/')).body
      assert.ok(page.includes(`href="../../packages/Demo.Pkg/${SDIST.filename}#md5=${md5(SDIST.bytes)}"`), page)
      assert.ok(page.includes(`data-dist-info-metadata="sha256=${sha256(WHEEL.metadata)}"`), page)
      assert.ok(page.includes('data-requires-python="&gt;=3.7"'), page)
      assert.ok(page.includes('data-yanked="broken build"'), page)
      const json = await app.inject({
        url: '/simple/demo-pkg/',
        headers: { accept: 'application/vnd.pypi.simple.v1+json' },
      })
      const files = json.json<{ files: { filename: string; hashes: { sha256: string }; yanked: string | boolean }[] }>()
        .files
      assert.deepEqual(
        files.map((file) => [file.filename, file.hashes.sha256, file.yanked]).sort(),
        [
          [SDIST.filename, sha256(SDIST.bytes), false],
          [WHEEL.filename, sha256(WHEEL.bytes), false],
          [YANKED.filename, sha256(YANKED.bytes), 'broken build'],
        ].sort(),
      )
      const metadata = await app.inject(`/packages/Demo.Pkg/${WHEEL.filename}.metadata`)
      assert.equal(metadata.statusCode, 200)
      assert.deepEqual(metadata.rawPayload, WHEEL.metadata)
      assert.equal((await app.inject(`/Demo.Pkg/${WHEEL.filename}.asc`)).body, '-----BEGIN PGP SIGNATURE-----\n')
      const api = (await app.inject('/pypi/demo-pkg/json')).json<{
        info: { version: string; summary: string }
        urls: { filename: string; digests: { sha256: string } }[]
      }>()
      assert.equal(api.info.version, '1.0')
      assert.equal(api.info.summary, 'One point oh')
      assert.equal(api.urls.find((file) => file.filename === WHEEL.filename)?.digests.sha256, sha256(WHEEL.bytes))
      for (const url of [`/packages/Demo.Pkg/${SDIST.filename}`, `/Demo.Pkg/${SDIST.filename}`]) {
        const download = await app.inject(url)
        assert.equal(download.statusCode, 200)
        assert.deepEqual(download.rawPayload, SDIST.bytes)
        assert.equal(download.headers['content-length'], String(SDIST.bytes.length))
        assert.equal(download.headers['content-type'], 'application/x-gzip')
      }
      assert.equal((await app.inject('/packages/elsewhere/other-1.0.tar.gz')).statusCode, 404)
    },
  )

  await t.test('ranges and conditionals; two replicas on one bucket give the same validators', async (t) => {
    const bucket = await bucketWithDemo(moto)
    const big = randomBytes(200 * 1024)
    await bucket.put(`${PREFIX}Demo.Pkg/demo_pkg-3.0.tar.gz`, big)
    const spec = moto.spec(bucket.name, { prefix: PREFIX })
    const { app } = await buildBucketApp(t, spec)
    const { app: replica } = await buildBucketApp(t, spec)
    const url = '/packages/Demo.Pkg/demo_pkg-3.0.tar.gz'
    const full = await app.inject(url)
    const etag = full.headers.etag
    const lastModified = full.headers['last-modified']
    assert.equal(typeof etag, 'string')
    const other = await replica.inject({ method: 'HEAD', url })
    assert.equal(other.headers.etag, etag, 'the ETag comes from the object, not from the replica')
    assert.equal(other.headers['last-modified'], lastModified)
    assert.deepEqual(full.rawPayload, big)
    const middle = await app.inject({ url, headers: { range: 'bytes=100000-150000' } })
    assert.equal(middle.statusCode, 206)
    assert.equal(middle.headers['content-range'], `bytes 100000-150000/${big.length}`)
    assert.deepEqual(middle.rawPayload, big.subarray(100_000, 150_001))
    const suffix = await replica.inject({ url, headers: { range: 'bytes=-5', 'if-range': String(etag) } })
    assert.equal(suffix.statusCode, 206, 'If-Range with the ETag of another replica still matches')
    assert.deepEqual(suffix.rawPayload, big.subarray(-5))
    assert.equal((await app.inject({ url, headers: { range: `bytes=${big.length}-` } })).statusCode, 416)
    assert.equal((await replica.inject({ url, headers: { 'if-none-match': String(etag) } })).statusCode, 304)
    assert.equal(
      (await replica.inject({ url, headers: { 'if-modified-since': String(lastModified) } })).statusCode,
      304,
    )
    const stale = await app.inject({ url, headers: { range: 'bytes=0-0', 'if-range': '"stale"' } })
    assert.equal(stale.statusCode, 200)
    assert.equal(stale.rawPayload.length, big.length)
    // PEP 658 metadata: dated by its wheel's object (its LastModified), the same on every replica.
    const wheelUrl = `/packages/Demo.Pkg/${WHEEL.filename}`
    const wheelDate = (await app.inject({ method: 'HEAD', url: wheelUrl })).headers['last-modified']
    const metadata = await app.inject(`${wheelUrl}.metadata`)
    const metadataOther = await replica.inject(`${wheelUrl}.metadata`)
    assert.equal(typeof wheelDate, 'string')
    assert.equal(metadata.headers['last-modified'], wheelDate)
    assert.equal(metadataOther.headers['last-modified'], wheelDate)
    assert.equal(metadataOther.headers.etag, metadata.headers.etag)
    const since = { 'if-modified-since': String(wheelDate) }
    assert.equal((await replica.inject({ url: `${wheelUrl}.metadata`, headers: since })).statusCode, 304)
  })

  await t.test('uploads go into the bucket, behind the password file; duplicates follow Warehouse', async (t) => {
    const bucket = await bucketWithDemo(moto)
    const passwords = await writePasswords(await tempDir(t), [ALICE])
    const { app, services } = await buildBucketApp(t, moto.spec(bucket.name, { prefix: PREFIX }), {
      uploads: {},
      passwords,
      authenticate: ['update'],
    })
    const fresh = buildWheel({ name: 'Fresh', version: '1.0' })
    const refused = await upload(app, fresh, { name: 'Fresh', version: '1.0' })
    assert.equal(refused.statusCode, 401)
    const auth = { authorization: basic(ALICE) }
    const stored = await upload(app, fresh, { name: 'Fresh', version: '1.0', headers: auth })
    assert.equal(stored.statusCode, 200, stored.body)
    assert.deepEqual(await bucket.get(`${PREFIX}fresh/${fresh.filename}`), fresh.bytes)
    const before = services.reader.stats.files
    assert.ok(
      (await app.inject('/simple/fresh/')).body.includes(`${fresh.filename}#md5=${md5(fresh.bytes)}`),
      'listed at once',
    )
    assert.equal(
      services.reader.stats.files,
      before,
      'digests came from the upload stream, not from reading the object back',
    )
    const again = await upload(app, fresh, { name: 'Fresh', version: '1.0', headers: auth })
    assert.equal(again.statusCode, 200, again.body)
    const other = buildWheel({ name: 'Fresh', version: '1.0', summary: 'other bytes' })
    const conflict = await upload(app, other, { name: 'Fresh', version: '1.0', headers: auth })
    assert.equal(conflict.statusCode, 409, conflict.body)
    assert.deepEqual(await bucket.get(`${PREFIX}fresh/${fresh.filename}`), fresh.bytes, 'the stored file is untouched')
    // Larger than what is kept in memory: a multipart upload of a temporary object, then a copy.
    const large = buildWheel({
      name: 'Fresh',
      version: '2.0',
      moduleSource: `__version__ = '2.0'\n# ${randomBytes(10 * 1024 * 1024).toString('base64')}\n`,
    })
    const big = await upload(app, large, { name: 'Fresh', version: '2.0', headers: auth })
    assert.equal(big.statusCode, 200, big.body)
    assert.deepEqual(await bucket.get(`${PREFIX}fresh/${large.filename}`), large.bytes)
    assert.equal(
      (await app.inject({ url: `/packages/fresh/${large.filename}`, headers: { range: 'bytes=0-3' } })).body,
      'PK\u0003\u0004',
    )
    const removed = await app.inject({
      method: 'POST',
      url: '/',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'name=fresh&version=2.0&:action=remove_pkg',
    })
    assert.equal(removed.statusCode, 200, removed.body)
    assert.equal(await bucket.get(`${PREFIX}fresh/${large.filename}`), undefined)
    assert.deepEqual(await bucket.leftovers(), [], 'no temporary object or multipart upload is left')
  })

  await t.test('a 409 ConditionalRequestConflict on publishing is retried', async (t) => {
    const bucket = await bucketWithDemo(moto)
    const proxy = await startFaultProxy(t, moto.endpoint)
    proxy.setRules([
      {
        match: (request) => request.operation === 'PutObject' && request.headers['if-none-match'] === '*',
        action: { kind: 'conflict' },
        times: 1,
      },
    ])
    const { app } = await buildBucketApp(t, moto.spec(bucket.name, { prefix: PREFIX, endpoint: proxy.url }), {
      uploads: {},
      authenticate: [],
    })
    const fresh = buildWheel({ name: 'Fresh', version: '1.0' })
    const res = await upload(app, fresh, { name: 'Fresh', version: '1.0' })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(
      proxy.requests.filter((request) => request.operation === 'PutObject' && request.path.endsWith(fresh.filename))
        .length,
      2,
    )
    assert.deepEqual(await bucket.get(`${PREFIX}fresh/${fresh.filename}`), fresh.bytes)
  })

  await t.test(
    '503 SlowDown is retried with backoff; when it persists the client gets 503 with Retry-After',
    async (t) => {
      const bucket = await bucketWithDemo(moto)
      const proxy = await startFaultProxy(t, moto.endpoint)
      const { app, logs } = await buildBucketApp(
        t,
        moto.spec(bucket.name, { prefix: PREFIX, endpoint: proxy.url, maxAttempts: 3 }),
      )
      const url = `/packages/Demo.Pkg/${SDIST.filename}`
      proxy.setRules([
        { match: (request) => request.operation === 'GetObject', action: { kind: 'slow-down' }, times: 2 },
      ])
      const recovered = await app.inject(url)
      assert.equal(recovered.statusCode, 200)
      assert.deepEqual(recovered.rawPayload, SDIST.bytes)
      const reads = (): number =>
        proxy.requests.filter((request) => request.operation === 'GetObject' && request.path.endsWith(SDIST.filename))
          .length
      assert.equal(reads(), 3, 'two refusals, then the answer')
      proxy.setRules([{ match: (request) => request.operation === 'GetObject', action: { kind: 'slow-down' } }])
      const throttled = await app.inject(url)
      assert.equal(throttled.statusCode, 503)
      assert.equal(throttled.headers['retry-after'], '2')
      assert.equal(throttled.body, 'Service Unavailable: the package store is throttling requests; retry later\n')
      assert.equal(reads(), 6, 'bounded: maxAttempts tries, then it gives up')
      // Logged once, by the error handler, with the store's facts.
      const failed = errorRecords(logs)
      assert.deepEqual(
        failed.map((record) => [record.msg, record.err.code]),
        [['Request failed', 'EGGSERVE_STORE_THROTTLED']],
      )
      assert.deepEqual(failed[0]?.err.details?.s3, { error: 'SlowDown', status: 503, requestId: 'proxy', attempts: 3 })
      assert.match(
        failed[0].err.message ?? '',
        new RegExp(
          `: Cannot read "Demo\\.Pkg/${SDIST.filename.replaceAll('.', '\\.')}" in s3://${bucket.name}/pypi: the store is throttling requests \\(SlowDown\\) \\(HTTP 503\\) after 3 attempts$`,
        ),
      )
    },
  )

  await t.test('a store that stops answering: the request times out, is retried, then 503', async (t) => {
    const bucket = await bucketWithDemo(moto)
    const proxy = await startFaultProxy(t, moto.endpoint)
    const { app } = await buildBucketApp(
      t,
      moto.spec(bucket.name, { prefix: PREFIX, endpoint: proxy.url, maxAttempts: 2, timeoutMs: 300 }),
    )
    proxy.setRules([{ match: (request) => request.operation === 'GetObject', action: { kind: 'stall', ms: 60_000 } }])
    const res = await app.inject(`/packages/Demo.Pkg/${SDIST.filename}`)
    assert.equal(res.statusCode, 503)
    assert.equal(res.headers['retry-after'], '5')
    assert.equal(res.body, 'Service Unavailable: the package store is not answering; retry later\n')
    assert.equal(
      proxy.requests.filter((request) => request.operation === 'GetObject' && request.path.endsWith(SDIST.filename))
        .length,
      2,
    )
  })

  await t.test(
    'AccessDenied (or a key the store does not know) is a clear 500 and a log line without secrets',
    async (t) => {
      const bucket = await bucketWithDemo(moto)
      const proxy = await startFaultProxy(t, moto.endpoint)
      const { app, logs } = await buildBucketApp(
        t,
        moto.spec(bucket.name, { prefix: PREFIX, endpoint: proxy.url, listingTtlMs: 0 }),
      )
      // A download the listing describes: its GET is the first request refused. A signature is
      // not in the listing the index holds: its HEAD is.
      proxy.setRules([
        {
          match: (request) => request.operation === 'GetObject' || request.operation === 'HeadObject',
          action: { kind: 'access-denied' },
        },
      ])
      for (const url of [`/packages/Demo.Pkg/${SDIST.filename}`, `/Demo.Pkg/${WHEEL.filename}.asc`]) {
        const denied = await app.inject(url)
        assert.equal(denied.statusCode, 500)
        assert.equal(
          denied.body,
          "The package store refused this server's credentials; the server's operator must fix its access\n",
        )
      }
      proxy.setRules([])
      proxy.strictAuth = { accessKeyId: 'the-one-the-store-knows' }
      const listing = await app.inject('/simple/')
      assert.equal(listing.statusCode, 500)
      assert.match(listing.body, /refused this server's credentials/)
      // One error record per failed request, by the error handler. A HEAD answer has no body: the status names it.
      const failed = errorRecords(logs)
      assert.deepEqual(
        failed.map((record) => [record.msg, record.err.code, record.err.details?.s3?.error]),
        [
          ['Request failed', 'EGGSERVE_STORE_DENIED', 'AccessDenied'],
          ['Request failed', 'EGGSERVE_STORE_DENIED', 'Forbidden'],
          ['Request failed', 'EGGSERVE_STORE_DENIED', 'InvalidAccessKeyId'],
        ],
      )
      assert.match(
        failed.at(-1)?.err.message ?? '',
        /: Cannot list s3:\/\/eggserve-test-\d+-\d+\/pypi: access denied \(InvalidAccessKeyId\): check the credentials and the IAM permissions listed in the README \(HTTP 403\)/,
      )
      const everything = JSON.stringify(logs)
      assert.ok(!everything.includes(MOTO_ENV.AWS_SECRET_ACCESS_KEY), 'the secret key is never logged')
      assert.ok(
        !/X-Amz-Signature|Signature=|Authorization/i.test(everything),
        'nor a signature or an Authorization header',
      )
    },
  )

  await t.test(
    'uploads while the store is throttling: 503 with Retry-After, nothing published, nothing left',
    async (t) => {
      const bucket = await bucketWithDemo(moto)
      const proxy = await startFaultProxy(t, moto.endpoint)
      const { app } = await buildBucketApp(
        t,
        moto.spec(bucket.name, { prefix: PREFIX, endpoint: proxy.url, maxAttempts: 2 }),
        { uploads: {}, authenticate: [] },
      )
      proxy.setRules([{ match: (request) => request.operation === 'PutObject', action: { kind: 'slow-down' } }])
      const fresh = buildWheel({ name: 'Fresh', version: '1.0' })
      const res = await upload(app, fresh, { name: 'Fresh', version: '1.0' })
      assert.equal(res.statusCode, 503, res.body)
      assert.equal(res.headers['retry-after'], '2')
      assert.equal(await bucket.get(`${PREFIX}fresh/${fresh.filename}`), undefined)
      assert.deepEqual(await bucket.leftovers(), [])
    },
  )
})
