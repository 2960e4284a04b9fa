// Change detection over real folders: when storage is read again, that concurrent callers
// share a read, that a change during a read is read again, and that removals win over reads.
import assert from 'node:assert/strict'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { CHECK_INTERVAL_MS, ChangeDetector } from '../../src/live-index/change-detector.js'
import { ProjectTree } from '../../src/live-index/project-tree.js'
import { LocalStorage } from '../../src/storage/local-storage.js'
import type { FolderListing, Storage } from '../../src/storage/storage.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })

/** The real local storage, counting the reads the detector makes (and able to act in the middle of one). */
class CountingStorage implements Storage {
  readonly folderReads: string[] = []
  readonly tokenChecks: (string | undefined)[] = []
  rootReads = 0
  /** Runs after a folder was listed, before the detector gets the listing. */
  afterListing: ((folder: string) => Promise<void>) | undefined
  readonly #inner: LocalStorage

  constructor(inner: LocalStorage) {
    this.#inner = inner
  }

  listRoot(): ReturnType<Storage['listRoot']> {
    this.rootReads++
    return this.#inner.listRoot()
  }

  /** Folder listings started and not answered yet, and the most there were at once. */
  listing = 0
  mostListing = 0
  /** Makes every folder listing answer a turn of the event loop later, and `failing` fail at once. */
  slow = false
  failing: string | undefined

  async listFolder(folder: string): Promise<FolderListing | undefined> {
    this.folderReads.push(folder)
    this.mostListing = Math.max(this.mostListing, ++this.listing)
    try {
      // The failing one fails at once, while the listings before it still wait.
      if (folder === this.failing) throw new Error(`cannot list ${folder}`)
      if (this.slow) await new Promise((resolve) => setImmediate(resolve))
    } finally {
      this.listing--
    }
    const listing = await this.#inner.listFolder(folder)
    const hook = this.afterListing
    this.afterListing = undefined
    if (hook !== undefined) await hook(folder)
    return listing
  }

  changeToken(folder?: string): Promise<string | undefined> {
    this.tokenChecks.push(folder)
    return this.#inner.changeToken(folder)
  }

  open(...args: Parameters<Storage['open']>): ReturnType<Storage['open']> {
    return this.#inner.open(...args)
  }
  /** Drop every watch event (a missed event, as past the inotify queue's limit). */
  loseEvents = false

  watch(...[listener, onError]: Parameters<Storage['watch']>): ReturnType<Storage['watch']> {
    return this.#inner.watch((folder) => {
      if (!this.loseEvents) listener(folder)
    }, onError)
  }
  createUpload(folder: string): ReturnType<Storage['createUpload']> {
    return this.#inner.createUpload(folder)
  }
  remove(key: string): ReturnType<Storage['remove']> {
    return this.#inner.remove(key)
  }
  removeFolderIfEmpty(folder: string): ReturnType<Storage['removeFolderIfEmpty']> {
    return this.#inner.removeFolderIfEmpty(folder)
  }
}

interface Setup {
  readonly root: string
  readonly storage: CountingStorage
  readonly tree: ProjectTree
  readonly detector: ChangeDetector
  readonly forgotten: string[]
  /** The detector's clock. */
  readonly clock: { ms: number }
}

async function setup(t: TestContext, files: Record<string, string>): Promise<Setup> {
  const root = await tempDir(t)
  await writeTree(root, files)
  const storage = new CountingStorage(await LocalStorage.create(root, silent))
  const tree = new ProjectTree()
  const forgotten: string[] = []
  const clock = { ms: 1_000_000 }
  const detector = new ChangeDetector({
    storage,
    tree,
    log: silent,
    forget: (gone) => {
      forgotten.push(...gone.map((file) => file.filename))
    },
    now: () => clock.ms,
  })
  t.after(() => {
    detector.close()
  })
  await detector.load()
  storage.folderReads.length = 0
  storage.tokenChecks.length = 0
  storage.rootReads = 0
  return { root, storage, tree, detector, forgotten, clock }
}

const names = (snapshot: { readonly files: readonly { readonly filename: string }[] } | undefined): string[] =>
  snapshot?.files.map((file) => file.filename) ?? assert.fail('no snapshot')

await test('load() fills the tree; with nothing changed a project costs one stat and no read', async (t) => {
  const { storage, tree, detector } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a', 'Bar/bar-1.0.tar.gz': 'b' })
  assert.deepEqual(
    tree.root().projects.map((p) => p.folder),
    ['Bar', 'foo'],
  )
  const before = tree.get('foo')
  assert.equal(await detector.freshProject('foo'), before, 'the very same snapshot')
  assert.deepEqual(storage.tokenChecks, ['foo'])
  assert.deepEqual(storage.folderReads, [])
  assert.equal(await detector.freshProject('nope'), undefined)
})

await test('a file dropped in is read on the next call, without any event', async (t) => {
  const { root, tree, detector } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  const before = tree.get('foo') ?? assert.fail('no foo')
  await writeFile(join(root, 'foo', 'foo-2.0.tar.gz'), 'b')
  const after = await detector.freshProject('foo')
  assert.deepEqual(names(after), ['foo-1.0.tar.gz', 'foo-2.0.tar.gz'])
  assert.notEqual(after?.generation, before.generation)
  assert.deepEqual(names(before), ['foo-1.0.tar.gz'], 'the old snapshot is unchanged')
})

await test('changed() makes the next call read the folder even though its token is the same', async (t) => {
  const { storage, detector } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  detector.changed('foo')
  await detector.freshProject('foo')
  assert.deepEqual(storage.folderReads, ['foo'])
  assert.deepEqual(storage.tokenChecks, [], 'a folder known to have changed is read without a stat')
  await detector.freshProject('foo')
  assert.deepEqual(storage.folderReads, ['foo'], 'clean again: no second read')
})

await test('concurrent callers share one read', async (t) => {
  const { storage, detector } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  detector.changed('foo')
  const found = await Promise.all(Array.from({ length: 5 }, () => detector.freshProject('foo')))
  assert.deepEqual(storage.folderReads, ['foo'])
  assert.ok(found.every((snapshot) => snapshot !== undefined && snapshot === found[0]))
})

await test('a change reported while a read is under way makes the callers that waited on it read again', async (t) => {
  const { root, storage, detector } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  detector.changed('foo')
  storage.afterListing = async () => {
    // The listing is taken; an upload publishes a file before the read is installed.
    await writeFile(join(root, 'foo', 'foo-2.0.tar.gz'), 'b')
    detector.changed('foo')
  }
  const starter = detector.freshProject('foo')
  const waiter = detector.freshProject('foo')
  assert.deepEqual(names(await waiter), ['foo-1.0.tar.gz', 'foo-2.0.tar.gz'])
  await starter
  assert.deepEqual(storage.folderReads, ['foo', 'foo'])
  assert.deepEqual(names(await detector.freshProject('foo')), ['foo-1.0.tar.gz', 'foo-2.0.tar.gz'])
})

await test('while every folder is watched, a folder found unchanged is trusted for CHECK_INTERVAL_MS', async (t) => {
  const { storage, detector, clock } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  detector.watch()
  await detector.freshProject('foo')
  assert.deepEqual(storage.tokenChecks, [], 'read by load() just now')
  clock.ms += CHECK_INTERVAL_MS - 1
  await detector.freshProject('foo')
  assert.deepEqual(storage.tokenChecks, [])
  clock.ms += 1
  await detector.freshProject('foo')
  assert.deepEqual(storage.tokenChecks, ['foo'], 'the interval is over: one stat')
  await detector.freshProject('foo')
  assert.deepEqual(storage.tokenChecks, ['foo'], 'and trusted again from then on')
  detector.close()
  await detector.freshProject('foo')
  assert.deepEqual(storage.tokenChecks, ['foo', 'foo'], 'unwatched: a stat on every call')
})

await test('while every folder is watched, the top level found unchanged is trusted for CHECK_INTERVAL_MS', async (t) => {
  const { storage, detector, clock } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  detector.watch()
  await detector.freshRoot()
  clock.ms += CHECK_INTERVAL_MS - 1
  await detector.freshRoot()
  assert.deepEqual(storage.tokenChecks, [], 'read by load() just now: no stat')
  clock.ms += 1
  await detector.freshRoot()
  assert.deepEqual(storage.tokenChecks, [undefined], 'the interval is over: one stat')
  await detector.freshRoot()
  assert.deepEqual(storage.tokenChecks, [undefined], 'and trusted again from then on')
  detector.close()
  await detector.freshRoot()
  assert.deepEqual(storage.tokenChecks, [undefined, undefined], 'unwatched: a stat on every call')
})

await test('trustedProject() answers without waiting exactly when freshProject() would read nothing', async (t) => {
  const { root, storage, detector, clock } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  assert.equal(detector.trustedProject('foo'), undefined, 'not watched: every answer needs a stat')
  detector.watch()
  assert.deepEqual(names(detector.trustedProject('foo')), ['foo-1.0.tar.gz'])
  assert.equal(detector.trustedProject('bar'), undefined, 'an unknown project is for freshProject() to look up')
  clock.ms += CHECK_INTERVAL_MS
  assert.equal(detector.trustedProject('foo'), undefined, 'the interval is over')
  await detector.freshProject('foo')
  assert.deepEqual(names(detector.trustedProject('foo')), ['foo-1.0.tar.gz'], 'checked again just now')
  await writeTree(root, { 'foo/foo-2.0.tar.gz': 'b' })
  detector.changed('foo')
  assert.equal(detector.trustedProject('foo'), undefined, 'a change made through eggserve is read first')
  assert.deepEqual(names(await detector.freshProject('foo')), ['foo-1.0.tar.gz', 'foo-2.0.tar.gz'])
  assert.deepEqual(names(detector.trustedProject('foo')), ['foo-1.0.tar.gz', 'foo-2.0.tar.gz'])
  assert.deepEqual(storage.tokenChecks, ['foo'], 'trustedProject() itself reads nothing')
})

await test('trustedAbsent() says a name is not local without waiting exactly when freshRoot() would read nothing', async (t) => {
  const { root, storage, detector, clock } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  assert.equal(detector.trustedAbsent('bar'), false, 'not watched: the top level needs a stat')
  detector.watch()
  assert.equal(detector.trustedAbsent('bar'), true)
  assert.equal(detector.trustedAbsent('foo'), false, 'the tree holds it')
  clock.ms += CHECK_INTERVAL_MS
  assert.equal(detector.trustedAbsent('bar'), false, 'the interval is over')
  await detector.freshRoot()
  assert.equal(detector.trustedAbsent('bar'), true, 'checked again just now')
  // What an upload of a new project does: the folder appears, then the index is told.
  await writeTree(root, { 'bar/bar-1.0.tar.gz': 'b' })
  detector.changed('bar')
  assert.equal(detector.trustedAbsent('bar'), false, 'a change made through eggserve is read first')
  await detector.freshRoot()
  assert.equal(detector.trustedAbsent('bar'), false, 'now the tree holds it')
  assert.equal(detector.trustedAbsent('baz'), true)
  assert.deepEqual(storage.tokenChecks, [undefined], 'trustedAbsent() itself reads nothing')
})

await test('within the trusted interval a change made through eggserve (an upload) shows at once', async (t) => {
  const { root, storage, detector } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  detector.watch()
  await detector.freshRoot()
  assert.equal(storage.rootReads, 0)
  // What an upload of a new project does: the folder appears, then the index is told.
  await writeTree(root, { 'newproj/newproj-1.0.tar.gz': 'n' })
  detector.changed('newproj')
  await detector.freshRoot()
  assert.equal(storage.rootReads, 1, 'read at once, the clock has not moved')
  assert.equal(detector.knows('newproj'), true)
  assert.deepEqual(names(await detector.freshProject('newproj')), ['newproj-1.0.tar.gz'])
})

await test('load() reads the tree folder by folder, a bounded number of listings ahead, in name order', async (t) => {
  const files: Record<string, string> = { 'stray-1.0.tar.gz': 'x', 'foo bar/foo-1.0.tar.gz': 'x' }
  for (let i = 0; i < 100; i++) {
    const name = `p${String(i).padStart(3, '0')}`
    files[`${name}/${name}-1.0.tar.gz`] = 'x'
  }
  files['P007/p007-2.0.tar.gz'] = 'x'
  const { storage, tree, detector } = await setup(t, files)
  storage.slow = true
  const report = await detector.load()
  assert.ok(storage.mostListing > 1, `listings overlap (${storage.mostListing} at most)`)
  // All 102 at once before: the listing of a whole tree was held in memory until every folder was read.
  assert.ok(storage.mostListing <= 32, `at most 32 listings at once, not ${storage.mostListing}`)
  assert.equal(storage.folderReads.length, 102)
  assert.deepEqual(storage.folderReads.slice(0, 4), ['foo bar', 'p000', 'p001', 'p002'])
  assert.equal(tree.size, 100)
  assert.deepEqual(
    report.problems.map((problem) => [problem.code, problem.path]),
    [
      ['stray-file', 'stray-1.0.tar.gz'],
      ['invalid-folder', 'foo bar/'],
      ['duplicate-project', 'p007/'],
    ],
  )
  assert.deepEqual(names(tree.get('p007')), ['p007-2.0.tar.gz'], 'P007 sorts first and owns the project')
})

await test('load() fails with the first listing that fails, the listings ahead of it left to finish', async (t) => {
  const files: Record<string, string> = {}
  for (let i = 0; i < 50; i++) files[`p${String(i).padStart(3, '0')}/p${String(i).padStart(3, '0')}-1.0.tar.gz`] = 'x'
  const { storage, detector } = await setup(t, files)
  storage.slow = true
  storage.failing = 'p010'
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason)
  }
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  await assert.rejects(detector.load(), /cannot list p010/)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual(unhandled, [])
})

await test('a folder made by hand is found once the trusted interval is over, even if its event is lost', async (t) => {
  const { root, storage, detector, clock } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  detector.watch()
  await detector.freshRoot()
  storage.loseEvents = true
  await writeTree(root, { 'Handmade/handmade-1.0.tar.gz': 'h' })
  clock.ms += CHECK_INTERVAL_MS - 1
  await detector.freshRoot()
  assert.equal(detector.knows('handmade'), false, 'still trusted, and no event came')
  clock.ms += 1
  await detector.freshRoot()
  assert.equal(detector.knows('handmade'), true, 'the stat after the interval finds it')
  assert.deepEqual(names(await detector.freshProject('handmade')), ['handmade-1.0.tar.gz'])
})

await test('a folder that is gone leaves the tree, its files are forgotten and the root changes', async (t) => {
  const { root, tree, detector, forgotten } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a', 'bar/bar-1.0.tar.gz': 'b' })
  const list = tree.root()
  await rm(join(root, 'foo'), { recursive: true })
  assert.equal(await detector.freshProject('foo'), undefined)
  assert.equal(tree.get('foo'), undefined)
  assert.deepEqual(forgotten, ['foo-1.0.tar.gz'])
  assert.notEqual(tree.root().generation, list.generation)
  assert.deepEqual(
    tree.root().projects.map((p) => p.folder),
    ['bar'],
  )
})

await test('freshRoot() finds a new folder; its files are read when the project is first asked for', async (t) => {
  const { root, storage, tree, detector } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a' })
  await detector.freshRoot()
  assert.equal(storage.rootReads, 0, 'unchanged top level: one stat, no read')
  await writeTree(root, { 'Bar/bar-1.0.tar.gz': 'b' })
  await detector.freshRoot()
  assert.equal(storage.rootReads, 1)
  assert.deepEqual(
    tree.root().projects.map((p) => p.folder),
    ['Bar', 'foo'],
  )
  assert.deepEqual(names(tree.get('bar')), [], 'known, not read yet')
  assert.equal(detector.knows('bar'), true)
  assert.deepEqual(names(await detector.freshProject('bar')), ['bar-1.0.tar.gz'])
})

await test('reconcile() reads every folder again: a file rewritten in place (same folder token) is seen', async (t) => {
  const { root, tree, detector, forgotten } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a', 'bar/bar-1.0.tar.gz': 'b' })
  const before = tree.get('foo')?.file('foo-1.0.tar.gz') ?? assert.fail('no file')
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), 'rewritten, longer')
  assert.equal((await detector.freshProject('foo'))?.file('foo-1.0.tar.gz'), before, 'unseen by the token')
  await detector.reconcile()
  assert.notEqual(tree.get('foo')?.file('foo-1.0.tar.gz')?.identity, before.identity)
  assert.deepEqual(forgotten, ['foo-1.0.tar.gz'], "the old bytes' facts are forgotten")
})

await test('reconcile() lets the event loop run between folders: a timer set before it fires long before it ends', async (t) => {
  const files: Record<string, string> = {}
  for (let i = 0; i < 40; i++) files[`p${String(i)}/p${String(i)}-1.0.tar.gz`] = String(i)
  const { storage, detector } = await setup(t, files)
  let readWhenTimerRan: number | undefined
  // A local listing answers with synchronous calls: only a deliberate yield lets this run mid-pass.
  setTimeout(() => {
    readWhenTimerRan = storage.folderReads.length
  }, 0)
  await detector.reconcile()
  assert.equal(storage.folderReads.length, 40)
  assert.ok(
    readWhenTimerRan !== undefined && readWhenTimerRan < 20,
    `the timer ran after ${String(readWhenTimerRan)} of 40 folders were read`,
  )
})

await test("a folder read that raced the folder's removal never brings the project back", async (t) => {
  const { root, storage, tree, detector } = await setup(t, { 'foo/foo-1.0.tar.gz': 'a', 'bar/bar-1.0.tar.gz': 'b' })
  detector.changed('foo')
  storage.afterListing = async () => {
    await rm(join(root, 'foo'), { recursive: true })
    detector.changed('not-a-project-folder')
    await detector.freshRoot()
  }
  assert.equal(await detector.freshProject('foo'), undefined)
  assert.equal(tree.get('foo'), undefined)
  assert.equal(detector.knows('foo'), false)
})
