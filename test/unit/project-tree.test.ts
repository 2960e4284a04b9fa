// The tree state's invariants: immutable snapshots, generations that change exactly when files
// do and never repeat, a sorted root list, and updates from stale snapshots refused.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { DistFile } from '../../src/core/index-model.js'
import { parseDistFilename } from '../../src/core/filenames.js'
import { ProjectTree } from '../../src/live-index/project-tree.js'

function file(folder: string, filename: string, identity: string, extra: Partial<DistFile> = {}): DistFile {
  const parsed = parseDistFilename(filename, folder.toLowerCase()) ?? assert.fail(`cannot parse ${filename}`)
  return { folder, filename, key: `${folder}/${filename}`, parsed, size: 10, mtimeMs: 1000, identity, ...extra }
}

await test('a folder found is a project without files until it is read, under its own generation', () => {
  const tree = new ProjectTree()
  const before = tree.root()
  const foo = tree.add('Foo', 'foo')
  assert.deepEqual(foo.files, [])
  assert.equal(foo.lastModifiedMs, 0)
  assert.equal(tree.get('foo'), foo)
  assert.notEqual(tree.root().generation, before.generation, 'a new project changes the root')
  assert.notEqual(foo.generation, tree.root().generation)
  assert.throws(() => tree.add('foo', 'foo'), /one folder per project/)
  assert.throws(() => tree.add('bar', 'foo'), /normalizes/)
})

await test('an update makes a new snapshot and leaves the old one as it was', () => {
  const tree = new ProjectTree()
  const empty = tree.add('foo', 'foo')
  const one =
    tree.update(empty, [file('foo', 'foo-1.0.tar.gz', 'a', { mtimeMs: 5 })])?.snapshot ?? assert.fail('refused')
  const two =
    tree.update(one, [
      file('foo', 'foo-1.0.tar.gz', 'a', { mtimeMs: 5 }),
      file('foo', 'foo-2.0.tar.gz', 'b', { mtimeMs: 9 }),
    ])?.snapshot ?? assert.fail('refused')
  assert.equal(tree.get('foo'), two)
  assert.deepEqual(
    one.files.map((f) => f.filename),
    ['foo-1.0.tar.gz'],
  )
  assert.equal(one.file('foo-2.0.tar.gz'), undefined, 'a snapshot never sees later files')
  assert.equal(two.file('foo-2.0.tar.gz')?.identity, 'b')
  assert.equal(two.lastModifiedMs, 9)
  assert.ok(Object.isFrozen(two) && Object.isFrozen(two.files))
  assert.throws(() => {
    ;(two.files as DistFile[]).push(file('foo', 'foo-3.0.tar.gz', 'c'))
  }, TypeError)
})

await test('the generation changes exactly when the files do (identity, name or yank state)', () => {
  const tree = new ProjectTree()
  let current = tree.add('foo', 'foo')
  const step = (files: DistFile[]): { changed: boolean; same: boolean } => {
    const before = current
    current = tree.update(before, files)?.snapshot ?? assert.fail('refused')
    return { changed: current.generation !== before.generation, same: current === before }
  }
  const a = file('foo', 'foo-1.0.tar.gz', 'a')
  assert.deepEqual(step([a]), { changed: true, same: false })
  assert.deepEqual(
    step([file('foo', 'foo-1.0.tar.gz', 'a')]),
    { changed: false, same: true },
    'nothing differs: the very same snapshot',
  )
  assert.deepEqual(
    step([file('foo', 'foo-1.0.tar.gz', 'a', { mtimeMs: 2000 })]),
    { changed: false, same: false },
    'a new time under the same identity: same generation, new Last-Modified',
  )
  assert.equal(current.lastModifiedMs, 2000)
  assert.deepEqual(
    step([file('foo', 'foo-1.0.tar.gz', 'a2', { mtimeMs: 2000 })]),
    { changed: true, same: false },
    'new bytes',
  )
  assert.deepEqual(
    step([file('foo', 'foo-1.0.tar.gz', 'a2', { mtimeMs: 2000, yanked: '' })]),
    { changed: true, same: false },
    'yanked',
  )
  assert.deepEqual(
    step([file('foo', 'foo-1.0.tar.gz', 'a2', { mtimeMs: 2000, yanked: 'broken' })]),
    { changed: true, same: false },
    'another reason',
  )
  assert.deepEqual(step([]), { changed: true, same: false })
})

await test('generations never repeat, across projects, the root, removals and additions again', () => {
  const tree = new ProjectTree()
  const seen = new Set<number>()
  const see = (generation: number): void => {
    assert.ok(!seen.has(generation), `generation ${generation} repeated`)
    seen.add(generation)
  }
  see(tree.root().generation)
  for (let round = 0; round < 3; round++) {
    for (const name of ['a', 'b', 'c']) {
      const added = tree.add(name, name)
      see(added.generation)
      see(tree.root().generation)
      const updated =
        tree.update(added, [file(name, `${name}-1.${round}.tar.gz`, `${name}${round}`)])?.snapshot ??
        assert.fail('refused')
      see(updated.generation)
    }
    for (const name of ['a', 'b', 'c']) {
      tree.remove(name)
      see(tree.root().generation)
    }
  }
})

await test("an update from a snapshot that is no longer the project's is refused", () => {
  const tree = new ProjectTree()
  const first = tree.add('foo', 'foo')
  const second = tree.update(first, [file('foo', 'foo-1.0.tar.gz', 'a')])?.snapshot ?? assert.fail('refused')
  assert.equal(tree.update(first, [file('foo', 'foo-9.0.tar.gz', 'z')]), undefined, 'an older snapshot')
  assert.equal(tree.get('foo'), second)
  assert.equal(tree.remove('foo'), second)
  assert.equal(tree.update(second, [file('foo', 'foo-1.0.tar.gz', 'a')]), undefined, 'a removed project')
  assert.equal(tree.get('foo'), undefined, 'is not brought back')
  assert.equal(tree.remove('foo'), undefined)
})

await test('an update says which files are gone (by identity), so their facts can be forgotten', () => {
  const tree = new ProjectTree()
  const start = tree.add('foo', 'foo')
  const one =
    tree.update(start, [file('foo', 'foo-1.0.tar.gz', 'a'), file('foo', 'foo-2.0.tar.gz', 'b')])?.snapshot ??
    assert.fail('refused')
  const next = tree.update(one, [file('foo', 'foo-2.0.tar.gz', 'b'), file('foo', 'foo-3.0.tar.gz', 'c')])
  assert.deepEqual(
    next?.dropped.map((f) => f.identity),
    ['a'],
  )
})

await test('the root lists every project sorted case-insensitively, the same object until a project comes or goes', () => {
  const tree = new ProjectTree()
  const b = tree.add('b', 'b')
  tree.add('A', 'a')
  tree.add('c', 'c')
  const root = tree.root()
  assert.deepEqual(
    root.projects.map((p) => p.folder),
    ['A', 'b', 'c'],
  )
  tree.update(b, [file('b', 'b-1.0.tar.gz', 'x', { mtimeMs: 42 })])
  assert.equal(tree.root(), root, 'files changing in a project leave the list alone')
  assert.deepEqual(
    tree.snapshots().map((s) => [s.folder, s.files.length]),
    [
      ['A', 0],
      ['b', 1],
      ['c', 0],
    ],
    'snapshots are current, in root order',
  )
  tree.remove('c')
  const after = tree.root()
  assert.notEqual(after, root)
  assert.deepEqual(
    after.projects.map((p) => p.folder),
    ['A', 'b'],
  )
  assert.equal(after.lastModifiedMs, 42)
  assert.ok(Object.isFrozen(after) && Object.isFrozen(after.projects))
})

await test('file() finds every file by exact name, in small projects and in large ones', () => {
  const tree = new ProjectTree()
  for (const count of [1, 16, 17, 40]) {
    const project = `p${count}`
    const start = tree.add(project, project)
    const files = Array.from({ length: count }, (_, i) => file(project, `${project}-${i}.0.tar.gz`, `${project}:${i}`))
    const snapshot = tree.update(start, files)?.snapshot ?? assert.fail('refused')
    for (let i = 0; i < count; i++) assert.equal(snapshot.file(`${project}-${i}.0.tar.gz`)?.identity, `${project}:${i}`)
    assert.equal(snapshot.file(`${project}-${count}.0.tar.gz`), undefined, 'a name not listed')
    assert.equal(snapshot.file(`${project.toUpperCase()}-0.0.tar.gz`), undefined, 'exact names only')
    assert.equal(start.file(`${project}-0.0.tar.gz`), undefined, 'the snapshot before has none')
  }
})
