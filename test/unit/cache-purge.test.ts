// `eggserve cache purge`'s removal (pages of every upstream, files, digests, metadata; a
// download in progress left alone) and the log that tells running servers what was purged.
import assert from 'node:assert/strict'
import { watch } from 'node:fs'
import { appendFile, link, mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { PURGE_CHECK_INTERVAL_MS, purgeLogPath, purgeProject, PurgeWatcher } from '../../src/upstream/cache-purge.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

await test('purgeProject removes the pages of every upstream and the files, and counts them', async (t) => {
  const cache = await tempDir(t, 'eggserve-purge-unit-')
  await writeTree(cache, {
    'upstream/pages/aaaa/demo.json': '{"x":1}',
    'upstream/pages/bbbb/demo.json': '{"y":2}',
    'upstream/pages/bbbb/other.json': '{}',
    'upstream/files/demo/demo-1.0-py3-none-any.whl': 'wheel-bytes',
    'upstream/files/demo/demo-1.0-py3-none-any.whl.sha256': 'f'.repeat(64),
    'upstream/files/demo/demo-1.0-py3-none-any.whl.metadata': 'Name: demo',
    'upstream/files/demo/demo-1.0-py3-none-any.whl.metadata.sha256': 'e'.repeat(64),
    'upstream/files/demo/.abc123.part': 'arriving',
    'upstream/files/other/other-1.0.tar.gz': 'kept',
  })
  const report = await purgeProject(cache, 'demo')
  assert.deepEqual(report, { project: 'demo', pages: 2, files: 2, bytes: 7 + 7 + 11 + 64 + 10 + 64 })
  assert.deepEqual(
    await readdir(join(cache, 'upstream/files/demo')),
    ['.abc123.part'],
    'the download in progress stays',
  )
  assert.deepEqual(await readdir(join(cache, 'upstream/pages/bbbb')), ['other.json'])
  assert.deepEqual(await readdir(join(cache, 'upstream/files/other')), ['other-1.0.tar.gz'])
  assert.deepEqual(await purgeProject(cache, 'absent'), { project: 'absent', pages: 0, files: 0, bytes: 0 })
})

await test('PurgeWatcher: names purged after it started, once each; whole lines only; a truncated log is read again', async (t) => {
  const cache = await tempDir(t, 'eggserve-purge-watch-')
  await purgeProject(cache, 'before-start')
  // The reading alone: every check stats the log (as with no watcher).
  const watcher = new PurgeWatcher(cache, { watch: false })
  assert.deepEqual(await watcher.check(), [])
  await purgeProject(cache, 'one')
  await purgeProject(cache, 'two')
  // Concurrent checks share one read.
  const [first, second] = await Promise.all([watcher.check(), watcher.check()])
  assert.deepEqual(first, ['one', 'two'])
  assert.deepEqual(second, ['one', 'two'])
  assert.deepEqual(await watcher.check(), [])
  const log = purgeLogPath(cache)
  await writeFile(log, 'before-start\none\ntwo\nhalf', { flag: 'w' })
  assert.deepEqual(await watcher.check(), [], 'a line without its newline waits')
  await writeFile(log, '-written\n', { flag: 'a' })
  assert.deepEqual(await watcher.check(), ['half-written'])
  await writeFile(log, 'again\n', { flag: 'w' })
  assert.deepEqual(await watcher.check(), ['again'])
})

/** Resolves at the next change event in `dir` (the watcher under test sees the same inotify event). */
function nextEvent(dir: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(dir, () => {
      watcher.close()
      resolve()
    })
  })
}

await test('PurgeWatcher with a watcher: a purge is seen through its event at once, with the clock standing still', async (t) => {
  const cache = await tempDir(t, 'eggserve-purge-event-')
  await purgeProject(cache, 'before-start')
  const now = 1_000_000
  const watcher = new PurgeWatcher(cache, { now: () => now })
  t.after(() => {
    watcher.close()
  })
  assert.deepEqual(await watcher.check(), [])
  for (const name of ['one', 'two']) {
    const event = nextEvent(join(cache, 'upstream'))
    await purgeProject(cache, name)
    await event
    // Both watches had the event from one read; the watcher under test has handled it too.
    await new Promise(setImmediate)
    assert.deepEqual(await watcher.check(), [name])
  }
  assert.deepEqual(await watcher.check(), [])
})

await test('PurgeWatcher: a write its watcher cannot see is seen within PURGE_CHECK_INTERVAL_MS; without a watcher at once', async (t) => {
  const cache = await tempDir(t, 'eggserve-purge-bound-')
  await purgeProject(cache, 'before-start')
  // Another name for the log in another folder: an append through it sends the log's folder
  // no event, as a write from another host on a network filesystem would not.
  const elsewhere = join(cache, 'elsewhere')
  await mkdir(elsewhere)
  await link(purgeLogPath(cache), join(elsewhere, 'log'))
  let now = 1_000_000
  const watched = new PurgeWatcher(cache, { now: () => now })
  const unwatched = new PurgeWatcher(cache, { now: () => now, watch: false })
  t.after(() => {
    watched.close()
  })
  assert.deepEqual(await watched.check(), [])
  assert.deepEqual(await unwatched.check(), [])
  await appendFile(join(elsewhere, 'log'), 'unseen\n')
  assert.deepEqual(await unwatched.check(), ['unseen'], 'without a watcher every check stats the log')
  now += PURGE_CHECK_INTERVAL_MS - 1
  assert.deepEqual(await watched.check(), [], "no event, within the interval: not stat'ed")
  now += 1
  assert.deepEqual(await watched.check(), ['unseen'], 'the interval is the bound')
})

await test('PurgeWatcher.quiet(): true exactly when check() would answer nothing without reading the log', async (t) => {
  const cache = await tempDir(t, 'eggserve-purge-quiet-')
  await purgeProject(cache, 'before-start')
  let now = 1_000_000
  const watched = new PurgeWatcher(cache, { now: () => now })
  const unwatched = new PurgeWatcher(cache, { now: () => now, watch: false })
  t.after(() => {
    watched.close()
  })
  assert.equal(watched.quiet(), false, 'never read yet')
  assert.deepEqual(await watched.check(), [])
  assert.equal(watched.quiet(), true)
  assert.deepEqual(await unwatched.check(), [])
  assert.equal(unwatched.quiet(), false, 'without a watcher every check stats the log')
  const event = nextEvent(join(cache, 'upstream'))
  await purgeProject(cache, 'purged')
  await event
  await new Promise(setImmediate)
  assert.equal(watched.quiet(), false, 'an event: the next check reads')
  assert.deepEqual(await watched.check(), ['purged'])
  assert.equal(watched.quiet(), true)
  now += PURGE_CHECK_INTERVAL_MS
  assert.equal(watched.quiet(), false, 'the interval is over')
})

await test('PurgeWatcher on a cache that has no upstream folder yet: stats until it exists, then watches', async (t) => {
  const cache = await tempDir(t, 'eggserve-purge-empty-')
  const now = 1_000_000
  const watcher = new PurgeWatcher(cache, { now: () => now })
  t.after(() => {
    watcher.close()
  })
  assert.deepEqual(await watcher.check(), [])
  await purgeProject(cache, 'first')
  assert.deepEqual(await watcher.check(), ['first'], 'no watcher yet: the stat finds it')
  // That check started watching the folder: the next purge comes through its event.
  const event = nextEvent(join(cache, 'upstream'))
  await purgeProject(cache, 'second')
  await event
  await new Promise(setImmediate)
  assert.deepEqual(await watcher.check(), ['second'])
})
