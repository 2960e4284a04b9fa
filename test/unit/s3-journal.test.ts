// Several S3Storages on one moto bucket, as several replicas would have them: the change
// journal (a commit or removal on one is reported to the others, whose listings are trusted
// otherwise; concurrent appends make a log with no gap and no duplicate; a gap is reported as
// lost track), and the facts kept beside the files (written at commit, read back only for the
// same object, ignored once it is replaced).
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { test } from 'node:test'
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import type { FileFacts } from '../../src/core/index-model.js'
import { parseFacts } from '../../src/storage/s3-facts.js'
import { S3Journal } from '../../src/storage/s3-journal.js'
import { S3Storage } from '../../src/storage/s3-storage.js'
import { memoryLogger } from '../helpers/build-app.js'
import { startMoto, type Moto } from '../helpers/moto.js'

const FACTS: FileFacts = {
  digests: { md5: 'a'.repeat(32), sha256: 'b'.repeat(64) },
  metadata: { sha256: 'c'.repeat(64), requiresPython: '>=3.8' },
}

async function publish(storage: S3Storage, key: string, body: string, facts?: FileFacts): Promise<void> {
  const upload = await storage.createUpload(key.slice(0, key.indexOf('/')))
  await pipeline(Readable.from([Buffer.from(body)]), upload.writable)
  const committed = await upload.commit(key, { replace: false, ...(facts === undefined ? {} : { facts }) })
  assert.equal(committed.outcome, 'created')
}

interface Replica {
  readonly storage: S3Storage
  /** Every folder reported to its watcher, in order (undefined: the whole tree). */
  readonly changes: (string | undefined)[]
  /** Resolves once the storage follows the journal (from then on it misses nothing). */
  readonly following: Promise<void>
  close(): void
}

async function journalKeys(moto: Moto, bucket: string): Promise<string[]> {
  const listed = await moto.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'pypi/.eggserve/journal/' }))
  return (listed.Contents ?? []).flatMap((object) =>
    object.Key === undefined ? [] : [object.Key.slice('pypi/.eggserve/journal/'.length)],
  )
}

await test('replicas on one bucket', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const replica = (bucket: string): Promise<S3Storage> =>
    S3Storage.open(moto.spec(bucket, { prefix: 'pypi/', trustedListingTtlMs: 0, journalPollMs: 100 }), memoryLogger([]))
  const watched = async (bucket: string): Promise<Replica> => {
    const lines: Record<string, unknown>[] = []
    const storage = await S3Storage.open(
      moto.spec(bucket, { prefix: 'pypi/', trustedListingTtlMs: 0, journalPollMs: 100 }),
      memoryLogger(lines),
    )
    const changes: (string | undefined)[] = []
    const watch = storage.watch((folder) => {
      changes.push(folder)
    })
    t.after(() => {
      watch.close()
    })
    const following = waitFor(() => Promise.resolve(lines.some((line) => line.msg === 'Following the change journal')))
    return {
      storage,
      changes,
      following,
      close: () => {
        watch.close()
      },
    }
  }

  await t.test(
    'a commit on one replica is reported to another, whose trusted listing otherwise never changes',
    async () => {
      const bucket = await moto.createBucket()
      await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'pypi/demo/demo-1.0.tar.gz', Body: 'one' }))
      const a = await replica(bucket)
      const b = await watched(bucket)
      await b.following
      assert.deepEqual(
        (await b.storage.listFolder('demo'))?.files.map((file) => file.key),
        ['demo/demo-1.0.tar.gz'],
      )
      // A change made by hand is not journaled: b keeps its trusted listing.
      await moto.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'pypi/demo/demo-1.5.tar.gz', Body: 'by hand' }),
      )
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.deepEqual(
        (await b.storage.listFolder('demo'))?.files.map((file) => file.key),
        ['demo/demo-1.0.tar.gz'],
        'the listing is trusted: only the journal invalidates it',
      )
      await publish(a, 'demo/demo-2.0.tar.gz', 'two')
      await waitFor(() => Promise.resolve(b.changes.length > 0))
      assert.deepEqual(b.changes, ['demo'])
      assert.deepEqual(
        (await b.storage.listFolder('demo'))?.files.map((file) => file.key),
        ['demo/demo-1.0.tar.gz', 'demo/demo-1.5.tar.gz', 'demo/demo-2.0.tar.gz'],
      )
      assert.equal((await journalKeys(moto, bucket)).length, 1)
    },
  )

  await t.test('a removal is reported; a replica never reports its own records', async () => {
    const bucket = await moto.createBucket()
    const a = await watched(bucket)
    const b = await watched(bucket)
    // Both follow before the first record, so b reports the publish exactly once (had it started
    // following after the record was written, it would have skipped it): then only the removal counts.
    await Promise.all([a.following, b.following])
    await publish(a.storage, 'gone/gone-1.0.tar.gz', 'x')
    await waitFor(() => Promise.resolve(b.changes.length > 0))
    assert.deepEqual(b.changes, ['gone'])
    b.changes.length = 0
    assert.equal((await b.storage.listFolder('gone'))?.files.length, 1)
    assert.equal(await a.storage.remove('gone/gone-1.0.tar.gz'), true)
    await waitFor(() => Promise.resolve(b.changes.length > 0))
    assert.deepEqual(b.changes, ['gone'])
    assert.equal(await b.storage.listFolder('gone'), undefined)
    // a's own tail has read both records by now (b read the second, written after the first).
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.deepEqual(a.changes, [])
  })

  await t.test(
    'concurrent appends from three replicas: numbered 0..n-1, no gap, no duplicate, every change once',
    async () => {
      const bucket = await moto.createBucket()
      const replicas = await Promise.all([replica(bucket), replica(bucket), replica(bucket)])
      await Promise.all(
        replicas.flatMap((storage, r) =>
          Array.from({ length: 6 }, (_, i) => publish(storage, `p${r}/p${r}-${i}.0.tar.gz`, `${r}-${i}`)),
        ),
      )
      const keys = await journalKeys(moto, bucket)
      assert.deepEqual(
        keys,
        Array.from({ length: 18 }, (_, i) => `${String(i).padStart(20, '0')}.json`),
      )
      const published = await Promise.all(
        keys.map(async (key) => {
          const got = await moto.client.send(
            new GetObjectCommand({ Bucket: bucket, Key: `pypi/.eggserve/journal/${key}` }),
          )
          return (JSON.parse((await got.Body?.transformToString()) ?? '{}') as { key: string }).key
        }),
      )
      assert.equal(new Set(published).size, 18)
    },
  )

  await t.test('a gap in the journal (records removed before they were read) is reported as lost track', async () => {
    const bucket = await moto.createBucket()
    const b = await watched(bucket)
    await b.following
    // Record 0 is missing (removed by a cleanup before b read it): b reads 1 after a gap.
    const record = { op: 'publish', key: 'y/y-1.0.tar.gz', replica: 'another', time: new Date().toISOString() }
    await moto.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `pypi/.eggserve/journal/${'1'.padStart(20, '0')}.json`,
        Body: JSON.stringify(record),
      }),
    )
    await waitFor(() => Promise.resolve(b.changes.includes('y')))
    assert.deepEqual(b.changes, [undefined, 'y'])
  })

  await t.test(
    'every `every` records, the appender deletes all but the newest `keep` (old enough ones): a follower keeps following',
    async () => {
      const bucket = await moto.createBucket()
      const b = await watched(bucket)
      await b.following
      const journal = new S3Journal(
        {
          client: moto.client,
          bucket,
          prefix: 'pypi/',
          location: `s3://${bucket}/pypi/`,
          log: memoryLogger([]),
          timeoutMs: 30_000,
        },
        { every: 5, keep: 3, minAgeMs: 0 },
      )
      for (let i = 0; i <= 10; i++) await journal.append('publish', `p${i}/p${i}-1.0.tar.gz`)
      const expected = [7, 8, 9, 10].map((n) => `${String(n).padStart(20, '0')}.json`)
      await waitFor(async () => (await journalKeys(moto, bucket)).join() === expected.join())
      await waitFor(() => Promise.resolve(b.changes.includes('p10')))
    },
  )

  await t.test(
    "facts written at commit are read back for that object only; a replaced object's facts are ignored",
    async () => {
      const bucket = await moto.createBucket()
      const a = await replica(bucket)
      const b = await replica(bucket)
      await publish(a, 'demo/demo-1.0.tar.gz', 'bytes', FACTS)
      const listed = (await b.listFolder('demo'))?.files[0]
      assert.ok(listed !== undefined)
      assert.deepEqual(await b.storedFacts.read(listed), FACTS)
      // The same key with other bytes (a person's `aws s3 cp`): another ETag, so the facts no longer apply.
      await moto.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'pypi/demo/demo-1.0.tar.gz', Body: 'other bytes' }),
      )
      const replaced = (await replica(bucket).then((fresh) => fresh.listFolder('demo')))?.files[0]
      assert.ok(replaced !== undefined)
      assert.notEqual(replaced.identity, listed.identity)
      assert.equal(await b.storedFacts.read(replaced), undefined)
      assert.equal(await a.remove('demo/demo-1.0.tar.gz'), true)
      const left = await moto.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'pypi/.eggserve/facts/' }))
      assert.deepEqual(left.Contents ?? [], [])
    },
  )

  await t.test('stored facts that are malformed or of another shape are ignored', () => {
    const identity = 'etag:5:demo/demo-1.0.tar.gz'
    assert.deepEqual(parseFacts(JSON.stringify({ identity, facts: FACTS }), identity), FACTS)
    assert.equal(parseFacts('not json', identity), undefined)
    assert.equal(parseFacts(JSON.stringify({ identity: 'other', facts: FACTS }), identity), undefined)
    assert.equal(
      parseFacts(JSON.stringify({ identity, facts: { digests: { sha256: 'not hex' } } }), identity),
      undefined,
    )
    assert.equal(
      parseFacts(JSON.stringify({ identity, facts: { digests: { crc32: 'ab'.repeat(8) } } }), identity),
      undefined,
    )
    assert.equal(
      parseFacts(
        JSON.stringify({ identity, facts: { digests: {}, metadata: { sha256: 'c'.repeat(64), requiresPython: 3 } } }),
        identity,
      ),
      undefined,
    )
  })
})

// Poll `check` until it holds (no time limit: the test runner's own timeout applies).
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50))
}
