// Watching a local tree: folders are watched a batch at a time, with turns of the event loop
// between, so a warm start's 10,000 fs.watch calls do not hold requests (/health/ready's too).
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { watchTree } from '../../src/storage/local-watch.js'
import { tempDir } from '../helpers/temp-tree.js'

await test('folders are watched a batch at a time, the event loop getting turns between', async (t) => {
  const root = await tempDir(t)
  const names = ['a', 'b', 'c', 'd', 'e']
  for (const name of names) await mkdir(join(root, name))
  const changed: (string | undefined)[] = []
  const watch = watchTree(
    root,
    (folder) => {
      changed.push(folder)
    },
    (err) => assert.fail(err),
    2,
  )
  t.after(() => {
    watch.close()
  })
  // What each turn of the event loop sees, until every folder is watched.
  const seen: number[] = []
  for (let turns = 0; watch.watchedFolders < names.length; turns++) {
    assert.ok(turns < 10_000, `only ${watch.watchedFolders} folders watched`)
    seen.push(watch.watchedFolders)
    await nextTurn()
  }
  assert.ok(
    seen.some((count) => count > 0 && count < names.length),
    `no turn between batches: ${seen.join(', ')}`,
  )
  // And every folder's changes are reported once watched.
  await writeFile(join(root, 'e', 'e-1.0.tar.gz'), 'e')
  for (let turns = 0; !changed.includes('e'); turns++) {
    assert.ok(turns < 1000, 'no event for e/')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
})
