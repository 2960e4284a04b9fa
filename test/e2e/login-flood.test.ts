// A flood of bad logins against the real daemon must not starve downloads: bcrypt runs one
// check at a time on a worker thread, at most 32 wait, and the rest are refused at once.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import bcrypt from 'bcryptjs'
import { httpGet, startServer } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { basic } from '../helpers/users.js'

const FLOOD = 200

async function downloadTimes (url: string, count: number): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    const res = await httpGet(url)
    assert.equal(res.status, 200)
    times.push(performance.now() - started)
  }
  return times.sort((a, b) => a - b)
}

await test(`${FLOOD} concurrent bad logins (bcrypt cost 12) do not starve downloads`, async (t) => {
  const root = await tempDir(t, 'eggserve-flood-')
  await writeTree(root, { 'eggs/foo/foo-1.0.tar.gz': Buffer.alloc(1024 * 1024, 1) })
  // Cost 12: about 0.3 s of CPU per check with bcryptjs, which would stall a server doing it on its main thread.
  const passwords = join(root, 'htpasswd')
  await writeFile(passwords, `alice:${bcrypt.hashSync('wonderland', 12).replace(/^\$2b\$/, '$2y$')}\n`)
  const server = await startServer(t, { eggdir: join(root, 'eggs'), args: ['--passwords', passwords, '--auth-failure-limit', '0'] })
  const file = `${server.url}/foo/foo-1.0.tar.gz`
  const quiet = await downloadTimes(file, 20)
  const started = performance.now()
  const flood = Promise.all(Array.from({ length: FLOOD }, async (_, i) => {
    const res = await fetch(`${server.url}/legacy/`, {
      method: 'POST', body: ':action=submit', headers: { authorization: basic({ user: 'alice', password: `guess ${i}` }), 'content-type': 'application/x-www-form-urlencoded' },
    })
    await res.arrayBuffer()
    return res.status
  }))
  const busy = await downloadTimes(file, 20)
  const statuses = await flood
  const floodSeconds = (performance.now() - started) / 1000
  const count = (status: number): number => statuses.filter((value) => value === status).length
  t.diagnostic(`flood: ${count(401)} x 401 (checked), ${count(503)} x 503 (refused at once) in ${floodSeconds.toFixed(1)} s`)
  t.diagnostic(`1 MB download, median/max: quiet ${quiet[10]?.toFixed(1)}/${quiet[19]?.toFixed(1)} ms, during the flood ${busy[10]?.toFixed(1)}/${busy[19]?.toFixed(1)} ms`)
  assert.equal(count(401) + count(503), FLOOD)
  assert.ok(count(401) <= 40, `at most the queue is checked: ${count(401)}`)
  assert.ok(count(503) >= FLOOD - 40)
  assert.ok((busy[19] ?? Infinity) < 1000, `a download waited ${busy[19]?.toFixed(0)} ms during the flood`)
})
