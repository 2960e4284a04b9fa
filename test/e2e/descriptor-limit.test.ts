// A cold folder of many files is hashed with bounded concurrency: the listing succeeds even
// when the process may hold only a few dozen descriptors.
import assert from 'node:assert/strict'
import { mkdir, readdir, readlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { httpGet, openRequest, pollUntil, runProcess, startServer } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'

const FILES = 1500

await test('a cold listing of 1500 files works under a 64-descriptor limit', async (t) => {
  const prlimit = needTool(t, 'prlimit')
  if (prlimit === undefined) return
  const eggdir = await tempDir(t)
  await mkdir(join(eggdir, 'many'))
  for (let i = 0; i < FILES; i++) await writeFile(join(eggdir, 'many', `many-1.${i}.tar.gz`), `file ${i}`)
  const server = await startServer(t, { eggdir })
  const pid = server.process.pid
  assert.ok(pid !== undefined)
  const open = (await readdir(`/proc/${pid}/fd`)).length
  t.diagnostic(`descriptors open before the limit: ${open}`)
  // Lower the running server's limit: hashing 1500 files at once would need 1500 more.
  const limited = await runProcess(prlimit, ['--pid', String(pid), '--nofile=64:64'])
  assert.equal(limited.code, 0, limited.stderr)
  const page = await httpGet(`${server.url}/simple/many/`)
  assert.equal(page.status, 200, page.body.toString())
  assert.equal(page.body.toString().match(/#sha256=[0-9a-f]{64}"/g)?.length, FILES)
  assert.equal(await server.stop(), 0, server.stderr)
})

await test('no descriptor leaks: downloads complete, abandoned, HEAD, 304 and 416 all release their file', async (t) => {
  const eggdir = await tempDir(t)
  await mkdir(join(eggdir, 'leak'))
  await writeFile(join(eggdir, 'leak', 'leak-1.0.tar.gz'), Buffer.alloc(8 * 1024 * 1024, 1))
  // No persistent cache: its file is opened by the first append after the background hashing,
  // which under load can come after the baseline below and look like a leak.
  const server = await startServer(t, { eggdir, args: ['--cache-dir', 'none'] })
  const pid = server.process.pid
  assert.ok(pid !== undefined)
  const url = `${server.url}/leak/leak-1.0.tar.gz`
  await httpGet(url)
  const baseline = (await readdir(`/proc/${pid}/fd`)).length
  const etag = String((await httpGet(url, { method: 'HEAD' })).headers.etag)
  for (let i = 0; i < 20; i++) {
    await httpGet(url)
    await httpGet(url, { method: 'HEAD' })
    await httpGet(url, { headers: { 'if-none-match': etag } })
    await httpGet(url, { headers: { range: 'bytes=99999999-' } })
    await httpGet(url, { headers: { range: 'bytes=0-9' } })
    const abandoned = await openRequest(url)
    abandoned.destroy()
  }
  // Let the abandoned responses notice their sockets are gone.
  const settled = await pollUntil(async () => (await readdir(`/proc/${pid}/fd`)).length <= baseline, 3000)
  if (settled === undefined) {
    const fds = await readdir(`/proc/${pid}/fd`)
    // Show what is still open, to find the leak.
    for (const fd of fds) t.diagnostic(`${fd} -> ${await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '?')}`)
  }
  assert.ok(
    settled !== undefined,
    `descriptors: ${baseline} before, ${(await readdir(`/proc/${pid}/fd`)).length} after`,
  )
  assert.equal(await server.stop(), 0, server.stderr)
})
