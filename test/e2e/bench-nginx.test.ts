// The benchmark's reference server (scripts/bench/nginx.ts) with the real nginx: it serves a
// generated tree at eggserve's URL shapes, and stopping it leaves no nginx process behind; and
// the shipped offload config it runs in front of eggserve for the offload row.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { delimiter, dirname, join } from 'node:path'
import { test } from 'node:test'
import { runCleanup } from '../../scripts/bench/cleanup.js'
import { makeTree } from '../../scripts/bench/make-tree.js'
import { startNginx, startOffloadNginx } from '../../scripts/bench/nginx.js'
import { httpGet, pollUntil, repoRoot, startServer } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { findExecutable, needTool } from '../helpers/tools.js'

await test("nginx.ts serves a generated tree like eggserve's URLs, and stops cleanly", async (t) => {
  // Debian installs nginx in /usr/sbin, which is not on every user's PATH.
  const nginx = needTool(t, 'nginx', findExecutable('nginx') ?? findExecutable('/usr/sbin/nginx'))
  if (nginx === undefined) return
  const env = { ...process.env, PATH: `${dirname(nginx)}${delimiter}${process.env.PATH ?? ''}` }
  const root = await tempDir(t, 'eggserve-bench-nginx-')
  const tree = join(root, 'tree')
  await makeTree(tree, { projects: 2, files: 2, size: 100, bigMb: 1, sdists: false, seed: 1 })
  const server = await startNginx(tree, join(root, 'state'), env)
  t.after(runCleanup)
  const pid = Number((await readFile(join(root, 'state', 'nginx.pid'), 'utf8')).trim())
  assert.ok(pid > 0)

  assert.equal((await httpGet(`${server.url}/health`)).status, 200)
  for (const path of ['proj-00001/proj_00001-1.0.1-py3-none-any.whl', 'big/big-1.0-py3-none-any.whl']) {
    const onDisk = await readFile(join(tree, path))
    for (const url of [`${server.url}/packages/${path}`, `${server.url}/${path}`]) {
      const response = await httpGet(url)
      assert.equal(response.status, 200, url)
      assert.equal(response.headers['content-type'], 'application/zip', url)
      assert.ok(response.body.equals(onDisk), url)
    }
  }
  const ranged = await httpGet(`${server.url}/packages/big/big-1.0-py3-none-any.whl`, {
    headers: { range: 'bytes=10-19' },
  })
  assert.equal(ranged.status, 206)
  assert.ok(ranged.body.equals((await readFile(join(tree, 'big/big-1.0-py3-none-any.whl'))).subarray(10, 20)))
  const index = (await httpGet(`${server.url}/simple/`)).body.toString('utf8')
  for (const folder of ['proj-00000/', 'proj-00001/', 'big/']) assert.ok(index.includes(`href="${folder}"`), index)
  await writeFile(join(server.staticDir, 'page.html'), 'the same bytes\n')
  assert.equal((await httpGet(`${server.url}/static/page.html`)).body.toString('utf8'), 'the same bytes\n')

  await server.stop()
  const gone = await pollUntil(async () => (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')) === '', 10_000)
  assert.ok(gone !== undefined, `nginx master ${pid} still runs after stop()`)
  await assert.rejects(httpGet(`${server.url}/health`), /ECONNREFUSED/)
})

await test('nginx.ts runs the shipped offload config in front of eggserve --x-accel-redirect: the large file, byte for byte', async (t) => {
  const nginx = needTool(t, 'nginx', findExecutable('nginx') ?? findExecutable('/usr/sbin/nginx'))
  if (nginx === undefined) return
  const env = { ...process.env, PATH: `${dirname(nginx)}${delimiter}${process.env.PATH ?? ''}` }
  const root = await tempDir(t, 'eggserve-bench-offload-')
  const tree = join(root, 'tree')
  await makeTree(tree, { projects: 1, files: 1, size: 100, bigMb: 1, sdists: false, seed: 1 })
  const egg = await startServer(t, { eggdir: tree, args: ['--x-accel-redirect', '/_eggfiles', '--cache-dir', 'none'] })
  const front = await startOffloadNginx({
    shippedConfig: join(repoRoot, 'contrib', 'nginx', 'eggserve.conf'),
    dir: tree,
    stateDir: join(root, 'state'),
    eggservePort: egg.port,
    env,
  })
  t.after(runCleanup)
  const path = '/packages/big/big-1.0-py3-none-any.whl'
  const response = await httpGet(`${front.url}${path}`)
  assert.equal(response.status, 200)
  assert.ok(response.body.equals(await readFile(join(tree, 'big/big-1.0-py3-none-any.whl'))))
  // eggserve sent no bytes of it: nginx did.
  const decided = await httpGet(`${egg.url}${path}`)
  assert.equal(decided.headers['x-accel-redirect'], `/_eggfiles${path.slice('/packages'.length)}`)
  assert.equal(decided.body.length, 0)
  await front.stop()
})
