// The legacy upload API through inject: storing, listing at once from what the upload stream
// gave, every refusal with the disk checked afterwards, duplicates, signatures, remove_pkg.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { DIGEST_MISMATCH } from '../../src/core/upload-rules.js'
import { buildTestApp, type TestApp } from '../helpers/build-app.js'
import { buildSdist, buildWheel, type BuiltDist } from '../helpers/distributions.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import {
  bareLfMultipart,
  post,
  snapshot,
  tempFiles,
  upload,
  uploadParts,
  type FormPart,
} from '../helpers/upload-form.js'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

const WHEEL = buildWheel({ name: 'Hello.World', version: '1.0', summary: 'hello' })
const SDIST = buildSdist({ name: 'Hello.World', version: '1.0' })
const WHEEL2 = buildWheel({ name: 'Hello.World', version: '2.0' })
const HELLO = { name: 'Hello.World', version: '1.0' }

async function uploadApp(
  t: Parameters<typeof tempDir>[0],
  options: Partial<Parameters<typeof buildTestApp>[1]> = {},
): Promise<TestApp & { root: string }> {
  const root = await tempDir(t)
  await writeTree(root, { 'other/other-1.0.tar.gz': 'other', 'Zope.Interface/zope.interface-1.0.tar.gz': 'zope' })
  return { ...(await buildTestApp(t, { root, uploads: {}, ...options })), root }
}

await describe('storing an upload', async () => {
  await test('a new project through POST /, /legacy/ and /legacy: stored in its normalized folder and listed at once, never read again', async (t) => {
    const { app, root, services } = await uploadApp(t, { hashAlgorithm: 'sha256' })
    const before = services.reader.stats.files
    const sent: [string, BuiltDist, string][] = [
      ['/', WHEEL, '1.0'],
      ['/legacy/', SDIST, '1.0'],
      ['/legacy', WHEEL2, '2.0'],
    ]
    for (const [url, dist, version] of sent) {
      const res = await upload(app, dist, { name: 'Hello.World', version, url })
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
      assert.equal(res.body, 'OK\n')
      assert.deepEqual(await readFile(join(root, 'hello-world', dist.filename)), dist.bytes)
    }
    assert.deepEqual(await tempFiles(root), [])
    const page = await app.inject('/simple/hello-world/')
    for (const [, dist] of sent)
      assert.match(page.body, new RegExp(`${dist.filename.replace(/\./g, '\\.')}#sha256=${sha256(dist.bytes)}`))
    // The digests and metadata came from the upload streams: nothing was read from disk.
    assert.equal(services.reader.stats.files, before)
    const metadata = await app.inject(`/packages/hello-world/${WHEEL.filename}.metadata`)
    assert.equal(metadata.statusCode, 200)
    assert.deepEqual(metadata.rawPayload, WHEEL.metadata)
    assert.match(page.body, new RegExp(`data-dist-info-metadata="sha256=${sha256(WHEEL.metadata)}"`))
    const json = JSON.parse((await app.inject('/pypi/hello-world/1.0/json')).body) as {
      urls: { filename: string; digests: { md5: string } }[]
    }
    assert.equal(
      json.urls.find((file) => file.filename === SDIST.filename)?.digests.md5,
      createHash('md5').update(SDIST.bytes).digest('hex'),
    )
    assert.match((await app.inject('/')).body, />hello-world</)
    assert.equal(services.reader.stats.files, before)
  })

  await test('an upload goes into the existing folder whose name normalizes to the project', async (t) => {
    const { app, root } = await uploadApp(t)
    const dist = buildWheel({ name: 'zope.interface', version: '2.0' })
    const res = await upload(app, dist, { name: 'zope.interface', version: '2.0' })
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(await readFile(join(root, 'Zope.Interface', dist.filename)), dist.bytes)
    assert.match((await app.inject('/Zope.Interface/')).body, new RegExp(dist.filename.replace(/\./g, '\\.')))
  })

  await test('the form may put the file first, and use a legacy name with hyphens', async (t) => {
    const { app, root } = await uploadApp(t)
    const dist = buildSdist({ name: 'python-dateutil', version: '2.8.2' }, { filenameName: 'python-dateutil' })
    const res = await upload(app, dist, { name: 'python-dateutil', version: '2.8.2', contentFirst: true })
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(await readFile(join(root, 'python-dateutil', 'python-dateutil-2.8.2.tar.gz')), dist.bytes)
  })

  await test("a form with bare LF line ends (setuptools' upload_docs encoding) is read, the file byte for byte", async (t) => {
    const { app, root } = await uploadApp(t)
    const { body, contentType } = bareLfMultipart(await uploadParts(WHEEL, HELLO))
    const res = await app.inject({ method: 'POST', url: '/', payload: body, headers: { 'content-type': contentType } })
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(await readFile(join(root, 'hello-world', WHEEL.filename)), WHEEL.bytes)
  })

  await test("digests are optional; md5 may also be url-safe base64 (PyPI's documented form)", async (t) => {
    const { app } = await uploadApp(t)
    const none = await upload(app, WHEEL, {
      ...HELLO,
      fields: { md5_digest: undefined, sha256_digest: undefined, blake2_256_digest: undefined },
    })
    assert.equal(none.statusCode, 200, none.body)
    const base64 = await upload(app, SDIST, {
      ...HELLO,
      fields: { md5_digest: createHash('md5').update(SDIST.bytes).digest('base64url') },
    })
    assert.equal(base64.statusCode, 200, base64.body)
  })
})

interface Refusal {
  readonly title: string
  readonly status: number
  readonly reason: RegExp
  readonly parts: () => Promise<FormPart[]>
  readonly contentType?: string
}

const otherBytes = Buffer.from('other bytes')
// setuptools' upload_docs: {':action': 'doc_upload', 'name': ..., 'content': ('<name>.zip', ...)}.
const DOC_UPLOAD: readonly FormPart[] = [
  { name: ':action', value: 'doc_upload' },
  { name: 'name', value: 'upl' },
  { name: 'content', filename: 'upl.zip', data: Buffer.from('PK\u0005\u0006'.padEnd(22, '\u0000')) },
]
const REFUSALS: readonly Refusal[] = [
  {
    title: 'a wrong sha256_digest',
    status: 400,
    reason: new RegExp(`^${DIGEST_MISMATCH.replace(/\./g, '\\.')}$`),
    parts: () => uploadParts(WHEEL, { ...HELLO, fields: { sha256_digest: sha256(otherBytes) } }),
  },
  {
    title: 'a wrong md5_digest',
    status: 400,
    reason: /^The digest supplied does not match/,
    parts: () =>
      uploadParts(WHEEL, { ...HELLO, fields: { md5_digest: createHash('md5').update(otherBytes).digest('hex') } }),
  },
  {
    title: 'a wrong blake2_256_digest',
    status: 400,
    reason: /^The digest supplied does not match/,
    parts: () => uploadParts(WHEEL, { ...HELLO, fields: { blake2_256_digest: sha256(otherBytes) } }),
  },
  {
    title: 'a malformed digest',
    status: 400,
    reason: /^Invalid sha256_digest: expected 64 hexadecimal digits$/,
    parts: () => uploadParts(WHEEL, { ...HELLO, fields: { sha256_digest: 'zz' } }),
  },
  {
    title: 'a filename with ../',
    status: 400,
    reason: /^Invalid filename "\.\.\/hello_world-1\.0\.tar\.gz": it contains a path separator$/,
    parts: () => uploadParts(SDIST, { ...HELLO, filename: '../hello_world-1.0.tar.gz' }),
  },
  {
    title: 'a filename with ../../ into another folder',
    status: 400,
    reason: /path separator/,
    parts: () => uploadParts(SDIST, { ...HELLO, filename: '../other/other-9.0.tar.gz' }),
  },
  {
    title: 'a filename with a backslash',
    status: 400,
    reason: /path separator/,
    parts: () => uploadParts(SDIST, { ...HELLO, filename: '..\\hello_world-1.0.tar.gz' }),
  },
  {
    title: 'a filename that is ..',
    status: 400,
    reason: /starts with "\."/,
    parts: () => uploadParts(SDIST, { ...HELLO, filename: '..' }),
  },
  {
    title: 'a hidden filename',
    status: 400,
    reason: /starts with "\."/,
    parts: () => uploadParts(SDIST, { ...HELLO, filename: '.hello_world-1.0.tar.gz' }),
  },
  {
    title: 'a control character',
    status: 400,
    reason: /control character/,
    parts: () => uploadParts(SDIST, { ...HELLO, filename: 'hello_world-1.0\u0001.tar.gz' }),
  },
  {
    title: 'an unknown extension',
    status: 400,
    reason: /^Invalid file extension of "hello_world-1\.0\.exe"/,
    parts: () => uploadParts(SDIST, { ...HELLO, filename: 'hello_world-1.0.exe' }),
  },
  {
    title: 'an unparsable filename',
    status: 400,
    reason: /^Invalid distribution filename "hello\.whl"/,
    parts: () => uploadParts(WHEEL, { ...HELLO, filename: 'hello.whl' }),
  },
  {
    title: 'a name that does not match the filename',
    status: 400,
    reason: /is for project "hello-world", not "other"$/,
    parts: () => uploadParts(WHEEL, { name: 'other', version: '1.0' }),
  },
  {
    title: 'a version that does not match the filename',
    status: 400,
    reason: /is for version "1\.0", not "1\.1"$/,
    parts: () => uploadParts(WHEEL, { name: 'Hello.World', version: '1.1' }),
  },
  {
    title: 'a filetype that does not match the file',
    status: 400,
    reason: /^filetype "bdist_wheel" does not match the file, which is a sdist$/,
    parts: () => uploadParts(SDIST, { ...HELLO, fields: { filetype: 'bdist_wheel' } }),
  },
  {
    title: 'no name',
    status: 400,
    reason: /^Missing name field$/,
    parts: () => uploadParts(WHEEL, { ...HELLO, fields: { name: undefined } }),
  },
  {
    title: 'an invalid project name',
    status: 400,
    reason: /^Invalid project name "bad name!"$/,
    parts: () => uploadParts(WHEEL, { ...HELLO, fields: { name: 'bad name!' } }),
  },
  {
    title: 'protocol_version 2',
    status: 400,
    reason: /^Unknown protocol version\.$/,
    parts: () => uploadParts(WHEEL, { ...HELLO, fields: { protocol_version: '2' } }),
  },
  {
    title: 'an unknown action',
    status: 400,
    reason: /^Unknown :action "frobnicate"$/,
    parts: () => uploadParts(WHEEL, { ...HELLO, fields: { ':action': 'frobnicate' } }),
  },
  {
    title: 'no action',
    status: 400,
    reason: /^Missing :action field$/,
    parts: () => uploadParts(WHEEL, { ...HELLO, fields: { ':action': undefined } }),
  },
  {
    title: 'doc_upload',
    status: 410,
    reason: /^Uploading documentation is no longer supported$/,
    parts: () => uploadParts(WHEEL, { ...HELLO, fields: { ':action': 'doc_upload' } }),
  },
  {
    title: 'doc_upload as setuptools\' upload_docs sends it (a content part "upl.zip")',
    status: 410,
    reason: /^Uploading documentation is no longer supported$/,
    parts: () => Promise.resolve([...DOC_UPLOAD]),
  },
  {
    title: 'doc_upload after its "upl.zip" content part',
    status: 410,
    reason: /^Uploading documentation is no longer supported$/,
    parts: () => Promise.resolve([...DOC_UPLOAD].reverse()),
  },
  {
    title: 'an unparsable filename before the action',
    status: 400,
    reason: /^Invalid distribution filename "upl\.zip"/,
    parts: () =>
      Promise.resolve(
        [...DOC_UPLOAD]
          .reverse()
          .map((part) => (part.name === ':action' ? { name: ':action', value: 'file_upload' } : part)),
      ),
  },
  {
    title: 'no file',
    status: 400,
    reason: /^Upload payload does not have a file\.$/,
    parts: async () => (await uploadParts(WHEEL, HELLO)).filter((part) => part.name !== 'content'),
  },
  {
    title: 'an unrelated signature',
    status: 400,
    reason: /^Unrelated signature: "other\.asc" is not named/,
    parts: () => uploadParts(WHEEL, { ...HELLO, signature: { filename: 'other.asc', data: Buffer.from('sig') } }),
  },
  {
    title: 'two files',
    status: 400,
    reason: /^Only one file may be uploaded/,
    parts: async () => [
      ...(await uploadParts(WHEEL, HELLO)),
      { name: 'content', filename: SDIST.filename, data: SDIST.bytes },
    ],
  },
  {
    title: 'bytes that are not a wheel',
    status: 400,
    reason: /^Invalid distribution file: /,
    parts: () => uploadParts(WHEEL, { ...HELLO, data: Buffer.from('not a zip at all') }),
  },
  {
    title: 'a wheel of another project under this name',
    status: 400,
    reason: /^Invalid distribution file: /,
    parts: () => uploadParts(buildWheel({ name: 'other', version: '1.0' }, { filenameName: 'hello_world' }), HELLO),
  },
  {
    title: 'a JSON body',
    status: 415,
    reason: /Unsupported Media Type/i,
    parts: () => Promise.resolve([]),
    contentType: 'application/json',
  },
]

await describe('every refusal leaves the disk as it was', async () => {
  for (const refusal of REFUSALS) {
    await test(`${refusal.title} → ${refusal.status}`, async (t) => {
      const { app, root } = await uploadApp(t)
      const before = await snapshot(root)
      const res =
        refusal.contentType === undefined
          ? await post(app, await refusal.parts())
          : await app.inject({
              method: 'POST',
              url: '/',
              payload: '{}',
              headers: { 'content-type': refusal.contentType },
            })
      assert.equal(res.statusCode, refusal.status, res.body)
      assert.match(res.body.trim(), refusal.reason)
      assert.doesNotMatch(res.body.trim(), /\n/, 'one line')
      if (refusal.status !== 415)
        assert.equal(
          res.statusMessage,
          res.body.trim(),
          'the reason phrase carries the message (twine, poetry and pdm print it)',
        )
      assert.deepEqual(await snapshot(root), before)
      assert.equal((await app.inject('/simple/')).statusCode, 200, 'still serving')
    })
  }

  await test("a bare-LF form as setuptools' upload_docs encodes it: doc_upload → 410, nothing written", async (t) => {
    const { app, root } = await uploadApp(t)
    const before = await snapshot(root)
    const { body, contentType } = bareLfMultipart(DOC_UPLOAD)
    const res = await app.inject({ method: 'POST', url: '/', payload: body, headers: { 'content-type': contentType } })
    assert.equal(res.statusCode, 410, res.body)
    assert.equal(res.body, 'Uploading documentation is no longer supported\n')
    assert.deepEqual(await snapshot(root), before)
  })

  await test('a file over --max-upload-size → 413, and nothing is left', async (t) => {
    const { app, root } = await uploadApp(t, { uploads: { maxBytes: 2000 } })
    const before = await snapshot(root)
    const big = buildWheel({
      name: 'Hello.World',
      version: '1.0',
      moduleSource: `# ${Array.from({ length: 40 }, (_, i) => createHash('sha512').update(String(i)).digest('hex')).join('')}\n`,
    })
    assert.ok(big.bytes.length > 2000, `${big.bytes.length}`)
    const res = await upload(app, big, HELLO)
    assert.equal(res.statusCode, 413)
    assert.equal(res.body, 'File too large. Limit is 2000 bytes\n')
    assert.deepEqual(await snapshot(root), before)
    assert.ok(WHEEL.bytes.length <= 2000)
    assert.equal((await upload(app, WHEEL, HELLO)).statusCode, 200)
  })
})

await describe('the same filename again (as PyPI answers it; docs/publishing.md, "Why")', async () => {
  await test('identical bytes: 200 and nothing changes; different bytes: 409 "File already exists"', async (t) => {
    const { app, root } = await uploadApp(t)
    assert.equal((await upload(app, WHEEL, HELLO)).statusCode, 200)
    const path = join(root, 'hello-world', WHEEL.filename)
    const first = await stat(path, { bigint: true })
    const again = await upload(app, WHEEL, HELLO)
    assert.equal(again.statusCode, 200)
    assert.match(again.body, /nothing changed/)
    const second = await stat(path, { bigint: true })
    assert.equal(second.ino, first.ino)
    assert.equal(second.mtimeNs, first.mtimeNs)
    const before = await snapshot(root)
    const different = buildWheel({ name: 'Hello.World', version: '1.0', summary: 'changed' })
    const res = await upload(app, different, HELLO)
    assert.equal(res.statusCode, 409)
    assert.match(
      res.body,
      new RegExp(
        `^File already exists \\('${WHEEL.filename.replace(/\./g, '\\.')}', with sha256 hash ${sha256(WHEEL.bytes)}\\)`,
      ),
    )
    assert.match(res.statusMessage, /^File already exists/)
    assert.deepEqual(await snapshot(root), before)
  })

  await test('with --overwrite, different bytes replace the file atomically and the listing shows the new hash at once', async (t) => {
    const { app, root } = await uploadApp(t, { uploads: { overwrite: true } })
    const signature = { filename: `${WHEEL.filename}.asc`, data: Buffer.from('-----BEGIN PGP SIGNATURE-----\n') }
    assert.equal((await upload(app, WHEEL, { ...HELLO, signature })).statusCode, 200)
    assert.match(
      (await app.inject('/hello-world/')).body,
      new RegExp(createHash('md5').update(WHEEL.bytes).digest('hex')),
    )
    const path = join(root, 'hello-world', WHEEL.filename)
    const inode = (await stat(path)).ino
    const different = buildWheel({ name: 'Hello.World', version: '1.0', summary: 'changed' })
    const res = await upload(app, different, HELLO)
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(await readFile(path), different.bytes)
    assert.notEqual((await stat(path)).ino, inode, 'a new file renamed over the old one')
    assert.match(
      (await app.inject('/hello-world/')).body,
      new RegExp(createHash('md5').update(different.bytes).digest('hex')),
    )
    // The old signature signs other bytes: it is gone.
    assert.equal((await app.inject(`/hello-world/${WHEEL.filename}.asc`)).statusCode, 404)
    assert.deepEqual(await tempFiles(root), [])
    // Identical bytes are still a no-op.
    const replaced = (await stat(path)).ino
    assert.equal((await upload(app, different, HELLO)).statusCode, 200)
    assert.equal((await stat(path)).ino, replaced)
  })
})

await describe('another spelling of a stored filename is the same file', async () => {
  const FOO = { name: 'foo_bar', version: '2.0' }
  const lower = buildWheel(FOO)
  const upper = (summary?: string): BuiltDist =>
    buildWheel({ ...FOO, ...(summary === undefined ? {} : { summary }) }, { filenameName: 'FOO_BAR' })

  await test('FOO_BAR-2.0-…whl beside foo_bar-2.0-…whl: the same bytes → 200, nothing changes; other bytes → 409', async (t) => {
    const { app, root } = await uploadApp(t)
    assert.equal(lower.filename, 'foo_bar-2.0-py3-none-any.whl')
    assert.equal((await upload(app, lower, FOO)).statusCode, 200)
    const before = await snapshot(root)
    const same = upper()
    assert.equal(same.filename, 'FOO_BAR-2.0-py3-none-any.whl')
    // The same bytes: only the filename's spelling differs (it is not inside the wheel).
    const again = await upload(app, { filename: same.filename, bytes: lower.bytes }, FOO)
    assert.equal(again.statusCode, 200, again.body)
    assert.match(again.body, /nothing changed/)
    assert.deepEqual(await snapshot(root), before)
    const other = await upload(app, upper('changed'), FOO)
    assert.equal(other.statusCode, 409, other.body)
    assert.match(
      other.body,
      new RegExp(
        `^File already exists \\('foo_bar-2\\.0-py3-none-any\\.whl', with sha256 hash ${sha256(lower.bytes)}\\)`,
      ),
    )
    assert.deepEqual(await snapshot(root), before)
    assert.deepEqual(await tempFiles(root), [])
  })

  await test('a compressed tag set in another order is the same file; another tag set is another file', async (t) => {
    const { app, root } = await uploadApp(t)
    const both = buildWheel(FOO, { pythonTag: 'py2.py3' })
    assert.equal((await upload(app, both, FOO)).statusCode, 200)
    const reordered = buildWheel({ ...FOO, summary: 'reordered' }, { pythonTag: 'py3.py2' })
    assert.equal((await upload(app, reordered, FOO)).statusCode, 409)
    const py2 = buildWheel(FOO, { pythonTag: 'py2' })
    assert.equal((await upload(app, py2, FOO)).statusCode, 200)
    assert.deepEqual([...(await snapshot(join(root, 'foo-bar'))).keys()].sort(), [both.filename, py2.filename].sort())
  })

  await test('with --overwrite, other bytes under another spelling replace the stored file, under its name', async (t) => {
    const { app, root } = await uploadApp(t, { uploads: { overwrite: true } })
    assert.equal((await upload(app, lower, FOO)).statusCode, 200)
    const changed = upper('changed')
    assert.equal((await upload(app, changed, FOO)).statusCode, 200)
    assert.deepEqual([...(await snapshot(join(root, 'foo-bar'))).keys()], [lower.filename])
    assert.deepEqual(await readFile(join(root, 'foo-bar', lower.filename)), changed.bytes)
  })
})

await describe('signatures (stored as pypiserver stores them)', async () => {
  await test('a gpg_signature part is stored as <file>.asc, served, and never listed', async (t) => {
    const { app, root } = await uploadApp(t)
    const data = Buffer.from('-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n')
    const res = await upload(app, WHEEL, { ...HELLO, signature: { filename: `${WHEEL.filename}.asc`, data } })
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(await readFile(join(root, 'hello-world', `${WHEEL.filename}.asc`)), data)
    for (const url of [`/hello-world/${WHEEL.filename}.asc`, `/packages/hello-world/${WHEEL.filename}.asc`]) {
      const served = await app.inject(url)
      assert.equal(served.statusCode, 200, url)
      assert.deepEqual(served.rawPayload, data)
      assert.equal(served.headers['content-type'], 'application/pgp-signature')
    }
    assert.doesNotMatch((await app.inject('/simple/hello-world/')).body, /\.asc/)
    assert.equal((await app.inject(`/hello-world/${SDIST.filename}.asc`)).statusCode, 404)
  })
})

await describe("other actions (pypiserver's remove_pkg, Warehouse's doc_upload)", async () => {
  await test('remove_pkg removes a release with its sidecars, and the folder with the last one', async (t) => {
    const { app, root } = await uploadApp(t)
    const signature = { filename: `${WHEEL.filename}.asc`, data: Buffer.from('sig') }
    assert.equal((await upload(app, WHEEL, { ...HELLO, signature })).statusCode, 200)
    assert.equal((await upload(app, SDIST, HELLO)).statusCode, 200)
    assert.equal((await upload(app, WHEEL2, { name: 'Hello.World', version: '2.0' })).statusCode, 200)
    await writeFile(join(root, 'hello-world', `${SDIST.filename}.yanked`), 'broken')
    // URL-encoded, as `curl -d` sends it; the version is compared canonically (1.0 == 1.0.0).
    const removed = await app.inject({
      method: 'POST',
      url: '/',
      payload: ':action=remove_pkg&name=hello_world&version=1.0.0',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    assert.equal(removed.statusCode, 200, removed.body)
    assert.deepEqual([...(await snapshot(join(root, 'hello-world'))).keys()], [WHEEL2.filename])
    assert.doesNotMatch((await app.inject('/simple/hello-world/')).body, /-1\.0/)
    const missing = await post(app, [
      { name: ':action', value: 'remove_pkg' },
      { name: 'name', value: 'hello-world' },
      { name: 'version', value: '1.0' },
    ])
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.body, 'hello-world (1.0) not found\n')
    const last = await post(app, [
      { name: ':action', value: 'remove_pkg' },
      { name: 'name', value: 'Hello.World' },
      { name: 'version', value: '2.0' },
    ])
    assert.equal(last.statusCode, 200, last.body)
    assert.equal((await app.inject('/simple/hello-world/')).statusCode, 404)
    assert.equal((await snapshot(root)).has(`hello-world/${WHEEL2.filename}`), false)
    assert.doesNotMatch((await app.inject('/')).body, /hello-world/)
  })

  await test('submit and verify answer 200 and do nothing; the action may come in the query string', async (t) => {
    const { app, root } = await uploadApp(t)
    const before = await snapshot(root)
    for (const action of ['submit', 'verify']) {
      assert.equal(
        (
          await post(app, [
            { name: ':action', value: action },
            { name: 'name', value: 'x' },
          ])
        ).statusCode,
        200,
      )
      assert.equal((await app.inject({ method: 'POST', url: `/legacy/?:action=${action}` })).statusCode, 200)
    }
    assert.deepEqual(await snapshot(root), before)
  })

  await test('without --passwords or --authenticate ., uploads are disabled: 405, nothing written', async (t) => {
    const root = await tempDir(t)
    await writeTree(root, { 'other/other-1.0.tar.gz': 'other' })
    const { app } = await buildTestApp(t, { root })
    const before = await snapshot(root)
    for (const url of ['/', '/legacy/', '/legacy']) {
      const res = await upload(app, WHEEL, { ...HELLO, url })
      assert.equal(res.statusCode, 405)
      assert.equal(res.headers.allow, 'GET, HEAD')
      assert.match(res.body, /^Uploads are disabled: start eggserve with --passwords FILE/)
    }
    assert.deepEqual(await snapshot(root), before)
  })
})
