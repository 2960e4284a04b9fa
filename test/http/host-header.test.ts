// RFC 9112 §3.2: a Host header with an invalid value gets 400 on every route, and the
// connection is closed (two Host lines are tested on a real socket: test/e2e/reverse-proxy.test.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

await test('an invalid Host gets 400 and a closed connection, whatever the route', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': 'foo sdist bytes' })
  const { app } = await buildTestApp(t, { root })
  for (const host of [
    'evil.example/x',
    'user@evil.example',
    'a.example b.example',
    'host:80:80',
    '[::1',
    'evil.example?',
    'a%zz',
  ]) {
    for (const url of ['/', '/simple/foo/', '/foo/foo-1.0.tar.gz', '/pypi/foo/json', '/health', '/nope']) {
      const res = await app.inject({ url, headers: { host } })
      assert.equal(res.statusCode, 400, `${host} ${url}`)
      assert.equal(res.headers.connection, 'close')
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.equal(res.body, 'Bad Request: the Host header is not a valid host[:port]\n')
    }
  }
  for (const host of ['localhost', 'pypi.example.com:8080', '[::1]:31001', '192.0.2.7']) {
    const res = await app.inject({ url: '/pypi/foo/json', headers: { host } })
    assert.equal(res.statusCode, 200, host)
    assert.equal(res.json<{ urls: { url: string }[] }>().urls[0]?.url, `http://${host}/packages/foo/foo-1.0.tar.gz`)
  }
})
