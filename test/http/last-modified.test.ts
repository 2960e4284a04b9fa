// RFC 9110 §8.8.2.1: Last-Modified is never later than Date, even for a file dated tomorrow,
// on downloads and on the pages of both trees; conditionals stay coherent.
import assert from 'node:assert/strict'
import { utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const DAY_MS = 24 * 60 * 60 * 1000
const FILE = 'foo-1.0.tar.gz'
const PAGES = ['/', '/foo/', '/simple/', '/simple/foo/', '/pypi/foo/json']
const DOWNLOADS = [`/foo/${FILE}`, `/packages/foo/${FILE}`]

async function fixture(t: Parameters<typeof tempDir>[0], mtime: Date): Promise<string> {
  const root = await tempDir(t)
  await writeTree(root, { [`foo/${FILE}`]: 'foo sdist bytes' })
  await utimes(join(root, 'foo', FILE), mtime, mtime)
  return root
}

function dates(headers: Record<string, unknown>): { date: number; lastModified: number; raw: string } {
  const raw = String(headers['last-modified'])
  const date = Date.parse(String(headers.date))
  const lastModified = Date.parse(raw)
  assert.ok(!Number.isNaN(date) && !Number.isNaN(lastModified), JSON.stringify(headers))
  return { date, lastModified, raw }
}

await test('a file dated tomorrow: Last-Modified is the response Date, on downloads and on every page', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t, new Date(Date.now() + DAY_MS)) })
  for (const url of [...DOWNLOADS, ...PAGES]) {
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await app.inject({ method, url })
      assert.equal(res.statusCode, 200, url)
      const { date, lastModified } = dates(res.headers)
      assert.equal(
        lastModified,
        date,
        `${method} ${url}: Last-Modified ${String(res.headers['last-modified'])}, Date ${String(res.headers.date)}`,
      )
    }
  }
})

await test('a clamped date is no validator: If-Modified-Since and If-Range with it get the full file; the ETag still gives 304', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t, new Date(Date.now() + DAY_MS)) })
  for (const url of [...DOWNLOADS, ...PAGES]) {
    const first = await app.inject(url)
    const { raw } = dates(first.headers)
    const since = await app.inject({ url, headers: { 'if-modified-since': raw } })
    assert.equal(since.statusCode, 200, url)
    assert.equal(since.body, first.body, url)
    const tagged = await app.inject({ url, headers: { 'if-none-match': String(first.headers.etag) } })
    assert.equal(tagged.statusCode, 304, url)
    const { date, lastModified } = dates(tagged.headers)
    assert.ok(lastModified <= date, url)
  }
  for (const url of DOWNLOADS) {
    const { raw } = dates((await app.inject(url)).headers)
    const ranged = await app.inject({ url, headers: { range: 'bytes=0-2', 'if-range': raw } })
    assert.equal(ranged.statusCode, 200, url)
    assert.equal(ranged.body, 'foo sdist bytes')
  }
})

await test('a file dated in the past keeps its own Last-Modified, which still gives 304', async (t) => {
  const past = new Date('2020-02-03T04:05:06Z')
  const { app } = await buildTestApp(t, { root: await fixture(t, past) })
  for (const url of [...DOWNLOADS, ...PAGES]) {
    const res = await app.inject(url)
    assert.equal(res.headers['last-modified'], 'Mon, 03 Feb 2020 04:05:06 GMT', url)
    const since = await app.inject({ url, headers: { 'if-modified-since': 'Mon, 03 Feb 2020 04:05:06 GMT' } })
    assert.equal(since.statusCode, 304, url)
  }
})
