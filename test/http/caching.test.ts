// Caching headers on pages and API documents (docs/http.md, "Files and caching"): strong ETag, Last-Modified,
// 304 on revalidation, Cache-Control, gzip with Vary, and a new ETag when a project changes.
import assert from 'node:assert/strict'
import { gunzipSync } from 'node:zlib'
import { utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildTestApp } from '../helpers/build-app.js'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'

const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'
const PAGES = ['/', '/simple/', '/foo/', '/simple/foo/', '/pypi/foo/json', '/pypi/foo/1.0/json']

async function fixture(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const root = await tempDir(t)
  await writeDist(join(root, 'foo'), buildWheel({ name: 'foo', version: '1.0' }))
  return root
}

await test('every page has a strong ETag, Last-Modified, the configured Cache-Control and 304 on revalidation', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t), cacheControl: 'max-age=60' })
  for (const url of PAGES) {
    for (const headers of [{}, { accept: PIP_ACCEPT }]) {
      const first = await app.inject({ url, headers })
      assert.equal(first.statusCode, 200, url)
      const etag = String(first.headers.etag)
      assert.match(etag, /^"[^"]+"$/, `${url}: strong ETag`)
      assert.equal(first.headers['cache-control'], 'max-age=60', url)
      assert.equal(typeof first.headers['last-modified'], 'string', url)
      assert.equal(
        typeof first.headers.date,
        'string',
        `${url}: Date (pip's cachecontrol caches a max-age answer only with it)`,
      )
      const again = await app.inject({ url, headers: { ...headers, 'if-none-match': etag } })
      assert.equal(again.statusCode, 304, url)
      assert.equal(again.body, '')
      assert.equal(again.headers.etag, etag)
      assert.equal(again.headers['cache-control'], 'max-age=60')
      const since = await app.inject({
        url,
        headers: { ...headers, 'if-modified-since': String(first.headers['last-modified']) },
      })
      assert.equal(since.statusCode, 304, `${url}: If-Modified-Since`)
    }
  }
})

await test('the default Cache-Control makes clients revalidate (pip 26.2 obeys it)', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  assert.equal((await app.inject('/simple/foo/')).headers['cache-control'], 'max-age=0, must-revalidate')
})

await test('pages are gzipped when asked, with Vary: Accept-Encoding and a different ETag; files never are', async (t) => {
  const root = await fixture(t)
  const { app } = await buildTestApp(t, { root })
  for (const url of PAGES) {
    const plain = await app.inject({ url, headers: { 'accept-encoding': 'identity' } })
    const zipped = await app.inject({ url, headers: { 'accept-encoding': 'gzip, deflate' } })
    assert.equal(plain.headers['content-encoding'], undefined, url)
    assert.equal(zipped.headers['content-encoding'], 'gzip', url)
    assert.match(String(zipped.headers.vary), /Accept-Encoding/, url)
    assert.notEqual(zipped.headers.etag, plain.headers.etag, url)
    assert.equal(gunzipSync(zipped.rawPayload).toString(), plain.body, url)
    // Either form of the tag revalidates the same content.
    const revalidated = await app.inject({
      url,
      headers: { 'accept-encoding': 'gzip', 'if-none-match': String(plain.headers.etag) },
    })
    assert.equal(revalidated.statusCode, 304, url)
  }
  const wheel = await app.inject({
    url: '/packages/foo/foo-1.0-py3-none-any.whl',
    headers: { 'accept-encoding': 'gzip' },
  })
  assert.equal(wheel.headers['content-encoding'], undefined)
})

await test('a change in the project makes a new ETag; an unchanged project keeps it', async (t) => {
  const root = await fixture(t)
  const { app } = await buildTestApp(t, { root })
  const before = String((await app.inject('/simple/foo/')).headers.etag)
  assert.equal((await app.inject('/simple/foo/')).headers.etag, before)
  await writeDist(join(root, 'foo'), buildWheel({ name: 'foo', version: '2.0' }))
  const after = await app.inject({ url: '/simple/foo/', headers: { 'if-none-match': before } })
  assert.equal(after.statusCode, 200)
  assert.notEqual(after.headers.etag, before)
  assert.match(after.body, /foo-2\.0/)
  const rootBefore = String((await app.inject('/simple/')).headers.etag)
  await writeFile(join(root, 'foo', 'foo-2.0-py3-none-any.whl.yanked'), 'oops')
  assert.notEqual((await app.inject('/simple/foo/')).headers.etag, after.headers.etag, 'yanking changes the page')
  assert.equal((await app.inject('/simple/')).headers.etag, rootBefore, 'the project list did not change')
})

await test('CORS: reads carry Access-Control-Allow-Origin; a preflight gets 204 with the allowed methods', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  for (const url of [
    '/simple/',
    '/simple/foo/',
    '/foo/',
    '/pypi/foo/json',
    '/packages/foo/foo-1.0-py3-none-any.whl',
    '/packages/foo/foo-1.0-py3-none-any.whl.metadata',
  ]) {
    const res = await app.inject({ url, headers: { origin: 'https://example.org' } })
    assert.equal(res.statusCode, 200, url)
    assert.equal(res.headers['access-control-allow-origin'], '*', url)
    assert.match(String(res.headers['access-control-expose-headers']), /ETag/)
    assert.equal(res.headers['access-control-allow-credentials'], undefined)
  }
  assert.equal(
    (await app.inject('/simple/foo/')).headers['access-control-allow-origin'],
    undefined,
    'no Origin, no CORS headers',
  )
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/simple/foo/',
    headers: {
      origin: 'https://example.org',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'if-none-match',
    },
  })
  assert.equal(preflight.statusCode, 204)
  assert.equal(preflight.headers['access-control-allow-methods'], 'GET, HEAD')
  assert.match(String(preflight.headers['access-control-allow-headers']), /If-None-Match/)
  // A plain OPTIONS (no preflight) is still a method this server does not serve.
  assert.equal((await app.inject({ method: 'OPTIONS', url: '/simple/foo/' })).statusCode, 405)
})

await test('<wheel>.metadata carries its wheel’s Last-Modified; If-Modified-Since answers 304, If-None-Match wins', async (t) => {
  const root = await fixture(t)
  const wheel = join(root, 'foo', 'foo-1.0-py3-none-any.whl')
  const dated = new Date('2024-03-01T12:00:00Z')
  await utimes(wheel, dated, dated)
  const { app } = await buildTestApp(t, { root })
  for (const base of ['/packages/foo/foo-1.0-py3-none-any.whl', '/foo/foo-1.0-py3-none-any.whl']) {
    const url = `${base}.metadata`
    const download = await app.inject({ method: 'HEAD', url: base })
    const first = await app.inject(url)
    assert.equal(first.statusCode, 200, url)
    assert.equal(first.headers['last-modified'], dated.toUTCString(), url)
    assert.equal(first.headers['last-modified'], download.headers['last-modified'], `${url}: as its wheel's download`)
    const at = { 'if-modified-since': dated.toUTCString() }
    const since = await app.inject({ url, headers: at })
    assert.equal(since.statusCode, 304, `${url}: RFC 9110 §13.1.3`)
    assert.equal(since.headers.etag, first.headers.etag)
    const before = { 'if-modified-since': new Date(dated.getTime() - 1000).toUTCString() }
    assert.equal((await app.inject({ url, headers: before })).statusCode, 200, url)
    // RFC 9110 §13.2.2: If-None-Match is evaluated instead of If-Modified-Since.
    const other = await app.inject({ url, headers: { ...at, 'if-none-match': '"other"' } })
    assert.equal(other.statusCode, 200, `${url}: a stale ETag wins over a matching date`)
    assert.deepEqual(other.rawPayload, first.rawPayload)
    const matching = await app.inject({ url, headers: { ...before, 'if-none-match': String(first.headers.etag) } })
    assert.equal(matching.statusCode, 304, `${url}: a matching ETag wins over an older date`)
  }
})
