// The query API over real folders: every query is correct whatever was called before it.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { createIndexServices, type IndexServices } from '../../src/services.js'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })
const md5 = (text: string): string => createHash('md5').update(text).digest('hex')

async function loaded(
  t: TestContext,
  files: Record<string, string>,
): Promise<{ root: string; services: IndexServices }> {
  const root = await tempDir(t)
  await writeTree(root, files)
  const services = await createIndexServices({ eggdir: root, hashAlgorithm: 'md5', logger: silent })
  t.after(() => services.close())
  await services.index.load()
  return { root, services }
}

await test('findFile() finds a file dropped in after load() without a findProject() before it', async (t) => {
  const { root, services } = await loaded(t, { 'demo/demo-1.0.tar.gz': 'one' })
  await writeFile(join(root, 'demo', 'demo-2.0.tar.gz'), 'two')
  const file = await services.index.findFile('demo', 'demo-2.0.tar.gz')
  assert.equal(file?.filename, 'demo-2.0.tar.gz')
  assert.equal(file.size, 3)
  assert.equal(await services.index.findFile('demo', 'demo-3.0.tar.gz'), undefined)
  assert.equal(await services.index.findFile('nope', 'demo-1.0.tar.gz'), undefined)
})

// Each query, after a change to the tree, in every order: none depends on another having run.
const queries = {
  listProjects: async (services: IndexServices): Promise<void> => {
    assert.deepEqual(
      (await services.index.listProjects()).projects.map((p) => p.folder),
      ['demo', 'Late'],
    )
  },
  findProject: async (services: IndexServices): Promise<void> => {
    const found = (await services.index.findProject('late')) ?? assert.fail('no project late')
    assert.deepEqual(
      found.files.map((file) => file.filename),
      ['late-1.0.tar.gz'],
    )
  },
  findFile: async (services: IndexServices): Promise<void> => {
    assert.equal((await services.index.findFile('DEMO', 'demo-2.0.tar.gz'))?.size, 3)
  },
}
type Query = keyof typeof queries
const orders: Query[][] = [
  ['listProjects', 'findProject', 'findFile'],
  ['listProjects', 'findFile', 'findProject'],
  ['findProject', 'listProjects', 'findFile'],
  ['findProject', 'findFile', 'listProjects'],
  ['findFile', 'listProjects', 'findProject'],
  ['findFile', 'findProject', 'listProjects'],
]
for (const order of orders) {
  await test(`after a change, queries in the order ${order.join(', ')} all see it`, async (t) => {
    const { root, services } = await loaded(t, { 'demo/demo-1.0.tar.gz': 'one' })
    await writeFile(join(root, 'demo', 'demo-2.0.tar.gz'), 'two')
    await writeTree(root, { 'Late/late-1.0.tar.gz': 'late' })
    for (const query of order) await queries[query](services)
  })
}

await test('analyzedPage() lists exactly the snapshot it is given, with the facts of its files', async (t) => {
  const { root, services } = await loaded(t, { 'demo/demo-1.0.tar.gz': 'one' })
  const first = (await services.index.findProject('demo')) ?? assert.fail('no demo')
  await writeFile(join(root, 'demo', 'demo-2.0.tar.gz'), 'two')
  const second = (await services.index.findProject('demo')) ?? assert.fail('no demo')
  assert.notEqual(second.generation, first.generation)
  const page = await services.index.analyzedPage(first)
  assert.deepEqual(
    page.files.map((f) => [f.file.filename, f.facts.digests.md5]),
    [['demo-1.0.tar.gz', md5('one')]],
    'the generation a cache keys it by',
  )
  assert.deepEqual(
    (await services.index.analyzedPage(second)).files.map((f) => [f.file.filename, f.facts.digests.md5]),
    [
      ['demo-1.0.tar.gz', md5('one')],
      ['demo-2.0.tar.gz', md5('two')],
    ],
  )
})

await test('heldProjects() reads nothing: it holds what the last look at storage found', async (t) => {
  const { root, services } = await loaded(t, { 'demo/demo-1.0.tar.gz': 'one', 'alpha/alpha-1.0.tar.gz': 'a' })
  const held = (): [string, number][] => services.index.heldProjects().map((p) => [p.folder, p.files.length])
  assert.deepEqual(
    held(),
    [
      ['alpha', 1],
      ['demo', 1],
    ],
    'sorted as listProjects() sorts',
  )
  await writeFile(join(root, 'demo', 'demo-2.0.tar.gz'), 'two')
  assert.deepEqual(held(), [
    ['alpha', 1],
    ['demo', 1],
  ])
  await services.index.findProject('demo')
  assert.deepEqual(held(), [
    ['alpha', 1],
    ['demo', 2],
  ])
})

await test('a file whose bytes changed under an unchanged folder is described as read, and its folder read again next time', async (t) => {
  const { root, services } = await loaded(t, { 'demo/demo-1.0.tar.gz': 'one' })
  const before = (await services.index.findProject('demo')) ?? assert.fail('no demo')
  await writeFile(join(root, 'demo', 'demo-1.0.tar.gz'), 'rewritten')
  // Nothing analyzed this file yet, so the page reads the new bytes, and says so.
  const page = await services.index.analyzedPage(before)
  assert.equal(page.files[0]?.facts.digests.md5, md5('rewritten'))
  assert.equal(page.files[0].file.size, 'rewritten'.length)
  const after = (await services.index.findProject('demo')) ?? assert.fail('no demo')
  assert.notEqual(
    after.file('demo-1.0.tar.gz')?.identity,
    before.file('demo-1.0.tar.gz')?.identity,
    'the folder was read again',
  )
})

await test('load() has the local tree listed on two threads, to the same index', async (t) => {
  const files: Record<string, string> = {}
  for (let p = 0; p < 9; p++) for (let f = 0; f < 3; f++) files[`p${p}/p${p}-1.${f}.tar.gz`] = `project ${p} file ${f}`
  const { root, services: alone } = await loaded(t, files)
  const storage = await LocalStorage.create(root, silent, { prefetch: { folders: 0, run: 2 } })
  const both = await createIndexServices({ eggdir: root, storage, hashAlgorithm: 'md5', logger: silent })
  t.after(() => both.close())
  await both.index.load()
  assert.ok(storage.prefetched > 0, 'some folders were listed by the worker thread')
  const shape = (s: IndexServices): unknown =>
    s.index.heldProjects().map(({ folder, files: held }) => [folder, held.map(({ key, identity }) => [key, identity])])
  assert.deepEqual(shape(both), shape(alone))
})
