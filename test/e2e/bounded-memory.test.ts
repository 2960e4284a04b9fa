// No cache grows with what a client chooses: 50,000 requests for /pypi/<p>/json, each with a
// different Host, against a real listening server whose page cache has a 64 KiB budget. The heap
// is measured after a forced GC in a child process (test/helpers/heap-probe.ts).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { repoRoot } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const run = promisify(execFile)
const probe = fileURLToPath(new URL('../helpers/heap-probe.ts', import.meta.url))
const REQUESTS = 50_000
const PAGE_BUDGET = 64 * 1024
// The negotiation memos (64 KiB each) and what a heap measurement moves by on its own.
const SLACK = 2 * 64 * 1024 + 4 * 1024 * 1024

await test(`${String(REQUESTS)} distinct Host values keep the heap within the page budget`, async (t) => {
  const eggdir = await tempDir(t)
  await writeDist(join(eggdir, 'demo'), buildWheel({ name: 'demo', version: '1.0', summary: 'Bounded' }))
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', probe, eggdir, 'demo', String(REQUESTS), String(PAGE_BUDGET)],
    { cwd: repoRoot, maxBuffer: 1024 * 1024 },
  )
  const result = JSON.parse(stdout) as { before: number; after: number; statuses: Record<string, number> }
  assert.deepEqual(result.statuses, { 200: REQUESTS })
  const growth = result.after - result.before
  t.diagnostic(`heap ${String(result.before)} -> ${String(result.after)} bytes (growth ${String(growth)})`)
  // Before the fix every Host left its own cache section behind: about 24 MB here.
  assert.ok(
    growth <= PAGE_BUDGET + SLACK,
    `the heap grew by ${String(growth)} bytes, more than the ${String(PAGE_BUDGET + SLACK)} the budgets allow`,
  )
})
