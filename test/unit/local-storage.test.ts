// LocalStorage.open(): the fast path for a file a listing found, and the checks behind it.
import assert from 'node:assert/strict'
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { tempDir } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })

async function read(storage: LocalStorage, key: string, expected?: string): Promise<string | undefined> {
  const opened = await storage.open(key, expected === undefined ? {} : { expected })
  if (opened === undefined) return undefined
  try {
    const chunks: Buffer[] = []
    for await (const chunk of opened.createReadStream()) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString()
  } finally {
    await opened.close()
  }
}

await test('a listed file opens through the fast path; a folder swapped for a symlink leading out does not', async (t) => {
  const root = await tempDir(t)
  const outside = await tempDir(t, 'eggserve-outside-')
  await mkdir(join(root, 'foo'))
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), 'inside')
  await writeFile(join(outside, 'foo-1.0.tar.gz'), 'outside')
  const storage = await LocalStorage.create(root, silent)
  const listed = (await storage.listFolder('foo'))?.files[0]
  assert.ok(listed !== undefined)
  assert.equal(await read(storage, listed.key, listed.identity), 'inside')
  // An attacker with write access swaps the folder for a symlink to the outside.
  await rename(join(root, 'foo'), join(root, 'foo-moved'))
  await symlink(outside, join(root, 'foo'))
  assert.equal(
    await read(storage, listed.key, listed.identity),
    undefined,
    'the fast path refuses another inode, realpath refuses the outside',
  )
  assert.equal(await read(storage, listed.key), undefined)
})

await test('a symlinked file inside the tree still opens (the fast path falls back)', async (t) => {
  const root = await tempDir(t)
  await mkdir(join(root, 'foo'))
  await writeFile(join(root, 'foo', 'real-1.0.tar.gz'), 'real')
  await symlink(join(root, 'foo', 'real-1.0.tar.gz'), join(root, 'foo', 'foo-1.0.tar.gz'))
  const storage = await LocalStorage.create(root, silent)
  const listed = (await storage.listFolder('foo'))?.files.find((file) => file.key === 'foo/foo-1.0.tar.gz')
  assert.ok(listed !== undefined)
  assert.equal(await read(storage, listed.key, listed.identity), 'real')
})

await test('a file replaced after the listing is opened as it is now, described by its own stat', async (t) => {
  const root = await tempDir(t)
  await mkdir(join(root, 'foo'))
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), 'old')
  const storage = await LocalStorage.create(root, silent)
  const listed = (await storage.listFolder('foo'))?.files[0]
  assert.ok(listed !== undefined)
  await writeFile(join(root, 'foo', '.tmp'), 'new bytes')
  await rename(join(root, 'foo', '.tmp'), join(root, 'foo', 'foo-1.0.tar.gz'))
  const opened = await storage.open(listed.key, { expected: listed.identity })
  assert.ok(opened !== undefined)
  assert.equal(opened.file.size, 9)
  assert.notEqual(opened.file.identity, listed.identity)
  await opened.close()
})

await test('a load listed on two threads (prefetchFolders) answers exactly what the main thread alone does', async (t) => {
  const root = await tempDir(t)
  const outside = await tempDir(t)
  await writeFile(join(outside, 'out-1.0.tar.gz'), 'outside')
  const folders: string[] = []
  for (let i = 0; i < 12; i++) {
    const folder = `p${String(i).padStart(2, '0')}`
    folders.push(folder)
    await mkdir(join(root, folder))
    await writeFile(join(root, folder, `${folder}-1.0.tar.gz`), `file ${i}`)
    await writeFile(join(root, folder, `${folder}-2.0.tar.gz`), `file ${i} again`)
  }
  // What the worker declines or leaves out: a symlinked file, a symlink leading out, a hidden
  // file, a sub-folder, a folder that is a symlink, a folder that is gone, a file for a folder.
  await symlink(join(root, 'p01', 'p01-1.0.tar.gz'), join(root, 'p03', 'p03-9.0.tar.gz'))
  await symlink(join(outside, 'out-1.0.tar.gz'), join(root, 'p05', 'p05-8.0.tar.gz'))
  await writeFile(join(root, 'p07', '.hidden-1.0.tar.gz'), 'hidden')
  await mkdir(join(root, 'p07', 'sub'))
  await symlink(join(root, 'p00'), join(root, 'linked'))
  await writeFile(join(root, 'plain-file'), 'not a folder')
  folders.push('linked', 'gone', 'plain-file')
  const alone = await LocalStorage.create(root, silent)
  const expected = await Promise.all(folders.map((folder) => alone.listFolder(folder)))
  const both = await LocalStorage.create(root, silent, { prefetch: { folders: 0, run: 2 } })
  const prefetch = both.prefetchFolders(folders)
  t.after(() => {
    prefetch.close()
  })
  // In order, a few ahead, as the index's load() asks.
  const listed = []
  for (const folder of folders) listed.push(await both.listFolder(folder))
  prefetch.close()
  assert.deepEqual(listed, expected)
  assert.ok(both.prefetched >= 4, `folders the worker listed: ${both.prefetched}`)
  assert.equal(alone.prefetched, 0)
  assert.deepEqual(await both.listFolder('p03'), expected[3], 'after close(), listed by the main thread')
})
