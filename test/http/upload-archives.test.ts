// Archives PyPI refuses at upload are refused here too (400, the disk unchanged); the same
// files put into the eggdir by hand are still listed and served, with or without metadata.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { withParentDirs, writeTar } from '../helpers/dist-archives.js'
import { buildSdist, coreMetadata } from '../helpers/distributions.js'
import { HOSTILE_UPLOADS, UPL, UPL_WHEEL } from '../helpers/upload-archives.js'
import { post, snapshot, tempFiles, uploadParts } from '../helpers/upload-form.js'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

await describe('archives PyPI refuses at upload', async () => {
  for (const hostile of HOSTILE_UPLOADS) {
    await test(`${hostile.title} → 400, nothing written`, async (t) => {
      const root = await tempDir(t)
      await writeTree(root, { 'other/other-1.0.tar.gz': 'other' })
      const { app } = await buildTestApp(t, { root, uploads: {} })
      const before = await snapshot(root)
      const bytes = await hostile.bytes()
      const res = await post(app, await uploadParts({ filename: hostile.filename, bytes }, UPL))
      assert.equal(res.statusCode, 400, res.body)
      assert.match(res.body.trim(), hostile.reason)
      assert.deepEqual(await tempFiles(root), [])
      assert.deepEqual(await snapshot(root), before)
      assert.equal((await app.inject('/simple/other/')).statusCode, 200)
    })
  }
})

await describe('distributions cut off (the whole file walked at upload)', async () => {
  const cases = [
    UPL_WHEEL,
    buildSdist(UPL),
    {
      filename: 'upl-1.6.tar',
      bytes: writeTar(
        withParentDirs([
          { path: 'upl-1.6/PKG-INFO', data: coreMetadata(UPL) },
          { path: 'upl-1.6/setup.py', data: Buffer.from('') },
        ]),
      ),
    },
  ]
  for (const dist of cases) {
    await test(`${dist.filename} cut off every 23 bytes → 400 each, nothing written; whole → 200`, async (t) => {
      const root = await tempDir(t)
      const { app } = await buildTestApp(t, { root, uploads: {} })
      for (let cut = 0; cut < dist.bytes.length; cut += 23) {
        const res = await post(
          app,
          await uploadParts({ filename: dist.filename, bytes: dist.bytes.subarray(0, cut) }, UPL),
        )
        assert.equal(res.statusCode, 400, `cut at ${cut}: ${res.body}`)
        assert.match(res.body, /^Invalid distribution file: /)
      }
      assert.deepEqual(await snapshot(root), new Map())
      assert.equal((await post(app, await uploadParts(dist, UPL))).statusCode, 200)
    })
  }
})

await describe('the same archives put into the eggdir by hand', async () => {
  await test('are listed and served byte for byte; their metadata is served or 404, never an error', async (t) => {
    const root = await tempDir(t)
    const files: Record<string, Buffer> = {}
    for (const [index, hostile] of HOSTILE_UPLOADS.entries()) {
      // One release per archive, so every file has a name of its own.
      const filename = hostile.filename.replace('1.6', `1.6.${index}`)
      files[`upl/${filename}`] = await hostile.bytes()
    }
    await writeTree(root, files)
    const { app, logs } = await buildTestApp(t, { root })
    const page = await app.inject('/simple/upl/')
    assert.equal(page.statusCode, 200)
    const metadataStatuses = new Map<number, number>()
    for (const [key, bytes] of Object.entries(files)) {
      const filename = key.slice('upl/'.length)
      assert.match(page.body, new RegExp(`${filename.replace(/\./g, '\\.')}#md5=`))
      const served = await app.inject(`/packages/${key}`)
      assert.equal(served.statusCode, 200, key)
      assert.equal(sha256(served.rawPayload), sha256(bytes), key)
      if (filename.endsWith('.whl')) {
        const metadata = await app.inject(`/packages/${key}.metadata`)
        assert.ok(metadata.statusCode === 200 || metadata.statusCode === 404, `${key}.metadata: ${metadata.statusCode}`)
        metadataStatuses.set(metadata.statusCode, (metadataStatuses.get(metadata.statusCode) ?? 0) + 1)
      }
    }
    t.diagnostic(`wheel metadata: ${JSON.stringify(Object.fromEntries(metadataStatuses))}`)
    assert.deepEqual(
      logs.filter((line) => Number(line.level) >= 50),
      [],
      'nothing logged as an error',
    )
  })
})
