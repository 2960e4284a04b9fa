// nosniff on every response; a Content-Security-Policy that allows nothing on HTML pages,
// which need nothing (no script, style, image, form or frame).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json'

await test('HTML pages of both trees carry nosniff and a policy that allows nothing; they need nothing', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': 'foo sdist bytes', 'foo/foo-1.0.tar.gz.yanked': 'bad <b>' })
  const { app } = await buildTestApp(t, { root })
  for (const url of ['/', '/foo/', '/simple/', '/simple/foo/']) {
    for (const accept of [undefined, 'text/html', 'application/vnd.pypi.simple.v1+html']) {
      const res = await app.inject({ url, headers: accept === undefined ? {} : { accept } })
      assert.equal(res.statusCode, 200, url)
      assert.match(String(res.headers['content-type']), /html/)
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
      assert.equal(res.headers['content-security-policy'], CSP, url)
      assert.doesNotMatch(res.body, /<script|<style|\sstyle=|<img|<form|<iframe|<base|<link/i, url)
    }
    const json = await app.inject({ url, headers: { accept: JSON_TYPE } })
    assert.equal(json.headers['content-type'], JSON_TYPE)
    assert.equal(json.headers['x-content-type-options'], 'nosniff')
    assert.equal(json.headers['content-security-policy'], undefined)
  }
})

await test('every other response carries nosniff too: files, API documents, errors, redirects', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': 'foo sdist bytes' })
  const { app } = await buildTestApp(t, { root })
  const cases: [string, number][] = [
    ['/foo/foo-1.0.tar.gz', 200],
    ['/packages/foo/foo-1.0.tar.gz', 200],
    ['/pypi/foo/json', 200],
    ['/health', 200],
    ['/nope/', 404],
    ['/simple/nope/', 404],
    ['/FOO/', 301],
    ['/%zz', 400],
  ]
  for (const [url, status] of cases) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, status, url)
    assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
  }
  const refused = await app.inject({ url: '/simple/foo/', headers: { accept: 'application/json' } })
  assert.equal(refused.statusCode, 406)
  assert.equal(refused.headers['x-content-type-options'], 'nosniff')
  const wrongMethod = await app.inject({ method: 'DELETE', url: '/foo/' })
  assert.equal(wrongMethod.statusCode, 405)
  assert.equal(wrongMethod.headers['x-content-type-options'], 'nosniff')
})
