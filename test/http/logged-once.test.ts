// Each failure is logged once: the storage throws without logging, and whoever handles the
// failure writes the one record, with the code and the system error as its cause: the error
// handler for a request ("Request failed"), the warm-up for a file it cannot read (in this
// thread or in a worker thread). The failures are real: open(2) of a UNIX socket fails with
// ENXIO, and a file standing where a project folder must be created makes mkdir(2) fail with EEXIST.
import assert from 'node:assert/strict'
import { unlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { Warmup } from '../../src/live-index/warmup.js'
import { createIndexServices } from '../../src/services.js'
import { buildTestApp, memoryLogger } from '../helpers/build-app.js'
import { buildWheel } from '../helpers/distributions.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { snapshot, upload } from '../helpers/upload-form.js'

type LogRecord = Record<string, unknown>

const errors = (logs: readonly LogRecord[]): LogRecord[] => logs.filter((record) => Number(record.level) >= 50)

/** A listening UNIX socket at `path`, closed after the test. */
async function socketAt(t: TestContext, path: string): Promise<void> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, resolve)
  })
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      }),
  )
}

await test('a download that fails on a real I/O error: 500, one error record naming the code and the cause', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'demo/demo-1.0.tar.gz': 'demo' })
  // The signature of a known file is opened by name: here it is a socket, which open(2) refuses (ENXIO).
  await socketAt(t, join(root, 'demo', 'demo-1.0.tar.gz.asc'))
  const { app, logs } = await buildTestApp(t, { root })
  const res = await app.inject('/packages/demo/demo-1.0.tar.gz.asc')
  assert.equal(res.statusCode, 500)
  assert.equal(res.body, 'Internal Server Error\n')
  const logged = errors(logs)
  assert.equal(logged.length, 1, JSON.stringify(logged))
  assert.equal(logged[0]?.msg, 'Request failed')
  const err = logged[0].err as { code?: string; message?: string } | undefined
  assert.equal(err?.code, 'EGGSERVE_STORAGE')
  assert.match(err.message ?? '', /^Cannot open "demo\/demo-1\.0\.tar\.gz\.asc": no such device or address: ENXIO/)
})

await test('an upload whose publishing fails for real: 500, nothing left behind, one error record', async (t) => {
  const root = await tempDir(t)
  // A plain file (never listed) where the new project's folder must be made.
  await writeTree(root, { 'other/other-1.0.tar.gz': 'other' })
  await writeFile(join(root, 'fresh'), 'in the way\n')
  const { app, logs } = await buildTestApp(t, { root, uploads: {} })
  const before = await snapshot(root)
  const res = await upload(app, buildWheel({ name: 'fresh', version: '1.0' }), { name: 'fresh', version: '1.0' })
  assert.equal(res.statusCode, 500, res.body)
  assert.equal(res.body, 'Internal Server Error\n')
  assert.deepEqual(await snapshot(root), before, 'no partial or temporary file')
  const logged = errors(logs)
  assert.equal(logged.length, 1, JSON.stringify(logged))
  const err = logged[0]?.err as { code?: string; message?: string } | undefined
  assert.equal(err?.code, 'EGGSERVE_STORAGE')
  assert.match(err.message ?? '', /^Cannot publish an upload: file already exists: EEXIST/)
})

for (const workers of [0, 1]) {
  await test(`a file the warm-up cannot read (${workers === 0 ? 'in this thread' : 'in a worker thread'}): one error record with its cause`, async (t) => {
    const root = await tempDir(t)
    await writeTree(root, { 'demo/demo-1.0.tar.gz': 'demo', 'demo/demo-1.1.tar.gz': 'demo 1.1' })
    const logs: LogRecord[] = []
    const log = memoryLogger(logs)
    const services = await createIndexServices({ eggdir: root, hashAlgorithm: 'md5', logger: log, workers })
    t.after(() => services.close())
    await services.index.load()
    // Listed as a file, then replaced by a socket before anything reads it.
    await unlink(join(root, 'demo', 'demo-1.0.tar.gz'))
    await socketAt(t, join(root, 'demo', 'demo-1.0.tar.gz'))
    const done = await new Warmup({ index: services.index, analyzer: services.analyzer, log }).run()
    assert.equal(done.filesDone, 2)
    const logged = errors(logs)
    assert.deepEqual(
      logged.map((record) => [record.msg, record.key]),
      [['Warm-up cannot read a file', 'demo/demo-1.0.tar.gz']],
      JSON.stringify(logged),
    )
    const err = logged[0]?.err as { code?: string; message?: string } | undefined
    assert.equal(err?.code, 'EGGSERVE_STORAGE')
    assert.match(err.message ?? '', /^Cannot open "demo\/demo-1\.0\.tar\.gz": no such device or address: ENXIO/)
  })
}
