// Concurrent uploads of one filename (exactly one winner), and write failures injected at the
// storage seam (a full disk, a read-only filesystem, missing permissions): a clear 5xx, no
// partial or temporary file, one error record, and the server keeps serving.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import type { ErrorCode } from '../../src/error-codes.js'
import { writeFailure } from '../../src/storage/local-upload.js'
import type { PendingUpload, Storage } from '../../src/storage/storage.js'
import { buildTestApp } from '../helpers/build-app.js'
import { buildWheel } from '../helpers/distributions.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { snapshot, tempFiles, upload } from '../helpers/upload-form.js'

const CONCURRENT = 20
const HELLO = { name: 'Hello.World', version: '1.0' }
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

await describe(`${CONCURRENT} concurrent uploads of the same filename`, async () => {
  await test("different bytes: exactly one 200, the others 409, and the stored bytes are the winner's", async (t) => {
    const root = await tempDir(t)
    const { app, logs } = await buildTestApp(t, { root, uploads: {} })
    const dists = Array.from({ length: CONCURRENT }, (_, i) =>
      buildWheel({ ...HELLO, moduleSource: `__version__ = '1.0'\nRUN = ${i}\n` }),
    )
    assert.equal(new Set(dists.map((dist) => dist.filename)).size, 1)
    const responses = await Promise.all(dists.map((dist) => upload(app, dist, HELLO)))
    const statuses = responses.map((res) => res.statusCode)
    assert.equal(statuses.filter((status) => status === 200).length, 1, statuses.join(' '))
    assert.equal(statuses.filter((status) => status === 409).length, CONCURRENT - 1, statuses.join(' '))
    const winner = dists[statuses.indexOf(200)]
    assert.ok(winner !== undefined)
    const stored = await readFile(join(root, 'hello-world', winner.filename))
    assert.deepEqual(stored, winner.bytes, 'the stored file is the one complete upload that won')
    for (const res of responses.filter((response) => response.statusCode === 409)) {
      assert.match(res.body, new RegExp(`^File already exists .*sha256 hash ${sha256(winner.bytes)}`))
    }
    assert.deepEqual(await tempFiles(root), [])
    assert.equal(logs.filter((line) => line.msg === 'Upload stored').length, 1)
    assert.match(
      (await app.inject('/hello-world/')).body,
      new RegExp(`#md5=${createHash('md5').update(winner.bytes).digest('hex')}`),
    )
  })

  await test('identical bytes: all 200 (a raced retry is a success), one file written once', async (t) => {
    const root = await tempDir(t)
    const { app, logs } = await buildTestApp(t, { root, uploads: {} })
    const dist = buildWheel(HELLO)
    const responses = await Promise.all(Array.from({ length: CONCURRENT }, () => upload(app, dist, HELLO)))
    assert.deepEqual(
      responses.map((res) => res.statusCode),
      Array.from({ length: CONCURRENT }, () => 200),
    )
    assert.deepEqual(await readFile(join(root, 'hello-world', dist.filename)), dist.bytes)
    assert.deepEqual(await tempFiles(root), [])
    assert.equal(logs.filter((line) => line.msg === 'Upload stored').length, 1)
    assert.equal(
      logs.filter((line) => line.msg === 'Upload identical to the stored file: nothing changed').length,
      CONCURRENT - 1,
    )
  })

  await test('with --overwrite: every upload succeeds and the stored bytes are exactly one of them', async (t) => {
    const root = await tempDir(t)
    const { app } = await buildTestApp(t, { root, uploads: { overwrite: true } })
    const dists = Array.from({ length: CONCURRENT }, (_, i) => buildWheel({ ...HELLO, moduleSource: `RUN = ${i}\n` }))
    const responses = await Promise.all(dists.map((dist) => upload(app, dist, HELLO)))
    assert.ok(responses.every((res) => res.statusCode === 200))
    const stored = await readFile(join(root, 'hello-world', dists[0]?.filename ?? ''))
    assert.ok(
      dists.some((dist) => dist.bytes.equals(stored)),
      'one complete upload, never a mix',
    )
    assert.deepEqual(await tempFiles(root), [])
  })
})

type FailAt = 'create' | 'write' | 'commit'

const errno = (code: string): Error => Object.assign(new Error(`${code}: injected`), { code })

/**
 * Storage whose writes fail as the local filesystem would with `code`, at one step. The
 * failure goes through the same mapping as real errno errors (writeFailure). Reads and the
 * temporary file itself are real, so the test sees whether the temporary file is removed.
 */
function failingStorage(storage: Storage, at: FailAt, code: string): Storage {
  const fail = (): Error => writeFailure('inject', errno(code))
  const wrap = (real: PendingUpload): PendingUpload => ({
    get size() {
      return real.size
    },
    writable:
      at !== 'write'
        ? real.writable
        : new Writable({
            write(chunk: Buffer, _encoding, callback) {
              // Half the chunk reaches the disk first, as with a disk that fills up mid-write.
              real.writable.write(chunk.subarray(0, chunk.length >> 1), () => {
                callback(fail())
              })
            },
          }),
    createReadStream: (range) => real.createReadStream(range),
    commit: (key, options) => (at === 'commit' ? Promise.reject(fail()) : real.commit(key, options)),
    abort: () => real.abort(),
  })
  return {
    listRoot: () => storage.listRoot(),
    listFolder: (folder) => storage.listFolder(folder),
    changeToken: (folder) => storage.changeToken(folder),
    open: (key) => storage.open(key),
    watch: (listener, onError) => storage.watch(listener, onError),
    remove: (key) => storage.remove(key),
    removeFolderIfEmpty: (folder) => storage.removeFolderIfEmpty(folder),
    createUpload: async (folder) => {
      if (at === 'create') throw fail()
      return wrap(await storage.createUpload(folder))
    },
  }
}

const FAILURES: readonly { at: FailAt; code: string; status: number; message: RegExp; logged: ErrorCode }[] = [
  {
    at: 'write',
    code: 'ENOSPC',
    status: 507,
    message: /^Insufficient Storage: the disk holding the package folder is full$/,
    logged: 'EGGSERVE_DISK_FULL',
  },
  { at: 'write', code: 'EDQUOT', status: 507, message: /^Insufficient Storage/, logged: 'EGGSERVE_DISK_FULL' },
  {
    at: 'create',
    code: 'EROFS',
    status: 500,
    message: /^Cannot store the upload: the package folder is on a read-only filesystem$/,
    logged: 'EGGSERVE_READ_ONLY',
  },
  {
    at: 'create',
    code: 'EACCES',
    status: 500,
    message: /^Cannot store the upload: the server may not write to the package folder$/,
    logged: 'EGGSERVE_WRITE_DENIED',
  },
  { at: 'commit', code: 'EROFS', status: 500, message: /read-only filesystem/, logged: 'EGGSERVE_READ_ONLY' },
  { at: 'commit', code: 'EIO', status: 500, message: /^Internal Server Error$/, logged: 'EGGSERVE_STORAGE' },
]

// This machine may not allow mounting a full or read-only filesystem; test/e2e/upload-storage.test.ts
// does that for real where it can. Here the failures are injected at the storage seam.
await describe('write failures injected at the storage seam', async () => {
  for (const failure of FAILURES) {
    await test(`${failure.code} at ${failure.at} → ${failure.status}, nothing left behind, still serving`, async (t) => {
      const root = await tempDir(t)
      await writeTree(root, { 'other/other-1.0.tar.gz': 'other' })
      const { app, logs } = await buildTestApp(t, {
        root,
        uploads: {},
        wrapStorage: (storage) => failingStorage(storage, failure.at, failure.code),
      })
      const before = await snapshot(root)
      const res = await upload(app, buildWheel(HELLO), HELLO)
      assert.equal(res.statusCode, failure.status, res.body)
      assert.match(res.body.trim(), failure.message)
      assert.doesNotMatch(res.body, new RegExp(root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no path in the answer')
      // Logged once, by the error handler, with the code and the system error as its cause.
      const logged = logs.filter((line) => Number(line.level) >= 50)
      assert.deepEqual(
        logged.map((line) => [line.msg, (line.err as { code?: string } | undefined)?.code]),
        [['Request failed', failure.logged]],
      )
      assert.match(
        String((logged[0]?.err as { message?: string } | undefined)?.message),
        new RegExp(`: ${failure.code}: injected$`),
      )
      assert.deepEqual(await snapshot(root), before, 'no partial or temporary file')
      assert.equal((await app.inject('/other/')).statusCode, 200)
      assert.equal((await app.inject('/other/other-1.0.tar.gz')).body, 'other')
    })
  }
})
