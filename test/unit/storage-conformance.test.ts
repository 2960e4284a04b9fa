// One conformance suite for both storage backends: the same cases run against LocalStorage on
// a temporary directory and S3Storage on a real (moto) bucket. What is above the seam relies
// on exactly these behaviours, whatever stores the files.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { test, type TestContext } from 'node:test'
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { PART_SIZE } from '../../src/storage/s3-upload.js'
import { S3Storage } from '../../src/storage/s3-storage.js'
import type { PendingUpload, StorageBackend } from '../../src/storage/storage.js'
import { memoryLogger } from '../helpers/build-app.js'
import { startMoto, type Moto } from '../helpers/moto.js'
import { tempDir } from '../helpers/temp-tree.js'

/** A backend under test, with the ways a person reaches its files without eggserve. */
interface Fixture {
  readonly storage: StorageBackend
  /** Put a file as a person would (cp, aws s3 cp): not through the storage. */
  readonly place: (path: string, bytes: Buffer | string) => Promise<void>
  /** Read a stored file's bytes without the storage; undefined when it is not there. */
  readonly peek: (path: string) => Promise<Buffer | undefined>
  /** What interrupted uploads left behind: hidden temporary files, or temporary objects and multipart uploads. */
  readonly leftovers: () => Promise<string[]>
  /** Whether concurrent create-only writes of large files are atomic in this store (not in moto). */
  readonly atomicMultipart: boolean
}

type Case = readonly [name: string, run: (fixture: Fixture) => Promise<void>]

const ONE_MIB = 1024 * 1024
// Larger than S3Storage keeps in memory: these go through multipart uploads and copies.
const LARGE = PART_SIZE + ONE_MIB

async function write(upload: PendingUpload, bytes: Buffer): Promise<void> {
  await pipeline(Readable.from([bytes]), upload.writable)
}

async function upload(storage: StorageBackend, folder: string, bytes: Buffer): Promise<PendingUpload> {
  const pending = await storage.createUpload(folder)
  await write(pending, bytes)
  return pending
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function contents(storage: StorageBackend, key: string): Promise<Buffer | undefined> {
  const opened = await storage.open(key)
  if (opened === undefined) return undefined
  try {
    return await collect(opened.createReadStream())
  } finally {
    await opened.close()
  }
}

async function fileNames(storage: StorageBackend, folder: string): Promise<string[] | undefined> {
  return (await storage.listFolder(folder))?.files.map((file) => file.key).sort()
}

// Many small writes at once, a few at a time.
async function inParallel<T>(items: readonly T[], run: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item)
    }),
  )
}

const CASES: readonly Case[] = [
  [
    'open of a missing key, of a key outside the layout, or of a folder is undefined',
    async ({ storage, place }) => {
      await place('demo/demo-1.0.tar.gz', 'x')
      for (const key of [
        'demo/demo-2.0.tar.gz',
        'nothing/here.whl',
        'demo',
        'demo/',
        '../demo/demo-1.0.tar.gz',
        '.eggserve/tmp',
        'demo/.hidden',
      ]) {
        assert.equal(await storage.open(key), undefined, key)
      }
      assert.equal(await storage.listFolder('nothing'), undefined)
    },
  ],

  [
    'files placed by hand are listed with their sizes, and read whole or by ranges',
    async ({ storage, place }) => {
      const bytes = randomBytes(100 * 1024)
      await place('demo/demo-1.0.tar.gz', bytes)
      await place('demo/demo-1.0-py3-none-any.whl', 'wheel')
      await place('stray.txt', 'top-level file')
      const root = await storage.listRoot()
      assert.deepEqual(root.folders, ['demo'])
      assert.deepEqual(root.files, ['stray.txt'])
      const listing = await storage.listFolder('demo')
      assert.ok(listing)
      assert.deepEqual(listing.files.map((file) => [file.key, file.size]).sort(), [
        ['demo/demo-1.0-py3-none-any.whl', 5],
        ['demo/demo-1.0.tar.gz', bytes.length],
      ])
      const opened = await storage.open('demo/demo-1.0.tar.gz')
      assert.ok(opened)
      try {
        assert.equal(opened.file.size, bytes.length)
        assert.equal(
          opened.file.identity,
          listing.files.find((file) => file.key === 'demo/demo-1.0.tar.gz')?.identity,
          'a listing and an open agree on identity',
        )
        assert.deepEqual(await collect(opened.createReadStream()), bytes)
        // RFC 9110 §14.1.2: first and last byte positions are inclusive.
        assert.deepEqual(await collect(opened.createReadStream({ start: 0, end: 0 })), bytes.subarray(0, 1))
        assert.deepEqual(
          await collect(opened.createReadStream({ start: bytes.length - 10, end: bytes.length - 1 })),
          bytes.subarray(-10),
        )
        assert.deepEqual(
          await collect(opened.createReadStream({ start: 1000, end: 70_000 })),
          bytes.subarray(1000, 70_001),
        )
        assert.deepEqual(await opened.read({ start: 5, end: 9 }), bytes.subarray(5, 10))
      } finally {
        await opened.close()
      }
    },
  ],

  [
    'an upload is readable by range before publishing, invisible until commit, and create-only',
    async ({ storage, place, peek }) => {
      await place('demo/demo-1.0.tar.gz', 'old')
      for (const size of [10, LARGE]) {
        const bytes = randomBytes(size)
        const before = await fileNames(storage, 'demo')
        const pending = await upload(storage, 'demo', bytes)
        assert.equal(pending.size, size)
        assert.deepEqual(
          await collect(pending.createReadStream({ start: size - 5, end: size - 1 })),
          bytes.subarray(-5),
          `tail of ${size} bytes`,
        )
        assert.deepEqual(await fileNames(storage, 'demo'), before, 'nothing new is listed before the commit')
        const refused = await pending.commit('demo/demo-1.0.tar.gz', { replace: false })
        assert.equal(refused.outcome, 'exists')
        assert.deepEqual(
          await peek('demo/demo-1.0.tar.gz'),
          Buffer.from('old'),
          'an existing file is never touched without replace',
        )
        const created = await pending.commit(`demo/demo-${size}.tar.gz`, { replace: false })
        assert.equal(created.outcome, 'created')
        assert.equal(created.file.size, size)
        assert.deepEqual(await peek(`demo/demo-${size}.tar.gz`), bytes)
        const listed = (await storage.listFolder('demo'))?.files.find((file) => file.key === `demo/demo-${size}.tar.gz`)
        assert.equal(created.file.identity, listed?.identity, 'the commit describes the file as listings will')
        await pending.abort()
        assert.deepEqual(await peek(`demo/demo-${size}.tar.gz`), bytes, 'abort after commit changes nothing')
      }
    },
  ],

  [
    'replace swaps a file for the new bytes',
    async ({ storage, place, peek }) => {
      await place('demo/demo-1.0.tar.gz', 'old')
      for (const size of [10, LARGE]) {
        const bytes = randomBytes(size)
        const pending = await upload(storage, 'demo', bytes)
        const replaced = await pending.commit('demo/demo-1.0.tar.gz', { replace: true })
        assert.equal(replaced.outcome, 'replaced')
        assert.deepEqual(await peek('demo/demo-1.0.tar.gz'), bytes)
        await pending.abort()
      }
    },
  ],

  // Large uploads race on the local backend only: moto's conditional CompleteMultipartUpload
  // checks and then writes without a lock (moto/s3/responses.py), so two slow completes can
  // both pass its check; on S3 the conditional write is atomic. A large commit meeting an
  // existing file is covered above, on both backends.
  [
    "racing commits of one key: exactly one wins, never a second file, and the winner's bytes are stored",
    async ({ storage, peek, leftovers, atomicMultipart }) => {
      for (const [count, size] of atomicMultipart
        ? ([
            [8, 1000],
            [2, LARGE],
          ] as const)
        : ([[8, 1000]] as const)) {
        const key = `race/race-${size}.tar.gz`
        const contents = Array.from({ length: count }, () => randomBytes(size))
        const pendings = await Promise.all(contents.map((bytes) => upload(storage, 'race', bytes)))
        const results = await Promise.all(pendings.map((pending) => pending.commit(key, { replace: false })))
        const winners = results.flatMap((result, index) => (result.outcome === 'created' ? [index] : []))
        assert.equal(winners.length, 1, `outcomes: ${results.map((result) => result.outcome).join(', ')}`)
        assert.deepEqual(results.filter((result) => result.outcome === 'exists').length, count - 1)
        assert.deepEqual(await peek(key), contents[winners[0] ?? -1])
        assert.equal((await fileNames(storage, 'race'))?.filter((name) => name === key).length, 1)
        await Promise.all(pendings.map((pending) => pending.abort()))
      }
      assert.deepEqual(await leftovers(), [], 'the losers left nothing behind once aborted')
    },
  ],

  [
    'listings go past 1,000 keys: a folder of 1,005 files and a top level of 1,005 folders',
    async ({ storage, place }) => {
      const names = Array.from({ length: 1005 }, (_, i) => `many-${String(i).padStart(4, '0')}.tar.gz`)
      await inParallel(names, (name) => place(`many/${name}`, 'x'))
      await inParallel(names, (name) => place(`p${name.slice(5, 9)}/${name}`, 'x'))
      assert.equal((await storage.listFolder('many'))?.files.length, 1005)
      const root = await storage.listRoot()
      assert.equal(root.folders.length, 1006)
      assert.ok(root.folders.includes('p1004') && root.folders.includes('p0000'))
    },
  ],

  [
    'what eggserve keeps for itself and hidden names are never listed',
    async ({ storage, place }) => {
      await place('demo/demo-1.0.tar.gz', 'x')
      await place('demo/.hidden.tar.gz', 'x')
      await place('.eggserve/meta/demo/demo-1.0.tar.gz.json', '{}')
      await place('.secret/file.tar.gz', 'x')
      const pending = await upload(storage, 'demo', randomBytes(LARGE))
      assert.deepEqual((await storage.listRoot()).folders, ['demo'])
      assert.deepEqual(await fileNames(storage, 'demo'), ['demo/demo-1.0.tar.gz'])
      assert.equal(await storage.listFolder('.eggserve'), undefined)
      await pending.abort()
    },
  ],

  [
    'an upload aborted while it is being written leaves nothing behind',
    async ({ storage, leftovers }) => {
      const writing = await storage.createUpload('demo')
      await new Promise<void>((resolve, reject) => {
        writing.writable.write(randomBytes(LARGE), (err) => {
          if (err) reject(err)
          else resolve()
        })
      })
      writing.writable.write(randomBytes(ONE_MIB))
      await writing.abort()
      await writing.abort()
      assert.deepEqual(await leftovers(), [])
      assert.equal(await storage.listFolder('demo'), undefined)
      await assert.rejects(storage.createUpload('../demo'), TypeError)
    },
  ],

  [
    'what interrupted uploads leave is swept once older than the grace period, not before',
    async ({ storage, leftovers }) => {
      // One upload finished but never published, one still being written: a crash leaves both.
      const finished = await upload(storage, 'demo', randomBytes(LARGE))
      const writing = await storage.createUpload('demo')
      await new Promise<void>((resolve, reject) => {
        writing.writable.write(randomBytes(LARGE), (err) => {
          if (err) reject(err)
          else resolve()
        })
      })
      assert.ok((await leftovers()).length >= 2, 'both uploads left something')
      assert.equal(await storage.sweepUploads(60 * 60_000), 0, 'young leftovers stay (a live upload may own them)')
      assert.ok((await leftovers()).length >= 2)
      assert.ok((await storage.sweepUploads(0)) >= 2)
      assert.deepEqual(await leftovers(), [])
      writing.writable.destroy()
      await Promise.all([finished.abort(), writing.abort()])
    },
  ],

  [
    'remove deletes one file and says whether it was there',
    async ({ storage, place }) => {
      await place('demo/demo-1.0.tar.gz', 'x')
      await place('demo/demo-2.0.tar.gz', 'y')
      const before = await storage.changeToken('demo')
      assert.equal(await storage.remove('demo/demo-1.0.tar.gz'), true)
      assert.notEqual(await storage.changeToken('demo'), before, "the folder's token changes at once")
      assert.equal(await storage.remove('demo/demo-1.0.tar.gz'), false)
      assert.equal(await storage.remove('not/there.tar.gz'), false)
      assert.equal(await storage.open('demo/demo-1.0.tar.gz'), undefined)
      assert.deepEqual(await fileNames(storage, 'demo'), ['demo/demo-2.0.tar.gz'])
    },
  ],

  [
    'removeFolderIfEmpty keeps a folder with anything in it and removes it once empty',
    async ({ storage, place }) => {
      await place('demo/demo-1.0.tar.gz', 'x')
      await place('other/other-1.0.tar.gz', 'x')
      assert.equal(await storage.removeFolderIfEmpty('demo'), false)
      assert.deepEqual(await fileNames(storage, 'demo'), ['demo/demo-1.0.tar.gz'])
      const rootBefore = await storage.changeToken()
      assert.equal(await storage.remove('demo/demo-1.0.tar.gz'), true)
      assert.equal(await storage.removeFolderIfEmpty('demo'), true)
      assert.equal(await storage.listFolder('demo'), undefined)
      assert.deepEqual((await storage.listRoot()).folders, ['other'])
      assert.notEqual(await storage.changeToken(), rootBefore)
    },
  ],

  [
    "a commit changes the folder's token (and the top level's, for a new folder) at once",
    async ({ storage, place }) => {
      await place('demo/demo-1.0.tar.gz', 'x')
      const folder = await storage.changeToken('demo')
      const root = await storage.changeToken()
      assert.equal(await storage.changeToken('demo'), folder, 'unchanged while nothing changes')
      const first = await upload(storage, 'demo', Buffer.from('two'))
      await first.commit('demo/demo-2.0.tar.gz', { replace: false })
      assert.notEqual(await storage.changeToken('demo'), folder)
      assert.equal(await storage.changeToken(), root, 'a file in an existing folder leaves the top level alone')
      const second = await upload(storage, 'fresh', Buffer.from('new'))
      await second.commit('fresh/fresh-1.0.tar.gz', { replace: false })
      assert.notEqual(await storage.changeToken(), root)
      assert.deepEqual([...(await storage.listRoot()).folders].sort(), ['demo', 'fresh'])
      assert.equal(await storage.changeToken('gone'), undefined)
    },
  ],

  [
    'the store refuses a second create-only write: the start-up probe says so and leaves nothing',
    async ({ storage, leftovers }) => {
      const probe = await storage.probeConditionalWrites()
      assert.equal(probe.enforced, true, probe.detail)
      assert.deepEqual(await leftovers(), [])
      assert.deepEqual((await storage.listRoot()).folders, [])
    },
  ],
]

async function localFixture(t: TestContext): Promise<Fixture> {
  const root = await tempDir(t)
  const storage = await LocalStorage.create(root, memoryLogger([]))
  return {
    storage,
    place: async (path, bytes) => {
      await mkdir(dirname(join(root, path)), { recursive: true })
      await writeFile(join(root, path), bytes)
    },
    peek: async (path) => contents(storage, path),
    leftovers: async () =>
      (await readdir(root, { recursive: true })).filter((path) => /(^|\/)\.upload-[0-9a-f]+\.tmp$/.test(path)),
    atomicMultipart: true,
  }
}

async function s3Fixture(moto: Moto): Promise<Fixture> {
  const bucket = await moto.createBucket()
  // A prefix, as most deployments share a bucket: nothing outside it may show.
  const prefix = 'pypi/'
  await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'outside/outside-1.0.tar.gz', Body: 'not ours' }))
  const storage = await S3Storage.open(moto.spec(bucket, { prefix }), memoryLogger([]))
  const send = moto.client.send.bind(moto.client)
  return {
    storage,
    place: async (path, bytes) => {
      await send(new PutObjectCommand({ Bucket: bucket, Key: prefix + path, Body: bytes }))
    },
    peek: async (path) => {
      try {
        const got = await send(new GetObjectCommand({ Bucket: bucket, Key: prefix + path }))
        return Buffer.from((await got.Body?.transformToByteArray()) ?? [])
      } catch {
        return undefined
      }
    },
    leftovers: async () => {
      const objects = await send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}.eggserve/tmp/` }))
      const uploads = await send(new ListMultipartUploadsCommand({ Bucket: bucket }))
      return [
        ...(objects.Contents ?? []).map((object) => object.Key ?? ''),
        ...(uploads.Uploads ?? []).map((item) => `upload of ${item.Key ?? ''}`),
      ]
    },
    atomicMultipart: false,
  }
}

await test('LocalStorage conforms', async (t) => {
  for (const [name, run] of CASES)
    await t.test(name, async (t) => {
      await run(await localFixture(t))
    })
})

await test('S3Storage on a moto bucket conforms', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  for (const [name, run] of CASES)
    await t.test(name, async () => {
      await run(await s3Fixture(moto))
    })
})
