// The memoizing decorator over a real reader: facts kept by identity (in memory and in the
// cache file), what knows() says, what adopt() keeps, and the stored facts equal to the read ones.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import type { DistFile } from '../../src/core/index-model.js'
import { classifyFolder } from '../../src/core/layout.js'
import { FactsLog } from '../../src/file-facts/facts-log.js'
import { MemoryFactsStore, rekeyed, type FactsStore } from '../../src/file-facts/facts-store.js'
import { FairScheduler } from '../../src/file-facts/fair-scheduler.js'
import { MemoizingAnalyzer } from '../../src/file-facts/memoizing-analyzer.js'
import { StreamingAnalyzer } from '../../src/file-facts/streaming-analyzer.js'
import { listedNames, readProjectFiles } from '../../src/live-index/folder-reader.js'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })

async function setUp(root: string): Promise<{ storage: LocalStorage; files: DistFile[] }> {
  for (const [version, requiresPython] of [
    ['1.0', '>=3.8'],
    ['1.1', '>=3.8'],
    ['2.0', undefined],
  ] as const)
    await writeDist(
      join(root, 'demo'),
      buildWheel({ name: 'demo', version, ...(requiresPython === undefined ? {} : { requiresPython }) }),
    )
  const storage = await LocalStorage.create(root, silent)
  const listing = (await storage.listFolder('demo')) ?? assert.fail('no listing')
  const files = await readProjectFiles(storage, classifyFolder('demo', listedNames(listing)), listing)
  assert.equal(files.length, 3)
  return { storage, files }
}

function reader(storage: LocalStorage): StreamingAnalyzer {
  return new StreamingAnalyzer({
    storage,
    algorithms: ['md5', 'sha256'],
    scheduler: new FairScheduler(2),
    log: silent,
  })
}

await test('facts are read once per identity, kept equal to what was read, and known afterwards', async (t) => {
  const { storage, files } = await setUp(await tempDir(t))
  const inner = reader(storage)
  const store = new MemoryFactsStore()
  const analyzer = new MemoizingAnalyzer(inner, store)
  for (const file of files) assert.equal(analyzer.knows(file.identity), false)
  const read = await Promise.all(files.map((file) => analyzer.analyze(file, { group: 'demo' })))
  assert.equal(inner.stats.files, 3)
  assert.deepEqual(
    read.map((result) => result.facts.metadata?.requiresPython),
    ['>=3.8', '>=3.8', undefined],
    'Requires-Python as the metadata says, present only where it is',
  )
  for (const [i, file] of files.entries()) {
    assert.deepEqual(store.get(file.identity), read[i]?.facts, 'the stored facts equal the read ones')
    assert.equal(analyzer.knows(file.identity), true)
    assert.deepEqual((await analyzer.analyze(file, { group: 'demo' })).facts, read[i]?.facts)
  }
  assert.equal(inner.stats.files, 3, 'nothing read again')
  assert.equal(analyzer.size, 3)
  assert.equal(analyzer.knows('no such identity'), false)
  assert.equal(analyzer.size, 3, 'asking about an unknown identity adds nothing')
})

await test('adopt() keeps every entry as it was, in memory and in the cache file', async (t) => {
  const root = await tempDir(t)
  const cacheDir = await tempDir(t)
  const { storage, files } = await setUp(root)
  const open = (): Promise<FactsLog> =>
    FactsLog.open({ dir: cacheDir, namespace: root, algorithms: ['md5', 'sha256'], log: silent, flushDelayMs: 1 })
  const first = await open()
  const read = await Promise.all(
    files.map((file) => new MemoizingAnalyzer(reader(storage), first).analyze(file, { group: 'demo' })),
  )
  first.set('gone:1', { digests: { md5: 'a'.repeat(32), sha256: 'b'.repeat(64) } })
  await first.close()
  const expected = new Map([
    ...files.map((file, i) => [file.identity, read[i]?.facts ?? assert.fail()] as const),
    ['gone:1', { digests: { md5: 'a'.repeat(32), sha256: 'b'.repeat(64) } }] as const,
  ])
  const memory = new MemoryFactsStore()
  for (const [identity, facts] of expected) memory.set(identity, facts)
  const stores: FactsStore[] = [await open(), memory]
  for (const store of stores) {
    const analyzer = new MemoizingAnalyzer(reader(storage), store)
    // The listing's strings, built anew (as a listing builds them), and one the store does not hold.
    analyzer.adopt([...files.map((file) => file.identity.split(':').join(':')), 'not:held'])
    assert.equal(store.size, 4, 'adopting neither adds nor drops an entry')
    assert.deepEqual(new Map(store.entries()), expected, 'every identity with its facts, as before')
    for (const identity of expected.keys()) assert.equal(analyzer.knows(identity), true)
    assert.equal(analyzer.knows('not:held'), false)
  }
  const log = stores[0] as FactsLog
  log.set('new:1', { digests: { md5: 'c'.repeat(32), sha256: 'd'.repeat(64) } })
  await log.close()
  const again = await open()
  assert.equal(again.size, 5, 'what was adopted and what was set after it are in the file')
  for (const [identity, facts] of expected) assert.deepEqual(again.get(identity), facts)
  await again.close()
})

await test('rekeyed() keeps the entries and their values, whatever the identities given', () => {
  const facts = { digests: { sha256: 'a'.repeat(64) } }
  const map = new Map([
    ['a:1', facts],
    ['b:2', { digests: { sha256: 'b'.repeat(64) } }],
  ])
  for (const identities of [[], ['a:1'], ['c:3', 'b:2', 'a:1', 'a:1']]) {
    const next = rekeyed(map, identities)
    assert.deepEqual(next, map)
    assert.equal(next.get('a:1'), facts, 'the same facts object')
  }
  assert.equal(map.size, 2, 'the map given is left as it was')
})
