// `npm run bench -- --node PATH` (scripts/bench/node-versions-run.ts, servers.ts): a node binary
// given by path is checked by running it, and eggserve really runs on it, not on the Node that
// runs the bench. The binary here is a wrapper that records each start, then execs this Node.
import assert from 'node:assert/strict'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { runCleanup } from '../../scripts/bench/cleanup.js'
import { resolveNode } from '../../scripts/bench/node-versions-run.js'
import { startEggserve } from '../../scripts/bench/servers.js'
import { httpGet, repoRoot } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

/** A `node` that appends its arguments to `marker`, then runs `process.execPath` with them. */
async function wrapperNode(dir: string, marker: string): Promise<string> {
  const path = join(dir, 'node')
  await writeFile(path, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${marker}'\nexec '${process.execPath}' "$@"\n`)
  await chmod(path, 0o755)
  return path
}

await test('bench --node PATH: the binary is checked, and eggserve runs on it', async (t) => {
  const root = await tempDir(t, 'eggserve-bench-node-')
  const marker = join(root, 'started')
  const node = await wrapperNode(root, marker)
  t.after(runCleanup)

  await t.test('a path that runs as Node is taken, with its own version', async () => {
    assert.deepEqual(await resolveNode(node, () => undefined), { path: node, version: process.version, source: node })
  })

  await t.test('a path that is not a runnable Node is refused with the reason', async () => {
    await assert.rejects(
      resolveNode(join(root, 'absent'), () => undefined),
      /^Error: --node .*absent: cannot run it \(/,
    )
    const notNode = join(root, 'not-node')
    await writeFile(notNode, '#!/bin/sh\necho 1.2.3\n')
    await chmod(notNode, 0o755)
    await assert.rejects(
      resolveNode(notNode, () => undefined),
      /^Error: --node .*not-node: "1\.2\.3" is not a Node version$/,
    )
  })

  await t.test('eggserve is started with that binary', async () => {
    await writeFile(marker, '')
    const eggdir = join(root, 'packages')
    await mkdir(join(eggdir, 'demo'), { recursive: true })
    await writeFile(join(eggdir, 'demo', 'demo-1.0-py3-none-any.whl'), 'not a real wheel')
    const server = await startEggserve({
      root: repoRoot,
      eggdir,
      cacheDir: undefined,
      logLevel: 'info',
      env: process.env,
      label: 'bench --node test',
      listenTimeoutMs: 300_000,
      node,
    })
    try {
      const page = await httpGet(`${server.url}/simple/demo/`)
      assert.equal(page.status, 200)
      assert.match(page.body.toString('utf8'), /demo-1\.0-py3-none-any\.whl/)
    } finally {
      await server.stop()
    }
    const started = (await readFile(marker, 'utf8')).trim().split('\n')
    assert.equal(started.length, 1, `one start through the wrapper: ${started.join(' | ')}`)
    assert.ok(started[0]?.includes(join(repoRoot, 'bin', 'eggserve.js')), started[0])
  })
})
