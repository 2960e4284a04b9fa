// --download-redirect: downloads of files the index knows answered with a 302, to a presigned
// URL of the bucket (real presigning against moto, the same URL for a whole window, and the
// URL really fetches the bytes) or to a base URL; pages, metadata and signatures unchanged;
// access control first.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import type { FastifyBaseLogger } from 'fastify'
import { S3Storage } from '../../src/storage/s3-storage.js'
import { buildTestApp } from '../helpers/build-app.js'
import { buildWheel } from '../helpers/distributions.js'
import { startMoto } from '../helpers/moto.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { ALICE, basic, writePasswords } from '../helpers/users.js'

const WHEEL = buildWheel({ name: 'Demo.Pkg', version: '1.0+local.1' })
const WINDOW_MS = 600_000
// A window start (2026-12-06T09:00:00Z, a multiple of 600 s) and times inside and after it.
const START = Date.UTC(2026, 11, 6, 9, 0, 0)
const amzDate = (ms: number): string =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')

await test('--download-redirect presigned, on a moto bucket', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const bucket = await moto.createBucket()
  const key = `pypi/Demo.Pkg/${WHEEL.filename}`
  await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: WHEEL.bytes }))
  await moto.client.send(
    new PutObjectCommand({ Bucket: bucket, Key: `${key}.asc`, Body: '-----BEGIN PGP SIGNATURE-----\n' }),
  )
  let now = START + 1_000
  const root = await tempDir(t)
  const passwords = await writePasswords(root, [ALICE])
  const build = (authenticate: readonly ('download' | 'list' | 'update')[]) =>
    buildTestApp(t, {
      root: '/nonexistent',
      storage: (logger: FastifyBaseLogger) => S3Storage.open(moto.spec(bucket, { prefix: 'pypi/' }), logger),
      downloadRedirect: { kind: 'presigned', windowMs: WINDOW_MS },
      now: () => now,
      passwords,
      authenticate,
    })
  const { app } = await build(['update'])
  const url = `/packages/Demo.Pkg/${WHEEL.filename}`

  await t.test('a download is a 302 to a presigned GET of the object, signed at the window start', async () => {
    const reply = await app.inject(url)
    assert.equal(reply.statusCode, 302)
    assert.equal(reply.body, '')
    const location = new URL(String(reply.headers.location))
    assert.equal(location.origin, moto.endpoint)
    // The filename's "+" is percent-encoded in the path (RFC 3986: it is a sub-delim in queries only).
    assert.equal(location.pathname, `/${bucket}/pypi/Demo.Pkg/${WHEEL.filename.replace('+', '%2B')}`)
    assert.equal(location.searchParams.get('X-Amz-Date'), amzDate(START))
    assert.equal(location.searchParams.get('X-Amz-Expires'), String((2 * WINDOW_MS) / 1000))
    assert.ok((location.searchParams.get('X-Amz-Signature') ?? '').length > 0, location.href)
    // Cached by the client only, until the window ends (599 s after START + 1 s).
    assert.equal(reply.headers['cache-control'], 'private, max-age=599')
  })

  await t.test('the presigned URL fetches exactly the bytes', async () => {
    const location = String((await app.inject(url)).headers.location)
    const response = await fetch(location)
    assert.equal(response.status, 200)
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), WHEEL.bytes)
  })

  await t.test('the URL is the same for the whole window, and new in the next one', async () => {
    now = START + 1_000
    const first = String((await app.inject(url)).headers.location)
    now = START + WINDOW_MS - 1
    const last = await app.inject(url)
    assert.equal(String(last.headers.location), first)
    assert.equal(last.headers['cache-control'], 'private, max-age=0')
    now = START + WINDOW_MS
    const next = new URL(String((await app.inject(url)).headers.location))
    assert.notEqual(next.href, first)
    assert.equal(next.searchParams.get('X-Amz-Date'), amzDate(START + WINDOW_MS))
    now = START + 1_000
  })

  await t.test('HEAD is redirected the same way', async () => {
    const reply = await app.inject({ method: 'HEAD', url })
    assert.equal(reply.statusCode, 302)
    assert.equal(reply.headers.location, (await app.inject(url)).headers.location)
  })

  await t.test('pages still link to eggserve; metadata and signatures are served by eggserve', async () => {
    const page = (await app.inject('/simple/demo-pkg/')).body
    assert.ok(page.includes(`href="../../packages/Demo.Pkg/${encodeURIComponent(WHEEL.filename)}#`), page)
    assert.doesNotMatch(page, new RegExp(moto.endpoint.replace(/[.:/]/g, '\\$&')))
    const metadata = await app.inject(`${url}.metadata`)
    assert.equal(metadata.statusCode, 200)
    assert.deepEqual(metadata.rawPayload, WHEEL.metadata)
    const signature = await app.inject(`${url}.asc`)
    assert.equal(signature.statusCode, 200)
    assert.equal(signature.body, '-----BEGIN PGP SIGNATURE-----\n')
  })

  await t.test('a file the index does not know is a 404, never a redirect', async () => {
    const reply = await app.inject('/packages/Demo.Pkg/demo_pkg-9.9-py3-none-any.whl')
    assert.equal(reply.statusCode, 404)
    assert.equal(reply.headers.location, undefined)
  })

  await t.test('with downloads protected: no credentials, no redirect; with them, a private redirect', async (t) => {
    const { app: guarded } = await build(['download', 'update'])
    const refused = await guarded.inject(url)
    assert.equal(refused.statusCode, 401)
    assert.equal(refused.headers.location, undefined)
    const allowed = await guarded.inject({ url, headers: { authorization: basic(ALICE) } })
    assert.equal(allowed.statusCode, 302)
    const location = String(allowed.headers.location)
    assert.ok(!location.includes(ALICE.password) && !location.includes(ALICE.user), location)
    assert.match(String(allowed.headers['cache-control']), /^private, max-age=\d+$/)
    t.diagnostic(location)
  })
})

await test('--download-redirect <base URL>, on a folder', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { [join('Demo.Pkg', WHEEL.filename)]: WHEEL.bytes })
  const { app } = await buildTestApp(t, {
    root,
    downloadRedirect: { kind: 'base', base: 'https://cdn.example.com/eggs/' },
  })
  for (const url of [`/Demo.Pkg/${WHEEL.filename}`, `/packages/Demo.Pkg/${WHEEL.filename}`]) {
    const reply = await app.inject(url)
    assert.equal(reply.statusCode, 302, url)
    assert.equal(reply.headers.location, `https://cdn.example.com/eggs/Demo.Pkg/${WHEEL.filename.replace('+', '%2B')}`)
    assert.equal(reply.headers['cache-control'], undefined)
  }
  assert.equal((await app.inject(`/Demo.Pkg/${WHEEL.filename}.metadata`)).statusCode, 200)
})
