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
