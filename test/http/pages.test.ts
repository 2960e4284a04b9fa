// Listing pages of both trees through app.inject(): links, hashes, redirects, escaping, 404s.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const md5 = (text: string): string => createHash('md5').update(text).digest('hex')
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

async function fixture(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const root = await tempDir(t)
  await writeTree(root, {
    'foo/foo-1.0.tar.gz': 'foo sdist bytes',
    'foo/foo-1.0-py3-none-any.whl': 'foo wheel bytes',
    'foo/README': 'not a distribution',
    'foo/foo-1.0.tar.gz.asc': 'signature',
    'foo/.foo-2.0.tar.gz.part': 'partial upload',
    'b-project/b_project-0.1.tar.gz': 'b',
    'Zope.Interface/zope.interface-4.1.3-py2.7-linux-x86_64.egg': 'egg bytes',
    'absl-py/absl_py-2.1.0-py3-none-any.whl': 'absl',
    '.hidden/hidden-1.0.tar.gz': 'hidden',
  })
  return root
}

await test('GET / lists the project folders, sorted case-insensitively, as links', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const res = await app.inject('/')
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  const links = [...res.body.matchAll(/<a href="([^"]*)">([^<]*)<\/a>/g)].map((m) => [m[1], m[2]])
  assert.deepEqual(links, [
    ['absl-py/', 'absl-py'],
    ['b-project/', 'b-project'],
    ['foo/', 'foo'],
    ['Zope.Interface/', 'Zope.Interface'],
  ])
  assert.ok(res.body.startsWith('<!DOCTYPE html>'))
})

await test('GET /<folder>/ lists its distributions with #md5= anchors and the bare filename as text', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const res = await app.inject('/foo/')
  assert.equal(res.statusCode, 200)
  const links = [...res.body.matchAll(/<a href="([^"]*)">([^<]*)<\/a>/g)].map((m) => [m[1], m[2]])
  assert.deepEqual(links, [
    [`foo-1.0-py3-none-any.whl#md5=${md5('foo wheel bytes')}`, 'foo-1.0-py3-none-any.whl'],
    [`foo-1.0.tar.gz#md5=${md5('foo sdist bytes')}`, 'foo-1.0.tar.gz'],
  ])
  assert.doesNotMatch(res.body, /README|\.asc|\.part/)
})

await test('a wheel whose raw prefix differs from its folder still belongs (absl_py in absl-py/)', async (t) => {
  const { app, report } = await buildTestApp(t, { root: await fixture(t) })
  assert.deepEqual(report.problems, [])
  const res = await app.inject('/absl-py/')
  assert.match(res.body, />absl_py-2\.1\.0-py3-none-any\.whl</)
})

await test('--hash-algo switches the anchor on both trees', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t), hashAlgorithm: 'sha256' })
  const legacy = await app.inject('/foo/')
  const simple = await app.inject('/simple/foo/')
  assert.match(legacy.body, new RegExp(`href="foo-1\\.0\\.tar\\.gz#sha256=${sha256('foo sdist bytes')}"`))
  assert.match(
    simple.body,
    new RegExp(`href="\\.\\./\\.\\./packages/foo/foo-1\\.0\\.tar\\.gz#sha256=${sha256('foo sdist bytes')}"`),
  )
  assert.doesNotMatch(legacy.body + simple.body, /#md5=/)
})

await test('each tree has its own anchor: #md5= on the original tree, #sha256= on /simple/ (the defaults), also from the page cache', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t), hashAlgorithm: 'md5', simpleHashAlgorithm: 'sha256' })
  for (let round = 0; round < 2; round++) {
    const legacy = await app.inject('/foo/')
    const simple = await app.inject('/simple/foo/')
    assert.match(legacy.body, new RegExp(`href="foo-1\\.0\\.tar\\.gz#md5=${md5('foo sdist bytes')}"`))
    assert.match(
      simple.body,
      new RegExp(`href="\\.\\./\\.\\./packages/foo/foo-1\\.0\\.tar\\.gz#sha256=${sha256('foo sdist bytes')}"`),
    )
    assert.doesNotMatch(legacy.body, /#sha256=/)
    assert.doesNotMatch(simple.body, /#md5=/)
  }
  // A third algorithm on one tree is computed too.
  const mixed = await buildTestApp(t, { root: await fixture(t), hashAlgorithm: 'md5', simpleHashAlgorithm: 'sha512' })
  assert.match(
    (await mixed.app.inject('/simple/foo/')).body,
    new RegExp(`foo-1\\.0\\.tar\\.gz#sha512=${createHash('sha512').update('foo sdist bytes').digest('hex')}"`),
  )
})

await test('legacy tree: a missing slash and other spellings of a project redirect to its folder', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const cases: [string, string][] = [
    ['/foo', 'foo/'],
    ['/FOO/', '../foo/'],
    ['/zope-interface/', '../Zope.Interface/'],
    ['/zope_interface', 'Zope.Interface/'],
    ['/zope-interface/?x=1', '../Zope.Interface/?x=1'],
    [
      '/ZOPE-INTERFACE/zope.interface-4.1.3-py2.7-linux-x86_64.egg',
      '../Zope.Interface/zope.interface-4.1.3-py2.7-linux-x86_64.egg',
    ],
  ]
  for (const [url, location] of cases) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 301, url)
    assert.equal(res.headers.location, location, url)
  }
})

await test('simple tree: PEP 503 pages, redirects to the normalized name, 404 for unknown projects', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const root = await app.inject('/simple/')
  assert.equal(root.statusCode, 200)
  assert.equal(root.headers['content-type'], 'text/html; charset=utf-8')
  assert.ok(root.body.startsWith('<!DOCTYPE html>'))
  assert.match(root.body, /<meta name="pypi:repository-version" content="1\.\d+">/)
  assert.match(root.body, /<a href="zope-interface\/">Zope\.Interface<\/a>/)

  const redirects: [string, string][] = [
    ['/simple', 'simple/'],
    ['/simple?format=x', 'simple/?format=x'],
    ['/simple/Zope.Interface/', '../zope-interface/'],
    ['/simple/zope_interface', 'zope-interface/'],
    ['/simple/Zope.Interface?x=1', 'zope-interface/?x=1'],
    [
      '/packages/zope-interface/zope.interface-4.1.3-py2.7-linux-x86_64.egg',
      '../Zope.Interface/zope.interface-4.1.3-py2.7-linux-x86_64.egg',
    ],
  ]
  for (const [url, location] of redirects) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 301, url)
    assert.equal(res.headers.location, location, url)
  }

  const detail = await app.inject('/simple/zope-interface/')
  assert.equal(detail.statusCode, 200)
  assert.match(detail.body, /<title>Links for zope-interface<\/title>/)
  assert.match(
    detail.body,
    new RegExp(
      `<a href="\\.\\./\\.\\./packages/Zope\\.Interface/zope\\.interface-4\\.1\\.3-py2\\.7-linux-x86_64\\.egg#md5=${md5('egg bytes')}">zope\\.interface-4\\.1\\.3-py2\\.7-linux-x86_64\\.egg</a>`,
    ),
  )

  for (const url of ['/simple/nope/', '/simple/nope', '/nope/', '/nope', '/simple/.hidden/', '/.hidden/']) {
    assert.equal((await app.inject(url)).statusCode, 404, url)
  }
})

await test('redirects are the same whatever Accept and Accept-Encoding say, and carry no Vary', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const urls = [
    '/foo',
    '/FOO/',
    '/zope_interface',
    '/simple',
    '/simple/Zope.Interface/',
    '/simple/zope_interface',
    '/packages/zope-interface/zope.interface-4.1.3-py2.7-linux-x86_64.egg',
    '/ZOPE-INTERFACE/zope.interface-4.1.3-py2.7-linux-x86_64.egg',
  ]
  const variants: Record<string, string>[] = [
    {},
    { accept: 'application/vnd.pypi.simple.v1+json' },
    { accept: 'text/html', 'accept-encoding': 'gzip' },
    { accept: 'application/json' },
  ]
  for (const url of urls) {
    const locations = new Set<string>()
    for (const headers of variants) {
      const res = await app.inject({ url, headers })
      assert.equal(res.statusCode, 301, url)
      assert.equal(res.headers.vary, undefined, `${url} ${JSON.stringify(headers)}`)
      locations.add(String(res.headers.location))
    }
    assert.equal(locations.size, 1, url)
  }
  // The pages they lead to do vary (RFC 9110 §12.5.5).
  assert.equal((await app.inject('/simple/zope-interface/')).headers.vary, 'Accept, Accept-Encoding')
})

await test('HEAD on a page has the GET headers and no body', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const get = await app.inject('/simple/foo/')
  const head = await app.inject({ method: 'HEAD', url: '/simple/foo/' })
  assert.equal(head.statusCode, 200)
  assert.equal(head.body, '')
  assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)))
  assert.equal(head.headers['content-type'], get.headers['content-type'])
})

await test('hrefs are percent-encoded and hostile names never reach a page', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, {
    // PEP 440 epochs and local versions put "!" and "+" in real filenames.
    'foo/foo-1!2.0+local.tar.gz': 'x',
    // Not a valid egg name (pkg_resources allows only [A-Za-z0-9._] after escaping), so never listed.
    'evil/evil-1.0&<b>"\'x.egg': 'x',
    'evil/evil-1.0.tar.gz': 'fine',
  })
  const { app, report } = await buildTestApp(t, { root })
  assert.deepEqual(
    report.problems.map((p) => p.code),
    ['unparsable-file'],
  )
  const page = await app.inject('/simple/foo/')
  assert.ok(page.body.includes('href="../../packages/foo/foo-1%212.0%2Blocal.tar.gz#md5='), page.body)
  assert.ok(page.body.includes('>foo-1!2.0+local.tar.gz</a>'))
  assert.equal((await app.inject('/packages/foo/foo-1%212.0%2Blocal.tar.gz')).body, 'x')
  for (const url of ['/evil/', '/simple/evil/']) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 200)
    assert.doesNotMatch(res.body, /<b>|&lt;b&gt;|x\.egg/, url)
  }
})

await test('GET /health answers 200 once the index is loaded', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const res = await app.inject('/health')
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { status: 'ok' })
})

await test('a folder named like a fixed route stays reachable under /simple/ and /packages/', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'simple/simple-1.0.tar.gz': 'x' })
  const { app } = await buildTestApp(t, { root })
  assert.match((await app.inject('/simple/')).body, /<a href="simple\/">simple<\/a>/)
  assert.match((await app.inject('/simple/simple/')).body, />simple-1\.0\.tar\.gz</)
  assert.equal((await app.inject('/packages/simple/simple-1.0.tar.gz')).body, 'x')
})
