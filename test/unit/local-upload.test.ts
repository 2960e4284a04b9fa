// The storage seam's write side on a real directory: hidden temporary files, atomic publishing
// (link: one winner; rename: replace), identities that match listings, aborts and sweeps.
import assert from 'node:assert/strict'
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { describe, test } from 'node:test'
import { LocalStorage } from '../../src/storage/local-storage.js'
import type { PendingUpload } from '../../src/storage/storage.js'
import { DigestTap } from '../../src/upload/digest-tap.js'
import { memoryLogger } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

async function storageIn(t: Parameters<typeof tempDir>[0]): Promise<{ root: string; storage: LocalStorage }> {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': 'one' })
  return { root, storage: await LocalStorage.create(root, memoryLogger([])) }
}

async function write(upload: PendingUpload, text: string): Promise<void> {
  await pipeline(Readable.from([Buffer.from(text)]), upload.writable)
}

await describe('LocalStorage uploads', async () => {
  await test('the temporary file is hidden, next to its destination; commit publishes it and its identity matches the listing', async (t) => {
    const { root, storage } = await storageIn(t)
    const upload = await storage.createUpload('foo')
    const hidden = (await readdir(join(root, 'foo'))).filter((name) => name.startsWith('.upload-'))
    assert.equal(hidden.length, 1)
    assert.match(hidden[0] ?? '', /^\.upload-[0-9a-f]{16}\.tmp$/)
    await write(upload, 'two')
    assert.equal(upload.size, 3)
    const chunks: Buffer[] = []
    for await (const chunk of upload.createReadStream({ start: 1, end: 2 })) chunks.push(chunk as Buffer)
    assert.equal(Buffer.concat(chunks).toString(), 'wo', 'random access before publishing')
    const committed = await upload.commit('foo/foo-2.0.tar.gz', { replace: false })
    assert.equal(committed.outcome, 'created')
    assert.deepEqual((await readdir(join(root, 'foo'))).sort(), ['foo-1.0.tar.gz', 'foo-2.0.tar.gz'])
    const listed = (await storage.listFolder('foo'))?.files.find((file) => file.key === 'foo/foo-2.0.tar.gz')
    assert.ok(listed !== undefined)
    assert.equal(committed.file.identity, listed.identity, 'the analyzer memo is keyed by what listings will see')
    await upload.abort()
    assert.equal(await readFile(join(root, 'foo', 'foo-2.0.tar.gz'), 'utf8'), 'two', 'abort after commit is a no-op')
  })

  await test('a new folder: the temporary file waits in the top level and the folder appears only at commit', async (t) => {
    const { root, storage } = await storageIn(t)
    const upload = await storage.createUpload('bar')
    await write(upload, 'bar')
    assert.deepEqual(
      (await readdir(root)).filter((name) => !name.startsWith('.')),
      ['foo'],
      'no empty project folder while uploading',
    )
    assert.equal((await upload.commit('bar/bar-1.0.tar.gz', { replace: false })).outcome, 'created')
    assert.deepEqual((await readdir(root)).sort(), ['bar', 'foo'])
  })

  await test('without replace an existing file is never touched; with replace it is swapped atomically', async (t) => {
    const { root, storage } = await storageIn(t)
    const path = join(root, 'foo', 'foo-1.0.tar.gz')
    const inode = (await stat(path)).ino
    const refused = await storage.createUpload('foo')
    await write(refused, 'other')
    assert.deepEqual(await refused.commit('foo/foo-1.0.tar.gz', { replace: false }), { outcome: 'exists' })
    await refused.abort()
    assert.equal(await readFile(path, 'utf8'), 'one')
    assert.equal((await stat(path)).ino, inode)
    const replacing = await storage.createUpload('foo')
    await write(replacing, 'replaced')
    assert.equal((await replacing.commit('foo/foo-1.0.tar.gz', { replace: true })).outcome, 'replaced')
    assert.equal(await readFile(path, 'utf8'), 'replaced')
    assert.deepEqual(await readdir(join(root, 'foo')), ['foo-1.0.tar.gz'], 'no temporary file left')
  })

  await test('20 uploads committing one key at once: exactly one is created', async (t) => {
    const { root, storage } = await storageIn(t)
    const uploads = await Promise.all(Array.from({ length: 20 }, () => storage.createUpload('foo')))
    await Promise.all(uploads.map((upload, i) => write(upload, `upload ${i}`)))
    const results = await Promise.all(uploads.map((upload) => upload.commit('foo/foo-3.0.tar.gz', { replace: false })))
    await Promise.all(uploads.map((upload) => upload.abort()))
    assert.equal(results.filter((result) => result.outcome === 'created').length, 1)
    const winner = results.findIndex((result) => result.outcome === 'created')
    assert.equal(await readFile(join(root, 'foo', 'foo-3.0.tar.gz'), 'utf8'), `upload ${winner}`)
    assert.deepEqual((await readdir(join(root, 'foo'))).sort(), ['foo-1.0.tar.gz', 'foo-3.0.tar.gz'])
  })

  await test('abort removes the temporary file, and may be called twice', async (t) => {
    const { root, storage } = await storageIn(t)
    const upload = await storage.createUpload('foo')
    await write(upload, 'half')
    await upload.abort()
    await upload.abort()
    assert.deepEqual(await readdir(join(root, 'foo')), ['foo-1.0.tar.gz'])
    await assert.rejects(upload.commit('foo/foo-9.0.tar.gz', { replace: false }))
  })

  await test('remove, removeFolderIfEmpty and sweepUploads', async (t) => {
    const { root, storage } = await storageIn(t)
    await writeFile(join(root, 'foo', '.upload-0123456789abcdef.tmp'), 'crashed')
    await writeFile(join(root, '.upload-fedcba9876543210.tmp'), 'fresh')
    const old = new Date(Date.now() - 2 * 3600_000)
    await utimes(join(root, 'foo', '.upload-0123456789abcdef.tmp'), old, old)
    assert.equal(await storage.sweepUploads(3600_000), 1)
    assert.deepEqual(
      (await readdir(root)).sort(),
      ['.upload-fedcba9876543210.tmp', 'foo'],
      'a recent one may be a live upload',
    )
    assert.equal(await storage.removeFolderIfEmpty('foo'), false)
    assert.equal(await storage.remove('foo/foo-1.0.tar.gz'), true)
    assert.equal(await storage.remove('foo/foo-1.0.tar.gz'), false)
    assert.equal(await storage.remove('../etc/passwd'), false)
    assert.equal(await storage.removeFolderIfEmpty('foo'), true)
    assert.equal(await storage.removeFolderIfEmpty('..'), false)
  })
})

await describe('DigestTap', async () => {
  // Vectors from Python: hashlib.blake2b(data, digest_size=32).hexdigest().
  const vectors: [string, Buffer, string][] = [
    ['empty', Buffer.alloc(0), '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8'],
    ['abc', Buffer.from('abc'), 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319'],
    [
      '256 000 bytes',
      Buffer.concat(Array.from({ length: 1000 }, () => Buffer.from(Array.from({ length: 256 }, (_, i) => i)))),
      '5d074c3f889bcba3b3a253496ee73cba18832b6d3c67d2b739dc202c78ed2581',
    ],
  ]
  for (const [title, data, blake2] of vectors) {
    await test(`BLAKE2b-256 of ${title}, streamed in pieces`, async () => {
      const tap = await DigestTap.create(['sha512'])
      const pieces = Array.from({ length: Math.ceil(data.length / 7000) }, (_, i) =>
        data.subarray(i * 7000, (i + 1) * 7000),
      )
      tap.resume()
      await pipeline(Readable.from(pieces), tap)
      const result = tap.result()
      assert.equal(result.blake2b256, blake2)
      assert.deepEqual(Object.keys(result.digests).sort(), ['md5', 'sha256', 'sha512'])
    })
  }
})
