// `eggserve cache purge`'s removal (pages of every upstream, files, digests, metadata; a
// download in progress left alone) and the log that tells running servers what was purged.
import assert from 'node:assert/strict'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { purgeLogPath, purgeProject, PurgeWatcher } from '../../src/upstream/cache-purge.js'
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
  const watcher = new PurgeWatcher(cache)
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
