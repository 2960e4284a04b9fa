// Downloads through app.inject(): headers, byte ranges, conditionals, content types, HEAD.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const BODY = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251))
// 115 characters; find-my-way 404s route parameters over 100 by default (its `maxParamLength`).
const LONG = `tensorflow_io_gcs_filesystem-0.37.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64.whl`

async function fixture(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const root = await tempDir(t)
  await writeTree(root, {
    'foo/foo-1.0.tar.gz': BODY,
    'foo/foo-1.0-py3-none-any.whl': 'wheel',
    'foo/foo-1.0.zip': 'zip',
    'foo/foo-1.0-py3.7.egg': 'egg',
    'foo/foo-1.0.tar.bz2': 'bz2',
    'foo/foo-0.tar.gz': '',
    [`tensorflow-io-gcs-filesystem/${LONG}`]: 'long',
  })
  return root
}

await test('a download carries Content-Length, a strong ETag, Last-Modified and Accept-Ranges, on both trees', async (t) => {
  const root = await fixture(t)
  const { app } = await buildTestApp(t, { root })
  for (const url of ['/foo/foo-1.0.tar.gz', '/packages/foo/foo-1.0.tar.gz']) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 200, url)
    assert.deepEqual(res.rawPayload, BODY)
    assert.equal(res.headers['content-length'], '1000')
    assert.equal(res.headers['accept-ranges'], 'bytes')
    assert.match(String(res.headers.etag), /^"[^"]+"$/, 'strong ETag (no W/)')
    assert.equal(res.headers['content-type'], 'application/x-gzip')
    assert.equal(res.headers['content-encoding'], undefined)
    assert.equal(typeof res.headers['last-modified'], 'string')
  }
})

await test('content types come from one table: zip for wheels, eggs and zips; never a Content-Encoding', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const cases: [string, string][] = [
    ['/foo/foo-1.0-py3-none-any.whl', 'application/zip'],
    ['/foo/foo-1.0.zip', 'application/zip'],
    ['/foo/foo-1.0-py3.7.egg', 'application/zip'],
    ['/foo/foo-1.0.tar.gz', 'application/x-gzip'],
    ['/foo/foo-1.0.tar.bz2', 'application/x-bzip2'],
  ]
  for (const [url, type] of cases) {
    const res = await app.inject({ url, headers: { 'accept-encoding': 'gzip, deflate, br' } })
    assert.equal(res.headers['content-type'], type, url)
    assert.equal(res.headers['content-encoding'], undefined, url)
  }
})

await test('single byte ranges give 206 with the exact bytes; unsatisfiable ones 416', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const cases: [string, number, number, number][] = [
    // range header, status, first byte, last byte
    ['bytes=0-0', 206, 0, 0],
    ['bytes=0-9', 206, 0, 9],
    ['bytes=-10', 206, 990, 999],
    ['bytes=-5000', 206, 0, 999],
    ['bytes=990-', 206, 990, 999],
    ['bytes=500-5000', 206, 500, 999],
    ['bytes=999-999', 206, 999, 999],
  ]
  for (const [range, status, first, last] of cases) {
    const res = await app.inject({ url: '/foo/foo-1.0.tar.gz', headers: { range } })
    assert.equal(res.statusCode, status, range)
    assert.equal(res.headers['content-range'], `bytes ${first}-${last}/1000`, range)
    assert.equal(res.headers['content-length'], String(last - first + 1), range)
    assert.deepEqual(res.rawPayload, BODY.subarray(first, last + 1), range)
  }
  for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
    const res = await app.inject({ url: '/foo/foo-1.0.tar.gz', headers: { range } })
    assert.equal(res.statusCode, 416, range)
    assert.equal(res.headers['content-range'], 'bytes */1000', range)
  }
  // Ignored: several ranges, other units, bad syntax, last < first (RFC 9110 §14.2).
  for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=abc', 'bytes=9-1']) {
    const res = await app.inject({ url: '/foo/foo-1.0.tar.gz', headers: { range } })
    assert.equal(res.statusCode, 200, range)
    assert.deepEqual(res.rawPayload, BODY, range)
  }
})

await test('If-Range honours only a strong match; a weak or stale validator gets the whole file', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const first = await app.inject('/foo/foo-1.0.tar.gz')
  const etag = String(first.headers.etag)
  const lastModified = String(first.headers['last-modified'])
  const cases: [string, number][] = [
    [etag, 206],
    [`W/${etag}`, 200],
    ['"stale"', 200],
    [lastModified, 206],
    ['Thu, 01 Jan 1970 00:00:00 GMT', 200],
  ]
  for (const [ifRange, status] of cases) {
    const res = await app.inject({ url: '/foo/foo-1.0.tar.gz', headers: { range: 'bytes=0-1', 'if-range': ifRange } })
    assert.equal(res.statusCode, status, ifRange)
    assert.deepEqual(res.rawPayload, status === 206 ? BODY.subarray(0, 2) : BODY, ifRange)
  }
})

await test('If-None-Match and If-Modified-Since give 304 without a body; If-Match mismatch gives 412', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const first = await app.inject('/foo/foo-1.0.tar.gz')
  const etag = String(first.headers.etag)
  const notModified = [
    { 'if-none-match': etag },
    { 'if-none-match': `"other", W/${etag}` },
    { 'if-none-match': '*' },
    { 'if-modified-since': String(first.headers['last-modified']) },
    { 'if-modified-since': new Date(Date.now() + 86_400_000).toUTCString() },
  ]
  for (const headers of notModified) {
    const res = await app.inject({ url: '/foo/foo-1.0.tar.gz', headers })
    assert.equal(res.statusCode, 304, JSON.stringify(headers))
    assert.equal(res.body, '')
    assert.equal(res.headers.etag, etag)
  }
  const modified = [
    { 'if-none-match': '"other"' },
    { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' },
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
    { 'if-none-match': '"other"', 'if-modified-since': String(first.headers['last-modified']) },
  ]
  for (const headers of modified) {
    const res = await app.inject({ url: '/foo/foo-1.0.tar.gz', headers })
    assert.equal(res.statusCode, 200, JSON.stringify(headers))
    assert.deepEqual(res.rawPayload, BODY)
  }
  assert.equal((await app.inject({ url: '/foo/foo-1.0.tar.gz', headers: { 'if-match': '"other"' } })).statusCode, 412)
  assert.equal((await app.inject({ url: '/foo/foo-1.0.tar.gz', headers: { 'if-match': etag } })).statusCode, 200)
})

await test('HEAD gives the GET headers, the real Content-Length and no body', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  for (const url of ['/foo/foo-1.0.tar.gz', '/packages/foo/foo-1.0.tar.gz']) {
    const get = await app.inject(url)
    const head = await app.inject({ method: 'HEAD', url })
    assert.equal(head.statusCode, 200)
    assert.equal(head.body, '')
    for (const name of ['content-length', 'content-type', 'etag', 'last-modified', 'accept-ranges']) {
      assert.equal(head.headers[name], get.headers[name], name)
    }
    const ranged = await app.inject({ method: 'HEAD', url, headers: { range: 'bytes=-10' } })
    assert.equal(ranged.statusCode, 206)
    assert.equal(ranged.headers['content-length'], '10')
  }
})

await test('an empty file is served whole, even when a range is asked for', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const res = await app.inject({ url: '/foo/foo-0.tar.gz', headers: { range: 'bytes=0-10' } })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-length'], '0')
})

await test('filenames longer than 100 characters are listed and served', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  assert.ok(LONG.length > 100)
  const page = await app.inject('/simple/tensorflow-io-gcs-filesystem/')
  assert.ok(page.body.includes(`>${LONG}</a>`), page.body)
  for (const url of [`/tensorflow-io-gcs-filesystem/${LONG}`, `/packages/tensorflow-io-gcs-filesystem/${LONG}`]) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 200, url)
    assert.equal(res.body, 'long')
  }
})

await test('the bytes served are the bytes on disk', async (t) => {
  const root = await fixture(t)
  const { app } = await buildTestApp(t, { root })
  const res = await app.inject('/packages/foo/foo-1.0.tar.gz')
  assert.deepEqual(res.rawPayload, await readFile(join(root, 'foo/foo-1.0.tar.gz')))
})
