// npm run bench:s3-facts: the script fills the real S3StoredFacts with the facts records it says
// it did, and reports the heap they add. No size is asserted: heaps differ between Node versions.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { repoRoot } from '../helpers/spawn-server.js'

await test('bench:s3-facts reports the heap of every record it seeded', async () => {
  const script = join(repoRoot, 'scripts', 'bench', 's3-facts-memory.ts')
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', script, '2000'], {
    cwd: repoRoot,
  })
  const match =
    /^S3StoredFacts: (\d+) files, heap [\d.]+ MB before, [\d.]+ MB after: -?[\d.]+ MB \((-?\d+) bytes a file\)$/m.exec(
      stdout,
    )
  assert.ok(match, stdout)
  assert.equal(match[1], '2000', 'every record is known afterwards')
})
