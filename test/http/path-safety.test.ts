// Only files the index knows are served: traversal, dotfiles, symlinks out, odd methods.
import assert from 'node:assert/strict'
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

async function fixture(t: Parameters<typeof tempDir>[0]): Promise<{ root: string; outside: string }> {
  const outside = await tempDir(t, 'eggserve-outside-')
  await writeTree(outside, {
    'secret-1.0.tar.gz': 'outside secret',
    'proj/proj-1.0.tar.gz': 'outside project',
  })
  const root = await tempDir(t)
  await writeTree(root, {
    'foo/foo-1.0.tar.gz': 'foo',
    'foo/README': 'not a distribution',
    'foo/foo-1.0.tar.gz.asc': 'signature',
    'foo/foo-9.9.tar.gz.asc': 'signature of a file the index does not know',
    'foo/.foo-9.0.tar.gz.asc': 'signature of a hidden file',
    'foo/.foo-9.0.tar.gz': 'hidden distribution',
    'foo/sub/foo-2.0.tar.gz': 'nested',
    'top-1.0.tar.gz': 'at the top level',
    'inside/inside-1.0.tar.gz': 'inside',
  })
  await symlink(join(outside, 'secret-1.0.tar.gz'), join(root, 'foo', 'foo-6.6.tar.gz'))
  await symlink(join(outside, 'proj'), join(root, 'proj'))
  // A symlink that stays inside the tree is fine.
  await symlink(join(root, 'inside', 'inside-1.0.tar.gz'), join(root, 'foo', 'foo-3.0.tar.gz'))
  return { root, outside }
}

await test('traversal in every spelling, NUL bytes, dotfiles and non-distributions get 404', async (t) => {
  const { root, outside } = await fixture(t)
  const { app } = await buildTestApp(t, { root })
  const urls = [
    '/foo/../top-1.0.tar.gz',
    '/foo/..%2Ftop-1.0.tar.gz',
    '/foo/%2e%2e%2ftop-1.0.tar.gz',
    '/foo/..%5Ctop-1.0.tar.gz',
    '/foo/..\\top-1.0.tar.gz',
    '/packages/foo/..%2F..%2Fetc%2Fpasswd',
    '/packages/..%2F..%2Fetc/passwd',
    '/..%2F..%2Fetc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/foo/foo-1.0.tar.gz%00',
    '/foo/foo-1.0.tar.gz%00.whl',
    '/foo/%00',
    '/foo/.foo-9.0.tar.gz',
    '/packages/foo/.foo-9.0.tar.gz',
    '/foo/README',
    // Signatures are served only for files the index knows (docs/http.md, "Downloads").
    '/foo/foo-9.9.tar.gz.asc',
    '/foo/.foo-9.0.tar.gz.asc',
    '/foo/README.asc',
    '/foo/foo-6.6.tar.gz.asc',
    '/foo/sub',
    '/foo/sub%2Ffoo-2.0.tar.gz',
    '/top-1.0.tar.gz',
    '/foo/foo-6.6.tar.gz',
    '/packages/foo/foo-6.6.tar.gz',
    '/proj/',
    '/proj/proj-1.0.tar.gz',
    '/simple/proj/',
    '/.foo/',
  ]
  for (const url of urls) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 404, url)
    assert.ok(
      !res.body.includes(root) && !res.body.includes(outside) && !res.body.includes('/tmp'),
      `${url} leaks a path`,
    )
    assert.doesNotMatch(res.body, /outside|secret|at |Error/, url)
  }
  const signature = await app.inject('/packages/foo/foo-1.0.tar.gz.asc')
  assert.equal(signature.statusCode, 200)
  assert.equal(signature.body, 'signature')
  assert.equal(signature.headers['content-type'], 'application/pgp-signature')
  const listing = await app.inject('/foo/')
  assert.doesNotMatch(listing.body, /foo-6\.6|foo-9\.0|README|\.asc|foo-2\.0/)
  assert.match(listing.body, />foo-3\.0\.tar\.gz</, 'a symlink inside the tree is served')
  assert.equal((await app.inject('/foo/foo-3.0.tar.gz')).body, 'inside')
  assert.doesNotMatch((await app.inject('/')).body, /proj/)
})

await test('a listed file replaced by a symlink leading outside is no longer served', async (t) => {
  const { root } = await fixture(t)
  const { app } = await buildTestApp(t, { root })
  assert.equal((await app.inject('/foo/foo-1.0.tar.gz')).body, 'foo')
  const outside = await tempDir(t, 'eggserve-outside-')
  await writeFile(join(outside, 'x'), 'outside bytes')
  // Replace the listed file by a symlink to outside, atomically, as an attacker with write access could.
  await symlink(join(outside, 'x'), join(root, 'foo', 'tmp-link'))
  await rename(join(root, 'foo', 'tmp-link'), join(root, 'foo', 'foo-1.0.tar.gz'))
  const res = await app.inject('/foo/foo-1.0.tar.gz')
  assert.equal(res.statusCode, 404)
  assert.doesNotMatch(res.body, /outside bytes/)
})

await test('methods other than GET and HEAD get 405 with Allow', async (t) => {
  const { root } = await fixture(t)
  const { app } = await buildTestApp(t, { root })
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
    for (const url of [
      '/',
      '/foo/',
      '/foo/foo-1.0.tar.gz',
      '/simple/',
      '/simple/foo/',
      '/packages/foo/foo-1.0.tar.gz',
      '/health',
    ]) {
      const res = await app.inject({ method, url })
      assert.equal(res.statusCode, 405, `${method} ${url}`)
      assert.equal(res.headers.allow, 'GET, HEAD')
    }
  }
})

await test('a malformed percent-encoding is a 400 with a plain message', async (t) => {
  const { root } = await fixture(t)
  const { app } = await buildTestApp(t, { root })
  const res = await app.inject('/%E0%A4%A/')
  assert.equal(res.statusCode, 400)
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  assert.doesNotMatch(res.body, /\/tmp|at /)
})

await test('a 5xx is masked: the client sees no message, path or stack; the log keeps the error', async (t) => {
  const root = await tempDir(t)
  await mkdir(join(root, 'foo'))
  const { app, logs } = await buildTestApp(t, { root })
  // A route that fails the way a filesystem error would, message carrying an absolute path.
  app.get('/boom-for-test', () =>
    Promise.reject(new Error(`EACCES: permission denied, open '${root}/foo/foo-1.0.tar.gz'`)),
  )
  const res = await app.inject('/boom-for-test')
  assert.equal(res.statusCode, 500)
  assert.equal(res.body, 'Internal Server Error\n')
  assert.ok(logs.some((record) => record.msg === 'Request failed'))
})
