// SmallFileCache over a real LocalStorage: a small file is read once and then answered from
// memory while its identity is unchanged; any change of the file on disk is seen at once.
import assert from 'node:assert/strict'
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { SmallFileCache, VOUCHED_TRUST_MS, type SmallFileCacheOptions } from '../../src/storage/small-file-cache.js'
import type { OpenFile, Storage } from '../../src/storage/storage.js'
import { tempDir } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })
const KEY = 'foo/foo-1.0.tar.gz'

/** The real storage's two methods the cache uses, with the number of open() calls that reached it. */
interface Counted {
  readonly storage: Pick<Storage, 'open' | 'currentIdentity'>
  readonly opens: () => number
}

function counting(storage: LocalStorage): Counted {
  let opens = 0
  return {
    storage: {
      open: (key, options) => {
        opens++
        return storage.open(key, options)
      },
      currentIdentity: (key) => storage.currentIdentity(key),
    },
    opens: () => opens,
  }
}

async function setUp(
  t: TestContext,
  options: SmallFileCacheOptions = {},
): Promise<{ root: string; cache: SmallFileCache; opens: () => number }> {
  const root = await tempDir(t)
  await mkdir(join(root, 'foo'))
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), 'version one')
  const counted = counting(await LocalStorage.create(root, silent))
  return { root, cache: new SmallFileCache(counted.storage, options), opens: counted.opens }
}

async function whole(
  opened: OpenFile | undefined,
): Promise<{ text: string; identity: string; size: number } | undefined> {
  if (opened === undefined) return undefined
  try {
    const chunks: Buffer[] = []
    for await (const chunk of opened.createReadStream()) chunks.push(chunk as Buffer)
    return { text: Buffer.concat(chunks).toString(), identity: opened.file.identity, size: opened.file.size }
  } finally {
    await opened.close()
  }
}

await test('an unchanged small file is opened once, then answered from memory, ranges included', async (t) => {
  const { cache, opens } = await setUp(t)
  const first = await whole(await cache.open(KEY))
  assert.equal(first?.text, 'version one')
  for (let i = 0; i < 5; i++) assert.deepEqual(await whole(await cache.open(KEY)), first)
  assert.equal(opens(), 1)
  const opened = await cache.open(KEY)
  assert.equal((await opened?.read({ start: 8, end: 10 }))?.toString(), 'one')
  const chunks: Buffer[] = []
  for await (const chunk of opened?.createReadStream({ start: 0, end: 6 }) ?? []) chunks.push(chunk as Buffer)
  assert.equal(Buffer.concat(chunks).toString(), 'version')
  assert.equal(opens(), 1)
})

await test('a file replaced by one of the same size is read again: new bytes, new identity', async (t) => {
  const { root, cache, opens } = await setUp(t)
  const old = await whole(await cache.open(KEY))
  // Atomically (a new inode), as an upload or rsync does.
  await writeFile(join(root, 'foo', 'next.tmp'), 'version two')
  await rename(join(root, 'foo', 'next.tmp'), join(root, 'foo', 'foo-1.0.tar.gz'))
  const renamed = await whole(await cache.open(KEY))
  assert.equal(renamed?.text, 'version two')
  assert.notEqual(renamed.identity, old?.identity)
  // In place (the same inode, the same size): mtime and ctime change.
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), 'version 3!!')
  const rewritten = await whole(await cache.open(KEY))
  assert.equal(rewritten?.text, 'version 3!!')
  assert.notEqual(rewritten.identity, renamed.identity)
  assert.equal(opens(), 3)
  assert.deepEqual(await whole(await cache.open(KEY)), rewritten)
  assert.equal(opens(), 3)
})

await test('a removed file is gone; a symlink leading out swapped in is refused as LocalStorage refuses it', async (t) => {
  const { root, cache } = await setUp(t)
  const outside = await tempDir(t, 'eggserve-outside-')
  await writeFile(join(outside, 'secret'), 'version one')
  assert.equal((await whole(await cache.open(KEY)))?.text, 'version one')
  await rm(join(root, 'foo', 'foo-1.0.tar.gz'))
  assert.equal(await cache.open(KEY), undefined)
  await symlink(join(outside, 'secret'), join(root, 'foo', 'foo-1.0.tar.gz'))
  assert.equal(await cache.open(KEY), undefined)
})

await test('files above the size limit are opened every time; the byte budget holds', async (t) => {
  const { root, cache, opens } = await setUp(t, { maxFileBytes: 1024, maxBytes: 8 * 1024 })
  await writeFile(join(root, 'foo', 'foo-2.0.tar.gz'), Buffer.alloc(1025, 1))
  for (let i = 0; i < 3; i++) assert.equal((await whole(await cache.open('foo/foo-2.0.tar.gz')))?.size, 1025)
  assert.equal(opens(), 3)
  for (let i = 0; i < 40; i++) {
    const name = `foo-3.${String(i)}.tar.gz`
    await writeFile(join(root, 'foo', name), Buffer.alloc(1000, i))
    assert.equal((await whole(await cache.open(`foo/${name}`)))?.size, 1000)
    assert.ok(cache.heldBytes <= 8 * 1024, `${String(cache.heldBytes)} bytes held`)
  }
  assert.ok(cache.heldBytes > 4 * 1024, 'the budget is used')
})

await test('a storage without currentIdentity() (a bucket) is passed through', async (t) => {
  const root = await tempDir(t)
  await mkdir(join(root, 'foo'))
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), 'bucket')
  const local = await LocalStorage.create(root, silent)
  let opens = 0
  const cache = new SmallFileCache({
    open: (key, options) => {
      opens++
      return local.open(key, options)
    },
  })
  for (let i = 0; i < 3; i++) assert.equal((await whole(await cache.open(KEY)))?.text, 'bucket')
  assert.equal(opens, 3)
})

await test('held(): the cached copy while it is current, without a promise; a replaced or removed file is not held', async (t) => {
  const { root, cache, opens } = await setUp(t)
  assert.equal(cache.held(KEY), undefined, 'not read yet')
  const read = await cache.open(KEY)
  const held = cache.held(KEY)
  assert.equal(held?.bytes.toString(), 'version one')
  assert.equal(held.file.identity, read?.file.identity)
  // In place, the same size: no longer held; the next open() reads it (and holds it again).
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), 'version two')
  assert.equal(cache.held(KEY), undefined)
  assert.equal((await whole(await cache.open(KEY)))?.text, 'version two')
  assert.equal(cache.held(KEY)?.bytes.toString(), 'version two')
  assert.equal(opens(), 2)
  await rm(join(root, 'foo', 'foo-1.0.tar.gz'))
  assert.equal(cache.held(KEY), undefined)
  assert.equal(await cache.open(KEY), undefined)
})

await test('held() with the identity the index vouches for: no stat for VOUCHED_TRUST_MS after the last one, then one', async (t) => {
  const root = await tempDir(t)
  await mkdir(join(root, 'foo'))
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), 'version one')
  const storage = await LocalStorage.create(root, silent)
  let stats = 0
  let clock = 1_000_000
  const cache = new SmallFileCache(
    {
      open: (key, options) => storage.open(key, options),
      currentIdentity: (key) => {
        stats++
        return storage.currentIdentity(key)
      },
    },
    { now: () => clock },
  )
  const identity = (await cache.open(KEY))?.file.identity
  for (let i = 0; i < 3; i++) assert.equal(cache.held(KEY, identity)?.bytes.toString(), 'version one')
  assert.equal(stats, 0, 'vouched for, and read within the bound: no stat')
  assert.equal(cache.held(KEY)?.bytes.toString(), 'version one')
  assert.equal(cache.held(KEY, 'another identity')?.bytes.toString(), 'version one')
  assert.equal(stats, 2, 'not vouched for (or for another version): a stat each')

  // Rewritten in place while the index still vouches for the old identity (its watch event not
  // yet handled, or missed): served as held until the bound, then the stat sees the change.
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), 'version two')
  clock += VOUCHED_TRUST_MS - 1
  assert.equal(cache.held(KEY, identity)?.bytes.toString(), 'version one')
  clock += 1
  assert.equal(cache.held(KEY, identity), undefined)
  assert.equal(stats, 3)
  const next = await cache.open(KEY)
  assert.equal((await whole(next))?.text, 'version two')
  assert.equal(cache.held(KEY, next?.file.identity)?.bytes.toString(), 'version two')
  // Removed: the same bound.
  await rm(join(root, 'foo', 'foo-1.0.tar.gz'))
  clock += VOUCHED_TRUST_MS
  assert.equal(cache.held(KEY, next?.file.identity), undefined)
  assert.equal(await cache.open(KEY), undefined)
})
