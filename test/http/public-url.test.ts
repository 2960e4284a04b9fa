// The JSON API's absolute URLs: --public-url (then nothing comes from the request), or the
// request's scheme and Host with X-Forwarded-Proto, -Host and -Prefix from trusted proxies only.
// (A request without Host, which inject cannot make, is in test/e2e/reverse-proxy.test.ts.)
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PageCache } from '../../src/http/page-cache.js'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

interface ApiDoc {
  info: { package_url: string; release_url: string }
  urls: { url: string }[]
  releases: Record<string, { url: string }[]>
}

async function eggdir(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const root = await tempDir(t)
  await writeTree(root, { 'Foo/foo-1.0.tar.gz': 'foo sdist bytes' })
  return root
}

/** Every absolute URL of a document. */
function urlsOf(doc: ApiDoc): string[] {
  return [
    doc.info.package_url,
    doc.info.release_url,
    ...doc.urls.map((u) => u.url),
    ...Object.values(doc.releases)
      .flat()
      .map((u) => u.url),
  ]
}

const FORWARDED = {
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'pypi.example.com',
  'x-forwarded-prefix': '/eggs/',
}

await test('--public-url: every URL starts with it, whatever Host and X-Forwarded-* say; one cached document', async (t) => {
  const pageCache = new PageCache()
  const { app } = await buildTestApp(t, {
    root: await eggdir(t),
    publicUrl: 'https://pypi.example.com/eggs/',
    trustProxy: ['127.0.0.1'],
    pageCache,
  })
  const etags = new Set<string>()
  for (let i = 0; i < 50; i++) {
    const res = await app.inject({
      url: '/pypi/foo/json',
      headers: {
        host: `h${String(i)}.example`,
        ...(i % 2 === 0
          ? { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'other.example', 'x-forwarded-prefix': '/x' }
          : {}),
      },
    })
    assert.equal(res.statusCode, 200)
    const doc = res.json<ApiDoc>()
    assert.equal(doc.urls[0]?.url, 'https://pypi.example.com/eggs/packages/Foo/foo-1.0.tar.gz')
    assert.equal(doc.info.package_url, 'https://pypi.example.com/eggs/simple/foo/')
    assert.equal(doc.info.release_url, 'https://pypi.example.com/eggs/pypi/foo/1.0/json')
    etags.add(String(res.headers.etag))
  }
  assert.equal(etags.size, 1)
  // The key does not depend on the request: one page, however many Hosts.
  assert.equal(pageCache.size, 1)
})

await test('without --public-url the Host is used, and forwarded headers are ignored unless the peer is trusted', async (t) => {
  const root = await eggdir(t)
  const plain = await buildTestApp(t, { root })
  const trusting = await buildTestApp(t, { root, trustProxy: ['127.0.0.1', '10.0.0.0/8'] })
  const cases: [typeof plain.app, string | undefined, string][] = [
    [plain.app, undefined, 'http://index.example:8080/'],
    [plain.app, '10.1.2.3', 'http://index.example:8080/'],
    [trusting.app, '192.0.2.9', 'http://index.example:8080/'],
    [trusting.app, undefined, 'https://pypi.example.com/eggs/'],
    [trusting.app, '10.1.2.3', 'https://pypi.example.com/eggs/'],
  ]
  for (const [app, remoteAddress, base] of cases) {
    const res = await app.inject({
      url: '/pypi/foo/json',
      headers: { host: 'index.example:8080', ...FORWARDED },
      ...(remoteAddress === undefined ? {} : { remoteAddress }),
    })
    assert.equal(res.statusCode, 200)
    for (const url of urlsOf(res.json<ApiDoc>()))
      assert.ok(url.startsWith(base), `${String(remoteAddress)}: ${url} does not start with ${base}`)
  }
  // A trusted proxy may send each header alone; the nearest proxy's value (the last) counts.
  const alone: [Record<string, string>, string][] = [
    [{ 'x-forwarded-prefix': '/a/b' }, 'http://index.example:8080/a/b/'],
    [{ 'x-forwarded-prefix': '/' }, 'http://index.example:8080/'],
    [{ 'x-forwarded-proto': 'HTTPS' }, 'https://index.example:8080/'],
    [{ 'x-forwarded-host': 'a.example, b.example:444' }, 'http://b.example:444/'],
    [{ 'x-forwarded-prefix': '/outer, /inner/' }, 'http://index.example:8080/inner/'],
  ]
  for (const [headers, base] of alone) {
    const res = await trusting.app.inject({
      url: '/pypi/foo/json',
      headers: { host: 'index.example:8080', ...headers },
    })
    assert.equal(res.json<ApiDoc>().urls[0]?.url, `${base}packages/Foo/foo-1.0.tar.gz`, JSON.stringify(headers))
  }
})

await test('bad forwarded values from a trusted proxy get 400 with the reason', async (t) => {
  const { app } = await buildTestApp(t, { root: await eggdir(t), trustProxy: ['loopback'] })
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'x-forwarded-proto': 'gopher' }, /X-Forwarded-Proto must be http or https/],
    [{ 'x-forwarded-host': 'evil.example/path' }, /X-Forwarded-Host\) is not a valid host/],
    [{ 'x-forwarded-prefix': 'eggs' }, /X-Forwarded-Prefix must be an absolute path/],
    [{ 'x-forwarded-prefix': '/eggs/../admin' }, /X-Forwarded-Prefix/],
    [{ 'x-forwarded-prefix': '/eggs?x=1' }, /X-Forwarded-Prefix/],
    [{ 'x-forwarded-prefix': '/a b' }, /X-Forwarded-Prefix/],
  ]
  for (const [headers, reason] of cases) {
    const res = await app.inject({ url: '/pypi/foo/json', headers: { host: 'index.example', ...headers } })
    assert.equal(res.statusCode, 400, JSON.stringify(headers))
    assert.match(res.body, reason)
  }
  // The pages do not use these headers (their links are relative): they are not refused.
  assert.equal((await app.inject({ url: '/simple/foo/', headers: { 'x-forwarded-proto': 'gopher' } })).statusCode, 200)
})
