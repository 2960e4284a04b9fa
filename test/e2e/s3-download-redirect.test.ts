// The real daemon on a moto bucket with --download-redirect: real pip installs with
// --require-hashes, following eggserve's 302 to a presigned URL of the store, or to a base URL
// (moto's path-style URL of the prefix, standing in for a public bucket or a CDN). The access log
// shows the 302s, so the bytes came from the store, not through eggserve.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { PutObjectAclCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { buildWheel } from '../helpers/distributions.js'
import { startMoto } from '../helpers/moto.js'
import { createVenv, installHashed, output } from '../helpers/python.js'
import { runCli, startServer } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

await test('pip installs through --download-redirect (presigned, and a base URL)', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const venv = await createVenv(t)
  if (venv === undefined) return
  const root = await tempDir(t, 'eggserve-redirect-e2e-')
  const bucket = await moto.createBucket()
  const wheel = buildWheel({ name: 'redirected', version: '1.0', moduleSource: "__version__ = 'from the store'\n" })
  const key = `team/redirected/${wheel.filename}`
  // Private: an unsigned GET is refused (403), so only a presigned URL fetches it.
  await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: wheel.bytes }))
  assert.equal((await fetch(`${moto.endpoint}/${bucket}/${key}`)).status, 403)
  const requirements = join(root, 'requirements.txt')
  await writeFile(requirements, `redirected==1.0 --hash=sha256:${sha256(wheel.bytes)}\n`)

  for (const [label, redirect] of [
    ['presigned', ['--download-redirect', 'presigned', '--presign-window', '600']],
    ['base URL', ['--download-redirect', `${moto.endpoint}/${bucket}/team/`]],
  ] as const) {
    await t.test(label, async (t) => {
      // Readable by anyone, as objects behind a public base URL (or a CDN) are.
      if (label === 'base URL')
        await moto.client.send(new PutObjectAclCommand({ Bucket: bucket, Key: key, ACL: 'public-read' }))
      const server = await startServer(t, {
        args: ['--storage', `s3://${bucket}/team`, '--s3-path-style', ...redirect],
        env: moto.env(),
      })
      const target = join(root, `target-${label.replace(' ', '-')}`)
      const result = await installHashed(venv, { index: `${server.url}/simple/`, requirements, target })
      assert.equal(result.code, 0, output(result))
      const imported = await venv.run(['-c', 'import redirected; print(redirected.__version__)'], {
        env: { PYTHONPATH: target },
      })
      assert.equal(imported.stdout.trim(), 'from the store')
      const download = await server.waitForLine(
        (line) => line.msg === 'request' && String(line.url).endsWith(wheel.filename),
      )
      assert.equal(download.statusCode, 302, JSON.stringify(download))
    })
  }

  await t.test('presigned without a bucket is refused at start, saying why', async () => {
    const result = await runCli(['--download-redirect', 'presigned', root])
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /--download-redirect presigned needs --storage s3:\/\//)
    assert.doesNotMatch(result.stderr, /\n\s+at /)
  })
})
