// skipOrFail: a test whose prerequisite is missing is skipped on a developer's machine and
// fails under CI=true (or EGGSERVE_REQUIRE_TOOLS=1), run as a real node:test child.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { childEnv, runProcess } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const TOOLS = pathToFileURL(join(import.meta.dirname, '../helpers/tools.ts')).href

await test('skipOrFail skips outside CI and fails with CI=true or EGGSERVE_REQUIRE_TOOLS=1', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'needs.test.mts')
  await writeFile(
    file,
    `import { test } from 'node:test'
import { skipOrFail } from ${JSON.stringify(TOOLS)}
await test('needs a thing', (t) => { skipOrFail(t, 'the thing is missing') })
`,
  )
  const run = (env: Record<string, string>): ReturnType<typeof runProcess> => {
    const base = childEnv(env)
    delete base.CI
    delete base.EGGSERVE_REQUIRE_TOOLS
    // Set for a test file run by node --test: the child would report to us, not print TAP.
    delete base.NODE_TEST_CONTEXT
    return runProcess(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], {
      env: { ...base, ...env },
      timeoutMs: 60_000,
    })
  }
  const skipped = await run({})
  assert.equal(skipped.code, 0, skipped.stdout + skipped.stderr)
  assert.match(skipped.stdout, /# SKIP the thing is missing/)
  assert.match(skipped.stdout, /# skipped 1/)
  for (const env of [{ CI: 'true' }, { EGGSERVE_REQUIRE_TOOLS: '1' }]) {
    const failed = await run(env)
    assert.equal(failed.code, 1, JSON.stringify(env) + failed.stdout)
    assert.match(failed.stdout, /the thing is missing, and CI=true requires it/)
    assert.match(failed.stdout, /# fail 1/)
  }
})
