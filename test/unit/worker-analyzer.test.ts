// The pool of analysis worker threads: how many it starts. One file dropped into a served tree
// starts one worker, not the whole pool; a second file while the first is read starts another
// (a worker reads its files one after the other); a cold tree's backlog starts them all.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import type { DistFile } from '../../src/core/index-model.js'
import { classifyFolder } from '../../src/core/layout.js'
import { WorkerAnalyzer } from '../../src/file-facts/worker-analyzer.js'
import { listedNames, readProjectFiles } from '../../src/live-index/folder-reader.js'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })
const PER_WORKER = 2

async function wheels(root: string, count: number): Promise<DistFile[]> {
  for (let i = 0; i < count; i++)
    await writeDist(join(root, 'demo'), buildWheel({ name: 'demo', version: `1.${String(i)}` }))
  const storage = await LocalStorage.create(root, silent)
  const listing = (await storage.listFolder('demo')) ?? assert.fail('no listing')
  const files = await readProjectFiles(storage, classifyFolder('demo', listedNames(listing)), listing)
  assert.equal(files.length, count)
  return files
}

function pool(root: string): WorkerAnalyzer {
  return WorkerAnalyzer.create({
    workers: 3,
    perWorker: PER_WORKER,
    storage: { kind: 'local', root },
    algorithms: ['sha256'],
    log: silent,
  })
}

await test('one file starts one worker of three; files one at a time keep it at one', async (t) => {
  const root = await tempDir(t)
  const files = await wheels(root, 3)
  const analyzer = pool(root)
  t.after(() => analyzer.close())
  assert.equal(analyzer.threads, 0)
  for (const file of files) {
    const result = await analyzer.analyze(file, { group: 'demo' })
    assert.equal(result.facts.digests.sha256?.length, 64)
    assert.equal(analyzer.threads, 1)
  }
})

await test('a second file while the first is read starts a second worker: no file waits behind another', async (t) => {
  const root = await tempDir(t)
  const files = await wheels(root, 2)
  const analyzer = pool(root)
  t.after(() => analyzer.close())
  await Promise.all(files.map((file) => analyzer.analyze(file, { group: 'demo' })))
  assert.equal(analyzer.threads, 2)
})

await test('a backlog larger than the pool starts every worker, no more', async (t) => {
  const root = await tempDir(t)
  const files = await wheels(root, 3 * PER_WORKER + 2)
  const analyzer = pool(root)
  t.after(() => analyzer.close())
  const results = await Promise.all(files.map((file) => analyzer.analyze(file, { group: 'demo' })))
  assert.equal(results.length, files.length)
  assert.equal(analyzer.threads, 3)
})
