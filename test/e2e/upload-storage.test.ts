// Real write failures under the real daemon: a full disk (a 1 MiB tmpfs), a read-only
// filesystem (a read-only bind mount) and a folder the server may not write (run as nobody).
// The mounts are made in a private user and mount namespace (unshare), so nothing on the
// host changes; where the kernel does not allow that, the test says so and skips: the same
// failures are injected at the storage seam in test/http/upload-races.test.ts.
import assert from 'node:assert/strict'
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildWheel } from '../helpers/distributions.js'
import { httpGet, runProcess, startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'
import { clientDigests, multipart, type FormPart } from '../helpers/upload-form.js'

const SMALL = buildWheel({ name: 'small', version: '1.0' })

/** A whole upload form for `filename` with `data`. */
async function form(
  filename: string,
  data: Buffer,
  name: string,
  version: string,
): Promise<{ body: Buffer; contentType: string }> {
  const { sha256 } = await clientDigests(data)
  const fields: FormPart[] = Object.entries({
    ':action': 'file_upload',
    protocol_version: '1',
    name,
    version,
    sha256_digest: sha256,
  }).map(([field, value]) => ({ name: field, value }))
  return multipart([...fields, { name: 'content', filename, data, contentType: 'application/octet-stream' }])
}

async function post(
  server: ServerHandle,
  body: { body: Buffer; contentType: string },
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.url}/legacy/`, {
    method: 'POST',
    body: body.body,
    headers: { 'content-type': body.contentType },
  })
  return { status: res.status, text: await res.text() }
}

/**
 * Whether this machine lets an unprivileged user and mount namespace mount things (a kernel
 * setting, not a missing tool: when it says no, the test is skipped, even in CI).
 */
async function namespacesWork(t: TestContext, unshare: string): Promise<boolean> {
  const probe = await runProcess(unshare, [
    '--user',
    '--map-root-user',
    '--mount',
    'sh',
    '-c',
    'mount -t tmpfs -o size=1m tmpfs /mnt',
  ])
  if (probe.code === 0) return true
  const message = `user and mount namespaces are not allowed here (${probe.stderr.trim()}); the storage-seam tests cover these failures`
  t.diagnostic(`SKIP: ${message}`)
  t.skip(message)
  return false
}

/** The daemon's view of `path` (inside its mount namespace). */
function inside(server: ServerHandle, path: string): string {
  return `/proc/${server.process.pid ?? 0}/root${path}`
}

async function assertStillServing(server: ServerHandle): Promise<void> {
  assert.equal((await httpGet(`${server.url}/other/other-1.0.tar.gz`)).body.toString(), 'other\n')
  assert.equal((await httpGet(`${server.url}/simple/other/`)).status, 200)
}

await test('a full disk: 507, no partial or temporary file, the space is freed, the server keeps serving', async (t) => {
  const unshare = needTool(t, 'unshare')
  if (unshare === undefined || !(await namespacesWork(t, unshare))) return
  const eggdir = await tempDir(t, 'eggserve-full-')
  // In the daemon's own namespace: a 1 MiB tmpfs over the eggdir, with one project in it.
  const setup =
    'mount -t tmpfs -o size=1m tmpfs "$0" && mkdir "$0/other" && echo other > "$0/other/other-1.0.tar.gz" && exec "$@"'
  const server = await startServer(t, {
    eggdir,
    args: ['--authenticate', '.'],
    wrapper: [unshare, '--user', '--map-root-user', '--mount', 'sh', '-c', setup, eggdir],
  })
  const big = await form('big-1.0.tar', Buffer.alloc(2 * 1024 * 1024, 7), 'big', '1.0')
  const res = await post(server, big)
  assert.equal(res.status, 507, res.text)
  assert.equal(res.text, 'Insufficient Storage: the disk holding the package folder is full\n')
  assert.deepEqual((await readdir(inside(server, eggdir), { recursive: true })).sort(), [
    'other',
    'other/other-1.0.tar.gz',
  ])
  await assertStillServing(server)
  // The partial temporary file was removed, so its space is free again.
  const small = await post(server, await form(SMALL.filename, SMALL.bytes, 'small', '1.0'))
  assert.equal(small.status, 200, small.text)
  assert.equal((await httpGet(`${server.url}/small/${SMALL.filename}`)).status, 200)
})

await test('a read-only filesystem: 500 saying so, nothing written, the server keeps serving', async (t) => {
  const unshare = needTool(t, 'unshare')
  if (unshare === undefined || !(await namespacesWork(t, unshare))) return
  const eggdir = await tempDir(t, 'eggserve-ro-')
  await mkdir(join(eggdir, 'other'))
  await writeFile(join(eggdir, 'other', 'other-1.0.tar.gz'), 'other\n')
  const setup = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
  const server = await startServer(t, {
    eggdir,
    args: ['--authenticate', '.'],
    wrapper: [unshare, '--user', '--map-root-user', '--mount', 'sh', '-c', setup, eggdir],
  })
  for (const [filename, name] of [
    [SMALL.filename, 'small'],
    ['other-2.0.tar.gz', 'other'],
  ] as const) {
    const res = await post(server, await form(filename, SMALL.bytes, name, name === 'small' ? '1.0' : '2.0'))
    assert.equal(res.status, 500, res.text)
    assert.equal(res.text, 'Cannot store the upload: the package folder is on a read-only filesystem\n')
  }
  assert.deepEqual((await readdir(eggdir, { recursive: true })).sort(), ['other', 'other/other-1.0.tar.gz'])
  await assertStillServing(server)
})

await test('a folder the server may not write: 500 saying so, nothing written, the server keeps serving', async (t) => {
  const eggdir = await tempDir(t, 'eggserve-denied-')
  await mkdir(join(eggdir, 'other'))
  await writeFile(join(eggdir, 'other', 'other-1.0.tar.gz'), 'other\n')
  let wrapper: string[] | undefined
  if (process.getuid?.() === 0) {
    // root writes anywhere: the daemon runs as nobody, who may read the tree but not write it.
    const setpriv = needTool(t, 'setpriv')
    if (setpriv === undefined) return
    await chmod(eggdir, 0o755)
    wrapper = [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups']
  } else {
    await chmod(join(eggdir, 'other'), 0o555)
    await chmod(eggdir, 0o555)
    t.after(async () => {
      await chmod(eggdir, 0o755)
      await chmod(join(eggdir, 'other'), 0o755)
    })
  }
  const server = await startServer(t, {
    eggdir,
    args: ['--authenticate', '.'],
    ...(wrapper === undefined ? {} : { wrapper }),
  })
  const res = await post(server, await form(SMALL.filename, SMALL.bytes, 'small', '1.0'))
  assert.equal(res.status, 500, res.text)
  assert.equal(res.text, 'Cannot store the upload: the server may not write to the package folder\n')
  assert.deepEqual((await readdir(eggdir, { recursive: true })).sort(), ['other', 'other/other-1.0.tar.gz'])
  await assertStillServing(server)
  const logged = await server.waitForLine((line) => line.msg === 'Request failed')
  assert.equal((logged.err as { code?: string } | undefined)?.code, 'EGGSERVE_WRITE_DENIED')
})
