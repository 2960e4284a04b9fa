// Snapshots of a bucket tree's listings on a real moto bucket, with the fault proxy counting the
// requests a starting replica sends: a snapshot written once the journal is followed and loaded
// by a new replica (cold: from the bucket; warm: from its cache folder) without listing a
// project folder; journal records written after it replayed (only their folders listed);
// stale, corrupt, foreign and other-version snapshots ignored with a log line; a replica that
// fell behind the pruned journal brought up to date from the newest snapshot; pruning that
// keeps what the newest snapshot does not cover; a file copied in by hand found once the
// snapshot's listings run out of trust.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { test, type TestContext } from 'node:test'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import type { FileFacts } from '../../src/core/index-model.js'
import type { S3StorageSpec } from '../../src/storage/open-storage.js'
import { describeObject } from '../../src/storage/s3-context.js'
import { folderToken } from '../../src/storage/s3-listing.js'
import { decodeSnapshot, encodeSnapshot } from '../../src/storage/s3-snapshot-format.js'
import type { FolderListing, StoredFile } from '../../src/storage/storage.js'
import { S3Journal } from '../../src/storage/s3-journal.js'
import { S3Storage } from '../../src/storage/s3-storage.js'
import { memoryLogger } from '../helpers/build-app.js'
import { startMoto, type Moto } from '../helpers/moto.js'
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../helpers/s3-fault-proxy.js'

const PREFIX = 'pypi/'
const FOLDERS = 12
const SNAPSHOTS = `${PREFIX}.eggserve/snapshots/`
const JOURNAL = `${PREFIX}.eggserve/journal/`

interface Started {
  readonly storage: S3Storage
  readonly lines: Record<string, unknown>[]
  readonly proxy: FaultProxy
  /** The requests this storage sent (its proxy may be shared: the warm copy's name has the endpoint in it). */
  requests(): ProxiedRequest[]
}

/** Every folder's listing, as the index's start-up reads it: the top level, then each folder. */
async function loadAll(storage: S3Storage): Promise<Record<string, string[]>> {
  const root = await storage.listRoot()
  const result: Record<string, string[]> = {}
  await Promise.all(
    root.folders.map(async (folder) => {
      const listing = await storage.listFolder(folder)
      if (listing !== undefined) result[folder] = listing.files.map((file) => `${file.key} ${file.identity}`)
    }),
  )
  return result
}

/** LISTs of project folders (not of the hidden folder: journal, snapshots). */
function folderLists(started: Started): string[] {
  return started
    .requests()
    .filter((request) => request.operation === 'ListObjectsV2')
    .map((request) => request.query.get('prefix') ?? '')
    .filter((prefix) => !prefix.startsWith(`${PREFIX}.eggserve/`))
}

async function keysUnder(moto: Moto, bucket: string, prefix: string): Promise<string[]> {
  const listed = await moto.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
  return (listed.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key]))
}

async function waitFor(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50))
}

async function publish(storage: S3Storage, key: string, body: string): Promise<void> {
  const upload = await storage.createUpload(key.slice(0, key.indexOf('/')))
  await pipeline(Readable.from([Buffer.from(body)]), upload.writable)
  assert.equal((await upload.commit(key, { replace: false })).outcome, 'created')
}

await test('snapshots of the listings', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const put = (bucket: string, key: string, body: string): Promise<unknown> =>
    moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}${key}`, Body: body }))
  const cacheDir = async (t: TestContext): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'eggserve-snapshot-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    return dir
  }
  // A storage through a counting proxy (its own, or `through`: the endpoint is part of the name
  // of the local copy of the snapshot, so a restarted replica reaches the store the same way).
  const open = async (
    t: TestContext,
    bucket: string,
    options: Partial<S3StorageSpec> & { prefix?: string; through?: FaultProxy } = {},
  ): Promise<Started> => {
    const { through, ...settings } = options
    const proxy = through ?? (await startFaultProxy(t, moto.endpoint))
    const since = proxy.requests.length
    const lines: Record<string, unknown>[] = []
    // Listings are taken as current for a minute before the journal is followed: the test's
    // own pace never decides whether a folder is listed.
    const spec = moto.spec(bucket, {
      prefix: PREFIX,
      journalPollMs: 50,
      listingTtlMs: 60_000,
      endpoint: proxy.url,
      ...settings,
    })
    const storage = await S3Storage.open(spec, memoryLogger(lines))
    return { storage, lines, proxy, requests: () => proxy.requests.slice(since) }
  }
  const follow = (t: TestContext, storage: S3Storage): (string | undefined)[] => {
    const changes: (string | undefined)[] = []
    const watch = storage.watch((folder) => {
      changes.push(folder)
    })
    t.after(() => {
      watch.close()
    })
    return changes
  }
  const logged = (lines: Record<string, unknown>[], msg: string): Record<string, unknown>[] =>
    lines.filter((line) => line.msg === msg)
  // A bucket of FOLDERS folders of two files, and a replica that listed it and wrote its snapshot.
  const seeded = async (t: TestContext): Promise<{ bucket: string; first: Started; dir: string }> => {
    const bucket = await moto.createBucket()
    await Promise.all(
      Array.from({ length: FOLDERS }, (_, i) =>
        Promise.all([put(bucket, `p${i}/p${i}-1.0.tar.gz`, `one ${i}`), put(bucket, `p${i}/p${i}-2.0.tar.gz`, 'two')]),
      ),
    )
    const dir = await cacheDir(t)
    const first = await open(t, bucket, { snapshotDir: dir })
    await loadAll(first.storage)
    follow(t, first.storage)
    await waitFor(() => logged(first.lines, 'Wrote a snapshot of the listings').length === 1)
    return { bucket, first, dir }
  }

  await t.test(
    'a replica with no snapshot lists every folder, then writes one (create-only, in the bucket and its cache folder)',
    async (t) => {
      const { bucket, first, dir } = await seeded(t)
      assert.deepEqual(folderLists(first), [PREFIX, PREFIX], 'the whole tree, flat: the names before ".", then after')
      assert.equal(logged(first.lines, 'No usable snapshot: listing every folder').length, 1)
      assert.deepEqual(await keysUnder(moto, bucket, SNAPSHOTS), [`${SNAPSHOTS}${'0'.padStart(20, '0')}.json.gz`])
      const write = first.proxy.requests.find((request) => request.path.includes('/.eggserve/snapshots/0'))
      assert.equal(write?.operation, 'PutObject')
      assert.equal(write.headers['if-none-match'], '*')
      const local = await readdir(dir)
      assert.equal(local.filter((name) => /^s3-snapshot-[0-9a-f]{16}\.json\.gz$/.test(name)).length, 1)
    },
  )

  await t.test(
    'with no snapshot, the whole tree is listed flat, a page per 1,000 keys, with what folder listings show',
    async (t) => {
      const bucket = await moto.createBucket()
      const folders = 350
      const keys = Array.from({ length: folders * 3 }, (_, n) => {
        const i = Math.floor(n / 3)
        return `f${i}/f${i}-${n % 3}.0.tar.gz`
      })
      // Names sorting before "." (the hidden folder), a folder marker, a deeper key, a stray
      // file of the top level, dot-names (never a folder or a file).
      keys.push('-early/-early-1.0.tar.gz', 'marker/', 'deep/sub/deep-1.0.tar.gz', 'stray.txt')
      keys.push('.hidden/x-1.0.tar.gz', 'f0/.dotfile')
      for (let i = 0; i < keys.length; i += 50)
        await Promise.all(keys.slice(i, i + 50).map((key) => put(bucket, key, `bytes of ${key}`)))
      const flat = await open(t, bucket)
      const tree = await loadAll(flat.storage)
      const lists = folderLists(flat)
      // The names before ".": one page, stopped at the hidden folder; then the rest: two pages.
      assert.deepEqual(lists, [PREFIX, PREFIX, PREFIX], 'pages, not folders')
      const listRequests = flat.requests().filter((r) => r.operation === 'ListObjectsV2')
      assert.ok(listRequests.every((r) => !r.query.has('delimiter') || r.query.get('prefix') !== PREFIX))
      assert.equal(Object.keys(tree).length, folders + 3)
      assert.equal(tree['-early']?.length, 1)
      assert.deepEqual(tree.marker, [])
      assert.deepEqual(tree.deep, [])
      assert.equal(tree.f0?.length, 3)

      // The same tree listed folder by folder (the flat listing refused): the same listings.
      const proxy = await startFaultProxy(t, moto.endpoint)
      proxy.setRules([
        {
          match: (r) =>
            r.operation === 'ListObjectsV2' && r.query.get('prefix') === PREFIX && !r.query.has('delimiter'),
          action: { kind: 'access-denied' },
        },
      ])
      const byFolder = await open(t, bucket, { through: proxy })
      assert.deepEqual(await loadAll(byFolder.storage), tree)
      assert.deepEqual(await byFolder.storage.listRoot(), await flat.storage.listRoot())
      assert.deepEqual((await flat.storage.listRoot()).files, ['stray.txt'])
      assert.equal(folderLists(byFolder).filter((prefix) => prefix !== PREFIX).length, folders + 3)
      assert.equal(logged(byFolder.lines, 'Cannot list the whole tree at once: listing folder by folder').length, 1)
    },
  )

  await t.test('a new replica takes the facts of the files from the snapshot: not one GET of them', async (t) => {
    const { bucket, first } = await seeded(t)
    // The facts of every file become known (as hashing them would): a revision carries them.
    const facts = (key: string): FileFacts => ({
      digests: { sha256: createHash('sha256').update(key).digest('hex') },
      metadata: { sha256: createHash('sha256').update(`metadata of ${key}`).digest('hex'), requiresPython: '>=3.8' },
    })
    const listed = await loadAll(first.storage)
    const files = (await Promise.all(Object.keys(listed).map((folder) => first.storage.listFolder(folder)))).flatMap(
      (listing) => listing?.files ?? [],
    )
    for (const file of files) await first.storage.storedFacts.write(file, facts(file.key))
    await waitFor(() => logged(first.lines, 'Wrote a snapshot of the listings').some((line) => line.revision === 1))
    const revision = logged(first.lines, 'Wrote a snapshot of the listings').find((line) => line.revision === 1)
    assert.equal(revision?.facts, FOLDERS * 2)
    assert.ok(
      (await keysUnder(moto, bucket, SNAPSHOTS)).includes(`${SNAPSHOTS}${'0'.padStart(20, '0')}.1.json.gz`),
      'a second snapshot at the same journal position',
    )

    const cold = await open(t, bucket, { snapshotDir: await cacheDir(t) })
    assert.deepEqual(await loadAll(cold.storage), listed)
    for (const file of files) assert.deepEqual(await cold.storage.storedFacts.read(file), facts(file.key), file.key)
    const loaded = logged(cold.lines, 'Loaded the listings from a snapshot')[0]
    assert.equal(loaded?.revision, 1)
    assert.equal(loaded.facts, FOLDERS * 2)
    const factReads = cold.requests().filter((r) => r.operation === 'GetObject' && r.path.includes('/.eggserve/facts/'))
    assert.deepEqual(factReads, [])
    // A file replaced since has another identity: its facts are read from the store, not taken.
    const replaced = describeObject(files[0]?.key ?? '', { etag: 'other', size: 1, lastModified: undefined })
    assert.equal(await cold.storage.storedFacts.read(replaced), undefined)
    assert.equal(cold.requests().filter((r) => r.path.includes('/.eggserve/facts/')).length, 1)
  })

  await t.test('cold: a new replica loads the bucket snapshot and lists no project folder', async (t) => {
    const { bucket, first } = await seeded(t)
    const expected = await loadAll(first.storage)
    const cold = await open(t, bucket, { snapshotDir: await cacheDir(t) })
    assert.deepEqual(await loadAll(cold.storage), expected)
    assert.deepEqual(folderLists(cold), [])
    assert.equal(logged(cold.lines, 'Loaded the listings from a snapshot')[0]?.source, 'bucket')
  })

  await t.test('warm: a replica with its cache folder reads no snapshot and lists no folder', async (t) => {
    const { bucket, first, dir } = await seeded(t)
    const expected = await loadAll(first.storage)
    const warm = await open(t, bucket, { snapshotDir: dir, through: first.proxy })
    assert.deepEqual(await loadAll(warm.storage), expected)
    assert.deepEqual(folderLists(warm), [])
    assert.equal(warm.requests().filter((r) => r.operation === 'GetObject' && r.path.includes('/snapshots/')).length, 0)
    assert.equal(logged(warm.lines, 'Loaded the listings from a snapshot')[0]?.source, 'local')
  })

  await t.test('records written after the snapshot are replayed: only their folders are listed', async (t) => {
    const { bucket, first } = await seeded(t)
    await publish(first.storage, 'p3/p3-3.0.tar.gz', 'three')
    await publish(first.storage, 'newcomer/newcomer-1.0.tar.gz', 'new')
    assert.equal(await first.storage.remove('p5/p5-2.0.tar.gz'), true)
    const cold = await open(t, bucket, { snapshotDir: await cacheDir(t) })
    const loaded = await loadAll(cold.storage)
    assert.deepEqual(
      Object.keys(loaded).sort(),
      [...Array.from({ length: FOLDERS }, (_, i) => `p${i}`), 'newcomer'].sort(),
    )
    assert.equal(loaded.p3?.length, 3)
    assert.equal(loaded.p5?.length, 1)
    assert.equal(loaded.newcomer?.length, 1)
    assert.deepEqual(folderLists(cold).sort(), [`${PREFIX}newcomer/`, `${PREFIX}p3/`, `${PREFIX}p5/`])
    assert.equal(logged(cold.lines, 'Loaded the listings from a snapshot')[0]?.replayed, 3)
  })

  await t.test('a corrupt, foreign or other-version snapshot is ignored with a log line', async (t) => {
    const { bucket, first, dir } = await seeded(t)
    const key = (n: number): string => `${SNAPSHOTS}${String(n).padStart(20, '0')}.json.gz`
    const gzipped = (value: unknown): Promise<Buffer> => promisify(gzip)(JSON.stringify(value))
    const body = {
      format: 'eggserve-s3-snapshot',
      version: 2,
      bucket,
      prefix: PREFIX,
      covered: 0,
      revision: 0,
      folders: [],
      rootFiles: [],
      listings: {},
    }
    const cases: [string, Buffer | string][] = [
      ['not gzip-compressed JSON (corrupt or truncated)', 'garbage'],
      // A snapshot without the facts (the format before them).
      ['format version 1', await gzipped({ ...body, version: 1 })],
      [`made for s3://${bucket}/other/`, await gzipped({ ...body, prefix: 'other/' })],
    ]
    for (const [reason, bytes] of cases) {
      // Newer than the good one, and empty if it were believed: every folder would vanish.
      await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: key(7), Body: bytes }))
      await writeFile(join(dir, (await readdir(dir)).find((name) => name.startsWith('s3-snapshot-')) ?? ''), bytes)
      const replica = await open(t, bucket, { snapshotDir: dir, through: first.proxy })
      assert.equal(Object.keys(await loadAll(replica.storage)).length, FOLDERS, reason)
      const refused = replica.lines.filter(
        (line) => typeof line.msg === 'string' && line.msg.startsWith('Ignoring a snapshot that cannot be used'),
      )
      assert.deepEqual(
        refused.map((line) => line.reason),
        [reason, reason],
        'the local copy and the bucket one',
      )
      // The older good snapshot in the bucket was used instead of listing.
      assert.deepEqual(folderLists(replica), [], reason)
    }
  })

  await t.test('a snapshot older than what the journal still holds is stale: ignored, folders listed', async (t) => {
    const { bucket, first } = await seeded(t)
    // The snapshot covers no record; record 0 exists, then records 0..2 are "pruned" (deleted).
    for (let i = 0; i < 4; i++) await publish(first.storage, `p${i}/p${i}-9.0.tar.gz`, 'nine')
    for (let i = 0; i < 3; i++)
      await moto.client.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: `${JOURNAL}${String(i).padStart(20, '0')}.json` }),
      )
    await put(bucket, 'p0/p0-8.0.tar.gz', 'by hand')
    const cold = await open(t, bucket, { snapshotDir: await cacheDir(t) })
    const loaded = await loadAll(cold.storage)
    assert.equal(loaded.p0?.length, 4, 'listed, so the file copied in shows too')
    assert.deepEqual(folderLists(cold), [PREFIX, PREFIX], 'the whole tree, flat')
    assert.equal(
      logged(cold.lines, 'Ignoring a snapshot older than what the change journal still holds (stale)').length,
      1,
    )
  })

  await t.test('a replica that fell behind the pruned journal catches up from the newest snapshot', async (t) => {
    const { bucket } = await seeded(t)
    const behind = await open(t, bucket, { snapshotDir: await cacheDir(t), trustedListingTtlMs: 0 })
    await loadAll(behind.storage)
    // Another replica writes records 0..4 and a snapshot covering them (one every 5 records).
    const writer = await open(t, bucket, { snapshotEvery: 5, snapshotDir: await cacheDir(t) })
    await loadAll(writer.storage)
    follow(t, writer.storage)
    for (let i = 0; i < 5; i++) await publish(writer.storage, `p${i}/p${i}-7.0.tar.gz`, 'seven')
    await waitFor(async () =>
      (await keysUnder(moto, bucket, SNAPSHOTS)).some((k) => k.endsWith(`${'5'.padStart(20, '0')}.json.gz`)),
    )
    // Pruned before `behind` read them (it was not following yet): records 0..3 are gone.
    for (let i = 0; i < 4; i++)
      await moto.client.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: `${JOURNAL}${String(i).padStart(20, '0')}.json` }),
      )
    const before = folderLists(behind).length
    const changes = follow(t, behind.storage)
    await waitFor(() => logged(behind.lines, 'Loaded the listings from a snapshot').length === 2 && changes.length > 0)
    assert.deepEqual(changes, [undefined], 'every token is checked again, nothing reported as lost')
    const loaded = await loadAll(behind.storage)
    for (let i = 0; i < 5; i++) assert.equal(loaded[`p${i}`]?.length, 3, `p${i}`)
    assert.equal(folderLists(behind).length, before, 'caught up without listing the folders')
  })

  await t.test('pruning keeps the record the newest snapshot ends with, and everything after it', async () => {
    const bucket = await moto.createBucket()
    const journal = new S3Journal(
      {
        client: moto.client,
        bucket,
        prefix: PREFIX,
        location: `s3://${bucket}/${PREFIX}`,
        log: memoryLogger([]),
        timeoutMs: 30_000,
      },
      { every: 5, keep: 3, minAgeMs: 0, covered: () => Promise.resolve(3) },
    )
    for (let i = 0; i <= 10; i++) await journal.append('publish', `p${i}/p${i}-1.0.tar.gz`)
    const expected = [2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => `${JOURNAL}${String(n).padStart(20, '0')}.json`)
    // Deleting runs in the background: wait until it has, then check that it stopped at record 2.
    await waitFor(
      async () => !(await keysUnder(moto, bucket, JOURNAL)).includes(`${JOURNAL}${'1'.padStart(20, '0')}.json`),
    )
    assert.deepEqual(await keysUnder(moto, bucket, JOURNAL), expected)
  })

  await t.test('a file copied in by hand is found once the listings from a snapshot run out of trust', async (t) => {
    const { bucket, first, dir } = await seeded(t)
    const warm = await open(t, bucket, { snapshotDir: dir, trustedListingTtlMs: 300, through: first.proxy })
    await loadAll(warm.storage)
    follow(t, warm.storage)
    assert.deepEqual(folderLists(warm), [], 'started from the snapshot')
    await put(bucket, 'p1/p1-5.0.tar.gz', 'by hand')
    await waitFor(async () => (await warm.storage.listFolder('p1'))?.files.length === 3)
    assert.deepEqual(folderLists(warm).filter((prefix) => prefix === `${PREFIX}p1/`).length > 0, true)
  })
})

await test('the snapshot format: a round trip keeps every listing exactly; a snapshot of another tree is refused', async () => {
  const owner = { bucket: 'eggs', prefix: 'pypi/' }
  const file = (key: string, etag: string): StoredFile =>
    describeObject(key, { etag, size: 12, lastModified: new Date('2026-12-06T12:00:00.750Z') })
  const listings = new Map<string, FolderListing>()
  for (const [folder, etag] of [
    ['demo', 'abc-3'],
    ['__proto__', 'odd:etag'],
  ] as const) {
    const files = [file(`${folder}/${folder}-1.0.tar.gz`, etag)]
    listings.set(folder, { token: folderToken(files), files })
  }
  const facts = new Map<string, FileFacts>([['demo/demo-1.0.tar.gz', { digests: { sha256: 'ab'.repeat(32) } }]])
  const state = {
    covered: 42,
    revision: 3,
    folders: ['demo', '__proto__', 'empty'],
    rootFiles: ['stray.txt'],
    listings,
    facts,
  }
  const bytes = await encodeSnapshot(state, owner)
  const decoded = await decodeSnapshot(bytes, owner, folderToken)
  assert.ok(decoded.ok)
  assert.deepEqual(decoded.state, state)
  assert.deepEqual(await decodeSnapshot(bytes, { ...owner, prefix: '' }, folderToken), {
    ok: false,
    reason: 'made for s3://eggs/pypi/',
  })
})
