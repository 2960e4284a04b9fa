// "Not there" is not the same as "cannot look": ENOENT and ENOTDIR (and, for links, ELOOP)
// mean absent; any other error (EACCES, EIO) is an error, never silently "absent". Permission
// errors are real, for a user without privileges (storage-probe.ts). An fsync(2) that fails
// with EIO cannot be made on demand here (that takes a failing device, e.g. device-mapper's
// "error" target, which this machine lacks), so that one is injected at a FileHandle's sync().
import assert from 'node:assert/strict'
import { chmod, open, readdir, symlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { FactsLog } from '../../src/file-facts/facts-log.js'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { memoryLogger } from '../helpers/build-app.js'
import { probeStorage } from '../helpers/storage-probe.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })

const injected = (code: string, syscall: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: injected, ${syscall}`), { code, syscall })

/**
 * Run `probe` while `folder` is closed (mode 000) to a user without privileges. Opened again
 * afterwards, in the test itself: removing the tree (an after hook) needs to read it.
 */
async function whileClosed<T>(folder: string, probe: () => Promise<T>): Promise<T> {
  await chmod(folder, 0o000)
  try {
    return await probe()
  } finally {
    await chmod(folder, 0o755)
  }
}

await test("a symlink that cannot be resolved (EACCES) fails the folder's listing, naming the link; a dangling one is skipped", async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'demo/demo-1.1.tar.gz': 'fine', '.vault/demo-1.0.tar.gz': 'locked away' })
  await symlink('../.vault/demo-1.0.tar.gz', join(root, 'demo', 'demo-1.0.tar.gz'))
  await symlink('../nowhere/demo-0.9.tar.gz', join(root, 'demo', 'demo-0.9.tar.gz'))
  // Readable and searchable: the link inside the tree is followed, the dangling one skipped.
  const storage = await LocalStorage.create(root, silent)
  assert.deepEqual((await storage.listFolder('demo'))?.files.map((file) => file.key).sort(), [
    'demo/demo-1.0.tar.gz',
    'demo/demo-1.1.tar.gz',
  ])

  await chmod(root, 0o755)
  const report = await whileClosed(join(root, '.vault'), () =>
    probeStorage(t, root, { op: 'list-folder', folder: 'demo' }),
  )
  if (report === undefined) return
  assert.deepEqual(report.error, {
    name: 'StorageError',
    code: 'EGGSERVE_STORAGE',
    message: 'Cannot resolve "demo/demo-1.0.tar.gz": permission denied',
  })
  assert.deepEqual(report.logs, [], 'the storage throws; it does not log')
})

await test('sweeping temporary upload files: a folder that cannot be read is a warning, the others are swept', async (t) => {
  const stale = '.upload-0123456789abcdef.tmp'
  const root = await tempDir(t)
  await writeTree(root, {
    [`open/${stale}`]: 'left by a crash',
    'open/open-1.0.tar.gz': 'kept',
    [`closed/${stale}`]: 'unreachable',
  })
  await chmod(root, 0o755)
  await chmod(join(root, 'open'), 0o777)
  const report = await whileClosed(join(root, 'closed'), () => probeStorage(t, root, { op: 'sweep-uploads' }))
  if (report === undefined) return
  assert.equal(report.value, 1)
  assert.deepEqual(await readdir(join(root, 'open')), ['open-1.0.tar.gz'])
  assert.deepEqual(
    report.logs.map((record) => [record.level, record.msg, record.folder, (record.err as { code?: string }).code]),
    [[40, 'Cannot look for temporary upload files in a folder', 'closed', 'EACCES']],
  )
})

await test('starting an upload: a project folder that cannot be looked at (EACCES) fails the upload; it is not "no folder"', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { '.vault/demo/demo-1.0.tar.gz': 'locked away' })
  // The project folder is a link into a folder nobody may search: stat() of it fails with EACCES.
  await symlink('.vault/demo', join(root, 'demo'))
  // Writable at the top, where an upload to a missing folder starts: taking EACCES for
  // "no folder" would start one there.
  await chmod(root, 0o777)
  const report = await whileClosed(join(root, '.vault'), () =>
    probeStorage(t, root, { op: 'start-upload', folder: 'demo' }),
  )
  if (report === undefined) return
  assert.deepEqual(report.error, {
    name: 'WriteFailure',
    code: 'EGGSERVE_WRITE_DENIED',
    message: 'Cannot store the upload: the server may not write to the package folder',
  })
  assert.deepEqual((await readdir(root)).sort(), ['.vault', 'demo'], 'no temporary file at the top')
})

await test('a folder that cannot be looked at (EACCES) is reported as a watch failure; a dangling link is not', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'open/open-1.0.tar.gz': 'fine', '.vault/demo/demo-1.0.tar.gz': 'locked away' })
  await symlink('.vault/demo', join(root, 'demo'))
  await symlink('nowhere', join(root, 'gone'))
  await chmod(root, 0o755)
  const report = await whileClosed(join(root, '.vault'), () => probeStorage(t, root, { op: 'watch' }))
  if (report === undefined) return
  assert.deepEqual(report.value, ['EACCES'])
})

/** Make a FileHandle's sync() fail with `code` for directories (the cache's fsync of its folder). */
async function failDirectorySync(t: TestContext, dir: string, code: string): Promise<void> {
  const handle = await open(dir, 'r')
  const proto = Object.getPrototypeOf(handle) as FileHandle
  await handle.close()
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the handle as `this`
  const real = proto.sync
  t.mock.method(proto, 'sync', async function (this: FileHandle): Promise<void> {
    if ((await this.stat()).isDirectory()) throw injected(code, 'fsync')
    return real.call(this)
  })
}

await test('the cache\'s fsync of its folder: "not supported" is fine, an I/O error fails the compaction (logged)', async (t) => {
  for (const [code, compacted] of [
    ['EINVAL', true],
    ['EIO', false],
  ] as const) {
    await t.test(code, async (t) => {
      const dir = await tempDir(t)
      await failDirectorySync(t, dir, code)
      const logs: Record<string, unknown>[] = []
      // A new log is compacted (written whole) as it opens.
      const facts = await FactsLog.open({ dir, namespace: '/srv/eggs', algorithms: ['md5'], log: memoryLogger(logs) })
      t.after(() => facts.close())
      assert.equal(facts.stats.compactions, compacted ? 1 : 0)
      const warnings = logs
        .filter((record) => record.level === 40)
        .map((record) => [record.msg, (record.err as { code?: string }).code])
      assert.deepEqual(warnings, compacted ? [] : [['Cannot compact the cache file; it keeps working as it is', 'EIO']])
    })
  }
})
