// The daemon keeps who uploaded what in its cache directory: after a restart on the same cache,
// the browse UI still names the uploader; with --cache-dir none it knows only until it stops.
import assert from 'node:assert/strict'
import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildWheel } from '../helpers/distributions.js'
import { startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { multipart, uploadParts } from '../helpers/upload-form.js'
import { ALICE, basic, writePasswords } from '../helpers/users.js'

const DIST = buildWheel({ name: 'kept-uploader', version: '1.0' })

async function uploadAsAlice(server: ServerHandle): Promise<void> {
  const form = multipart(await uploadParts(DIST, { name: 'kept-uploader', version: '1.0' }))
  const response = await fetch(`${server.url}/legacy/`, {
    method: 'POST',
    body: form.body,
    headers: { 'content-type': form.contentType, authorization: basic(ALICE) },
  })
  assert.equal(response.status, 200, await response.text())
}

async function uploaderShown(server: ServerHandle): Promise<boolean> {
  const page = await (await fetch(`${server.url}/-/project/kept-uploader/`)).text()
  assert.match(page, /kept_uploader-1\.0-py3-none-any\.whl/)
  return page.includes(' by alice</dd>')
}

async function setUp(t: TestContext): Promise<{ eggdir: string; passwords: string; cache: string }> {
  const root = await tempDir(t, 'eggserve-uploader-')
  await mkdir(join(root, 'eggs'))
  return { eggdir: join(root, 'eggs'), passwords: await writePasswords(root, [ALICE]), cache: join(root, 'cache') }
}

await test('the uploader survives a restart on the same cache directory, and nothing is written into the eggdir', async (t) => {
  const { eggdir, passwords, cache } = await setUp(t)
  const args = ['--passwords', passwords, '--cache-dir', cache]
  const first = await startServer(t, { eggdir, args })
  await uploadAsAlice(first)
  assert.equal(await uploaderShown(first), true)
  assert.equal(await first.stop(), 0)
  assert.ok((await readdir(cache)).some((name) => /^uploaders-[0-9a-f]{16}\.log$/.test(name)))
  assert.deepEqual(await readdir(join(eggdir, 'kept-uploader')), [DIST.filename])
  const second = await startServer(t, { eggdir, args })
  assert.equal(await uploaderShown(second), true)
})

await test('with --cache-dir none the uploader is known until the server stops', async (t) => {
  const { eggdir, passwords } = await setUp(t)
  const args = ['--passwords', passwords, '--cache-dir', 'none']
  const first = await startServer(t, { eggdir, args })
  await uploadAsAlice(first)
  assert.equal(await uploaderShown(first), true)
  assert.equal(await first.stop(), 0)
  const second = await startServer(t, { eggdir, args })
  assert.equal(await uploaderShown(second), false)
})
