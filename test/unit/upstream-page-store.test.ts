// The upstream page store on disk under many saves of one project at once, as a TTL of 0 makes
// them (every request refreshes the page): no two saves share a temporary file (one would
// rename the other's away and log "Cannot keep an upstream page"), and the file ends as the
// newest page saved, whatever order the disk finishes in. Real files in a temporary folder.
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { UpstreamPage } from '../../src/core/upstream-page.js'
import { PageStore } from '../../src/upstream/page-store.js'
import { memoryLogger } from '../helpers/build-app.js'
import { tempDir } from '../helpers/temp-tree.js'

function page(index: number): UpstreamPage {
  // Pages of different lengths: two writes into one file would leave a mix of both.
  const files = Array.from({ length: index % 5 }, (_, n) => ({
    filename: `demo-${String(index)}.${String(n)}.tar.gz`,
    url: `https://files.example/demo-${String(index)}.${String(n)}.tar.gz`,
    hashes: {},
  }))
  return { project: 'demo', files }
}

await test('many saves of one project at once: each is written whole, the newest last, nothing logged', async (t) => {
  const cacheDir = await tempDir(t, 'eggserve-page-store-')
  const logs: Record<string, unknown>[] = []
  const store = new PageStore({ cacheDir, upstreamUrl: 'https://upstream.example/simple/', log: memoryLogger(logs) })
  const saves = Array.from({ length: 40 }, (_, index) =>
    store.save('demo', { page: page(index), fetchedAt: index, etag: undefined, serial: index }),
  )
  const identities = await Promise.all(saves)
  assert.deepEqual(
    logs.filter((record) => Number(record.level) >= 40).map((record) => record.msg),
    [],
  )
  const loaded = await store.load('demo')
  assert.deepEqual(loaded?.page, page(39), 'the newest page')
  assert.equal(loaded.serial, 39)
  const last = identities.at(-1)
  assert.ok(last !== undefined)
  assert.deepEqual(await store.identity('demo'), last, 'the last save learns the identity of the file on disk')
  const [folder] = await readdir(join(cacheDir, 'upstream', 'pages'))
  assert.ok(folder !== undefined)
  assert.deepEqual(await readdir(join(cacheDir, 'upstream', 'pages', folder)), ['demo.json'], 'no temporary file left')

  // A save after the burst is written too.
  await store.save('demo', { page: page(3), fetchedAt: 99, etag: '"x"', serial: 99 })
  assert.equal((await store.load('demo'))?.serial, 99)
})
