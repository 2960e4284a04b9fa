// What only the bucket backend does, on moto and through the fault proxy: the conditional-write
// probe (a store that ignores If-None-Match is found out), remembered listings (one LIST for
// many requests, forgotten by the storage's own writes), reads pinned to the ETag the HEAD
// saw, the sweep of multipart uploads a crash left at a project file's key, folder markers,
// and the AWS SDK never loaded by a folder-backed server.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { test } from 'node:test'
import { setTimeout } from 'node:timers/promises'
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { S3Storage } from '../../src/storage/s3-storage.js'
import { memoryLogger } from '../helpers/build-app.js'
import { startMoto } from '../helpers/moto.js'
import { startFaultProxy } from '../helpers/s3-fault-proxy.js'
import { runProcess } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString()
}

await test('S3Storage on moto', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const put = async (bucket: string, key: string, body: string): Promise<void> => {
    await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
  }

  await t.test(
    'the probe: moto enforces create-only writes; a store that ignores If-None-Match is found out, and nothing is left',
    async (t) => {
      const bucket = await moto.createBucket()
      assert.equal(
        (await (await S3Storage.open(moto.spec(bucket), memoryLogger([]))).probeConditionalWrites()).enforced,
        true,
      )
      const proxy = await startFaultProxy(t, moto.endpoint)
      proxy.ignoreIfNoneMatch = true
      const lax = await S3Storage.open(moto.spec(bucket, { endpoint: proxy.url }), memoryLogger([]))
      const probe = await lax.probeConditionalWrites()
      assert.equal(probe.enforced, false)
      assert.equal(probe.detail, 'PutObject with If-None-Match: * replaced an existing object instead of answering 412')
      assert.equal(proxy.count('PutObject'), 2)
      const left = await moto.client.send(new ListObjectsV2Command({ Bucket: bucket }))
      assert.deepEqual(left.Contents ?? [], [])
      assert.deepEqual((await moto.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [], [])
    },
  )

  await t.test(
    "one LIST answers many concurrent token checks; the storage's own writes forget what it remembered",
    async (t) => {
      const bucket = await moto.createBucket()
      await put(bucket, 'demo/demo-1.0.tar.gz', 'one')
      const proxy = await startFaultProxy(t, moto.endpoint)
      const storage = await S3Storage.open(
        moto.spec(bucket, { endpoint: proxy.url, listingTtlMs: 60_000 }),
        memoryLogger([]),
      )
      // LISTs of the folder (a first listing also looks for a snapshot and the journal's end).
      const demoLists = (): number =>
        proxy.requests.filter((r) => r.operation === 'ListObjectsV2' && r.query.get('prefix') === 'demo/').length
      const treeLists = (): number =>
        proxy.requests.filter((r) => r.operation === 'ListObjectsV2' && isTreeListing(r.query)).length
      const tokens = await Promise.all(Array.from({ length: 20 }, () => storage.changeToken('demo')))
      assert.equal(new Set(tokens).size, 1)
      assert.equal(treeLists(), 2, 'the start-up listing of the whole tree: the names before ".", then after')
      assert.equal(demoLists(), 0)
      await put(bucket, 'demo/demo-2.0.tar.gz', 'two')
      assert.equal(
        (await storage.listFolder('demo'))?.files.length,
        1,
        'a change made elsewhere shows after listingTtlMs (here a minute)',
      )
      const upload = await storage.createUpload('demo')
      await pipeline(Readable.from([Buffer.from('three')]), upload.writable)
      await upload.commit('demo/demo-3.0.tar.gz', { replace: false })
      assert.deepEqual(
        (await storage.listFolder('demo'))?.files.map((file) => file.key),
        ['demo/demo-1.0.tar.gz', 'demo/demo-2.0.tar.gz', 'demo/demo-3.0.tar.gz'],
      )
      const fresh = await S3Storage.open(moto.spec(bucket, { endpoint: proxy.url, listingTtlMs: 0 }), memoryLogger([]))
      const before = demoLists()
      await fresh.changeToken('demo')
      await fresh.changeToken('demo')
      assert.equal(demoLists(), before + 2, 'with listingTtlMs 0 every check lists')
    },
  )

  await t.test('listing many folders one by one sends at most 16 LISTs at once', async (t) => {
    const bucket = await moto.createBucket()
    await Promise.all(Array.from({ length: 40 }, (_, i) => put(bucket, `p${i}/p${i}-1.0.tar.gz`, 'x')))
    const proxy = await startFaultProxy(t, moto.endpoint)
    // The whole-tree listing of the start-up is refused: every folder is then listed on its own.
    // Slow answers keep the LISTs in progress long enough to pile up if nothing held them back.
    proxy.setRules([
      {
        match: (request) => request.operation === 'ListObjectsV2' && isTreeListing(request.query),
        action: { kind: 'access-denied' },
      },
      { match: (request) => request.operation === 'ListObjectsV2', action: { kind: 'stall', ms: 50 } },
    ])
    const storage = await S3Storage.open(moto.spec(bucket, { endpoint: proxy.url }), memoryLogger([]))
    const listings = await Promise.all((await storage.listRoot()).folders.map((folder) => storage.listFolder(folder)))
    assert.equal(listings.filter((listing) => listing?.files.length === 1).length, 40)
    assert.equal(proxy.peak('ListObjectsV2'), 16)
  })

  await t.test('destroying a read stream (the client went away) aborts its GET to the store', async (t) => {
    const bucket = await moto.createBucket()
    // Larger than the loopback socket buffers can hold: the GET cannot finish unread.
    const size = 16 * 1024 * 1024
    await moto.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'big/big-1.0.tar.gz', Body: Buffer.alloc(size, 7) }),
    )
    const proxy = await startFaultProxy(t, moto.endpoint)
    const storage = await S3Storage.open(moto.spec(bucket, { endpoint: proxy.url }), memoryLogger([]))
    const opened = await storage.open('big/big-1.0.tar.gz')
    assert.equal(opened?.file.size, size)
    const stream = opened.createReadStream()
    await once(stream, 'data')
    stream.destroy()
    while (proxy.inFlight('GetObject') > 0) await setTimeout(20)
    assert.equal(proxy.count('GetObject'), 1)
    assert.equal(proxy.cut('GetObject'), 1, 'the answer was cut short, not read to its end')
    await opened.close()
  })

  await t.test(
    "a streamed read of 1 MiB or more is a presigned GET carrying the open's If-Match (and Range), read off its socket; an answer that is not plain, or a smaller read, goes to GetObject",
    async (t) => {
      const bucket = await moto.createBucket()
      const body = 'x'.repeat(3_000_000)
      await put(bucket, 'demo/demo-1.0.tar.gz', body)
      const proxy = await startFaultProxy(t, moto.endpoint)
      const storage = await S3Storage.open(moto.spec(bucket, { endpoint: proxy.url }), memoryLogger([]))
      const opened = await storage.open('demo/demo-1.0.tar.gz')
      assert.ok(opened)
      const gets = (): { presigned: boolean; ifMatch: unknown; range: unknown }[] =>
        proxy.requests
          .filter((request) => request.operation === 'GetObject')
          .map((request) => ({
            presigned: request.query.has('X-Amz-Signature'),
            ifMatch: request.headers['if-match'],
            range: request.headers.range,
          }))
      const etag = `"${opened.file.identity.split(':')[0] ?? ''}"`
      assert.equal(await collect(opened.createReadStream()), body)
      assert.equal(await collect(opened.createReadStream({ start: 10, end: 2_000_009 })), body.slice(10, 2_000_010))
      assert.equal(await collect(opened.createReadStream({ start: 5, end: 100_004 })), body.slice(5, 100_005))
      assert.deepEqual(gets(), [
        { presigned: true, ifMatch: etag, range: undefined },
        { presigned: true, ifMatch: etag, range: 'bytes=10-2000009' },
        { presigned: false, ifMatch: etag, range: 'bytes=5-100004' },
      ])
      // 503 SlowDown to the plain GET: GetObject asks again (and would retry as for any request).
      proxy.setRules([
        { match: (request) => request.operation === 'GetObject', action: { kind: 'slow-down' }, times: 1 },
      ])
      assert.equal(await collect(opened.createReadStream()), body)
      assert.deepEqual(gets().slice(3), [
        { presigned: true, ifMatch: etag, range: undefined },
        { presigned: false, ifMatch: etag, range: undefined },
      ])
      await opened.close()
    },
  )

  await t.test(
    'reads are pinned to the ETag the open saw: an object replaced meanwhile fails the read, never mixes',
    async () => {
      const bucket = await moto.createBucket()
      await put(bucket, 'demo/demo-1.0.tar.gz', 'first version')
      const storage = await S3Storage.open(moto.spec(bucket), memoryLogger([]))
      const opened = await storage.open('demo/demo-1.0.tar.gz')
      assert.ok(opened)
      assert.equal(await collect(opened.createReadStream({ start: 0, end: 4 })), 'first')
      await put(bucket, 'demo/demo-1.0.tar.gz', 'second version, longer')
      await assert.rejects(
        collect(opened.createReadStream()),
        /"demo\/demo-1\.0\.tar\.gz" changed while it was being read/,
      )
      await assert.rejects(opened.read({ start: 0, end: 4 }), /changed while it was being read/)
      await opened.close()
      const reopened = await storage.open('demo/demo-1.0.tar.gz')
      assert.equal(reopened?.file.size, 22)
      assert.notEqual(reopened.file.identity, opened.file.identity)
    },
  )

  await t.test(
    'the sweep aborts multipart uploads a crash left at project keys, and leaves other keys alone',
    async () => {
      const bucket = await moto.createBucket()
      const start = async (key: string): Promise<void> => {
        await moto.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
      }
      // moto dates every multipart upload 2010-11-10: all of them are older than any grace period.
      await start('pypi/demo/demo-1.0.tar.gz')
      await start('pypi/notes/and/more.txt')
      await start('elsewhere/demo/demo-1.0.tar.gz')
      const storage = await S3Storage.open(moto.spec(bucket, { prefix: 'pypi/' }), memoryLogger([]))
      assert.equal(await storage.sweepUploads(60 * 60_000), 1)
      const left = await moto.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
      assert.deepEqual((left.Uploads ?? []).map((upload) => upload.Key).sort(), [
        'elsewhere/demo/demo-1.0.tar.gz',
        'pypi/notes/and/more.txt',
      ])
    },
  )

  await t.test(
    'a folder marker (the console\'s "Create folder") is not a file, and goes with its empty folder',
    async () => {
      const bucket = await moto.createBucket()
      await put(bucket, 'demo/', '')
      await put(bucket, 'demo/demo-1.0.tar.gz', 'x')
      const storage = await S3Storage.open(moto.spec(bucket), memoryLogger([]))
      assert.deepEqual(
        (await storage.listFolder('demo'))?.files.map((file) => file.key),
        ['demo/demo-1.0.tar.gz'],
      )
      assert.equal(await storage.remove('demo/demo-1.0.tar.gz'), true)
      assert.ok(await storage.listFolder('demo'), 'the marker keeps the folder')
      assert.equal(await storage.removeFolderIfEmpty('demo'), true)
      assert.equal(await storage.listFolder('demo'), undefined)
      // Only the change journal's record of the removal is left (for the other replicas).
      const left = (await moto.client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []
      assert.deepEqual(
        left.map((object) => object.Key),
        [`.eggserve/journal/${'0'.padStart(20, '0')}.json`],
      )
    },
  )

  await t.test('the cache namespace names the bucket, the prefix and the endpoint', async () => {
    const storage = await S3Storage.open(moto.spec('some-bucket', { prefix: 'a/b/' }), memoryLogger([]))
    assert.equal(storage.location, 's3://some-bucket/a/b')
    assert.equal(storage.cacheNamespace, `s3://some-bucket/a/b at ${moto.endpoint}`)
  })
})

await test('a folder-backed server never loads the AWS SDK; a bucket-backed one does', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'demo/demo-1.0.tar.gz': 'x' })
  // CommonJS modules (the SDK's dist-cjs) are in require.cache once loaded, whoever imported them.
  const script = (open: string): string => `
    import { createRequire } from 'node:module'
    import { pino } from 'pino'
    import { createIndexServices } from './src/services.ts'
    import { openStorage } from './src/storage/open-storage.ts'
    const logger = pino({ level: 'silent' })
    ${open}
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes('@aws-sdk')).length
    console.log(JSON.stringify({ loaded }))
  `
  const run = async (open: string): Promise<number> => {
    const result = await runProcess(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(open)])
    assert.equal(result.code, 0, result.stderr)
    return (JSON.parse(result.stdout.trim()) as { loaded: number }).loaded
  }
  assert.equal(
    await run(
      `const services = await createIndexServices({ eggdir: ${JSON.stringify(root)}, hashAlgorithm: 'md5', logger }); await services.index.load(); await services.close()`,
    ),
    0,
  )
  assert.ok(
    (await run(
      "await openStorage({ kind: 's3', bucket: 'some-bucket', prefix: '', pathStyle: true, region: 'us-east-1' }, logger)",
    )) > 0,
    'the check sees the SDK when it is loaded',
  )
})

// A flat listing of the whole tree (the bucket root here): no prefix and no delimiter.
function isTreeListing(query: URLSearchParams): boolean {
  return (query.get('prefix') ?? '') === '' && !query.has('delimiter')
}
