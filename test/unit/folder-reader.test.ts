// Reading one project folder from real files: what becomes a distribution, with which stat and
// which yank state, and what is left out.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pino } from 'pino'
import { classifyFolder } from '../../src/core/layout.js'
import { listedNames, readProjectFiles } from '../../src/live-index/folder-reader.js'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })

await test("a folder's distributions carry the listing's stat; other files are left out", async (t) => {
  const root = await tempDir(t)
  await writeTree(root, {
    'Foo/foo-1.0.tar.gz': 'sdist',
    'Foo/foo-1.0-py3-none-any.whl': 'wheel bytes',
    'Foo/README.txt': 'not a distribution',
    'Foo/bar-1.0.tar.gz': 'another project',
    'Foo/foo-1.0.tar.gz.asc': 'signature',
  })
  const storage = await LocalStorage.create(root, silent)
  const listing = (await storage.listFolder('Foo')) ?? assert.fail('no listing')
  const classified = classifyFolder('Foo', listedNames(listing))
  const files = await readProjectFiles(storage, classified, listing)
  assert.deepEqual(
    files.map((file) => file.filename),
    classified.files.map((file) => file.filename),
    "in the classification's order",
  )
  assert.deepEqual(files.map((file) => file.filename).sort(), ['foo-1.0-py3-none-any.whl', 'foo-1.0.tar.gz'])
  assert.deepEqual(
    classified.problems.map((problem) => problem.path),
    ['Foo/bar-1.0.tar.gz'],
    'a foreign file is a problem, not a file',
  )
  for (const file of files) {
    const stat = listing.files.find((listed) => listed.key === file.key) ?? assert.fail(`${file.key} not listed`)
    assert.equal(file.key, `Foo/${file.filename}`)
    assert.equal(file.folder, 'Foo')
    assert.deepEqual(
      { size: file.size, mtimeMs: file.mtimeMs, identity: file.identity },
      { size: stat.size, mtimeMs: stat.mtimeMs, identity: stat.identity },
    )
    assert.equal('yanked' in file, false, 'no sidecar: not yanked')
  }
})

await test('a listed yank sidecar makes its file yanked with the reason on one line; an empty one gives ""', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, {
    'foo/foo-1.0.tar.gz': 'a',
    'foo/foo-1.0.tar.gz.yanked': '  broken\n\tbuild  \n',
    'foo/foo-2.0.tar.gz': 'b',
    'foo/foo-2.0.tar.gz.yanked': '',
    'foo/foo-3.0.tar.gz': 'c',
  })
  const storage = await LocalStorage.create(root, silent)
  const listing = (await storage.listFolder('foo')) ?? assert.fail('no listing')
  const files = await readProjectFiles(storage, classifyFolder('foo', listedNames(listing)), listing)
  assert.deepEqual(Object.fromEntries(files.map((file) => [file.filename, file.yanked])), {
    'foo-1.0.tar.gz': 'broken build',
    'foo-2.0.tar.gz': '',
    'foo-3.0.tar.gz': undefined,
  })
})

await test('a file classified but no longer in the listing is left out', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': 'a' })
  const storage = await LocalStorage.create(root, silent)
  const listing = (await storage.listFolder('foo')) ?? assert.fail('no listing')
  const classified = classifyFolder('foo', [...listedNames(listing), 'foo-9.0.tar.gz'])
  assert.equal(classified.files.length, 2)
  assert.deepEqual(
    (await readProjectFiles(storage, classified, listing)).map((file) => file.filename),
    ['foo-1.0.tar.gz'],
  )
})
