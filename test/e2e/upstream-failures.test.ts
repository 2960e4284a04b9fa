// When the upstream fails, and when the server restarts: stale pages flagged and pip still
// installing, 503 (never 404) without a cached page, --offline listing only cached files,
// a restart keeping the cache, revalidation with If-None-Match, refused serial regressions,
// the negative cache and one upstream request for concurrent misses. A real upstream eggserve
// behind the counting fault proxy, real pip, the real daemon.
import assert from 'node:assert/strict'
import { readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { createVenv, output, pipRunFlags } from '../helpers/python.js'
import { httpGet } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { startUpstreamEggserve, startWithUpstreams } from '../helpers/upstream-index.js'

const PIP_RUN = pipRunFlags(60)
const OLD = buildWheel({ name: 'resilient', version: '1.0' })
const NEW = buildWheel({ name: 'resilient', version: '2.0' })
const LATER = buildWheel({ name: 'resilient', version: '3.0' })

await test('outages, offline mode and restarts', async (t) => {
  const venv = await createVenv(t)
  if (venv === undefined) return
  const { server: upstream, eggdir: upstreamDir } = await startUpstreamEggserve(t, {
    resilient: [OLD, NEW],
    other: [buildWheel({ name: 'other', version: '1.0' })],
  })
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const root = await tempDir(t, 'eggserve-outage-')
  const cacheDir = join(root, 'cache')
  const eggdir = join(root, 'eggs')
  // Every page request revalidates (TTL 0); a silent upstream is given up on after 1 s.
  let server = await startWithUpstreams(t, {
    eggdir,
    cacheDir,
    upstreams: [proxy.url],
    args: ['--upstream-ttl', '0', '--upstream-timeout', '1'],
  })
  const index = (): string => `${server.url}/simple/`

  await t.test('prime: pip installs resilient 1.0 through eggserve', async () => {
    const result = await venv.pip([
      'install',
      ...PIP_RUN,
      '--target',
      join(root, 'prime'),
      '--index-url',
      index(),
      'resilient==1.0',
    ])
    assert.equal(result.code, 0, output(result))
    assert.equal(proxy.count(`/packages/resilient/${OLD.filename}`), 1)
  })

  await t.test('a revalidation sends If-None-Match and a 304 keeps the page', async () => {
    const before = proxy.count('/simple/resilient/')
    const page = await httpGet(`${index()}resilient/`)
    assert.equal(page.status, 200)
    assert.equal(proxy.count('/simple/resilient/'), before + 1)
    const last = proxy.requests.filter((request) => request.path === '/simple/resilient/').at(-1)
    assert.ok(last?.headers['if-none-match'] !== undefined, 'the cached ETag was sent')
    assert.ok(page.body.toString().includes(NEW.filename))
  })

  await t.test('a page older than the cached one (X-PyPI-Last-Serial) is refused', async () => {
    proxy.setRules([{ match: () => true, fault: { kind: 'headers', headers: { 'x-pypi-last-serial': '10' } } }])
    // A page with a serial replaces the serial-less one (a changed file makes it a 200, not a 304).
    await writeDist(join(upstreamDir, 'resilient'), LATER)
    await waitFor(async () => (await httpGet(`${index()}resilient/`)).body.toString().includes(LATER.filename))
    await unlink(join(upstreamDir, 'resilient', LATER.filename))
    proxy.setRules([{ match: () => true, fault: { kind: 'headers', headers: { 'x-pypi-last-serial': '5' } } }])
    // The upstream now lists no 3.0 but says it is older: the cached page (with 3.0) stays.
    const regressed = await httpGet(`${index()}resilient/`)
    assert.ok(regressed.body.toString().includes(LATER.filename), 'the older page was refused')
    proxy.setRules([{ match: () => true, fault: { kind: 'headers', headers: { 'x-pypi-last-serial': '11' } } }])
    const newer = await httpGet(`${index()}resilient/`)
    assert.ok(!newer.body.toString().includes(LATER.filename), 'a newer page replaces it')
    proxy.setRules([])
  })

  await t.test('blackholed upstream: the cached page is served stale, flagged, and pip installs', async () => {
    proxy.setRules([{ match: () => true, fault: { kind: 'blackhole' } }])
    const page = await httpGet(`${index()}resilient/`)
    assert.equal(page.status, 200)
    assert.match(String(page.headers['eggserve-stale']), /^\d+$/)
    assert.equal(page.headers.age, page.headers['eggserve-stale'])
    const result = await venv.pip([
      'install',
      ...PIP_RUN,
      '--target',
      join(root, 'stale'),
      '--index-url',
      index(),
      'resilient==1.0',
    ])
    assert.equal(result.code, 0, output(result))
  })

  await t.test('no cached page and a silent upstream: 503 with Retry-After, never 404', async () => {
    const page = await httpGet(`${index()}other/`)
    assert.equal(page.status, 503)
    assert.equal(page.headers['retry-after'], '30')
    const since = server.lines.length
    const result = await venv.pip([
      'download',
      ...PIP_RUN,
      '--no-deps',
      '-d',
      join(root, 'none'),
      '--index-url',
      index(),
      'other',
    ])
    assert.notEqual(result.code, 0, output(result))
    // pip itself only says it found nothing; the server answered 503 to it.
    const answered = server.lines.slice(since).filter((line) => line.msg === 'request' && line.url === '/simple/other/')
    assert.ok(answered.length > 0 && answered.every((line) => line.statusCode === 503), JSON.stringify(answered))
  })

  await t.test('refused upstream: stale page again, 503 for the rest', async () => {
    proxy.setRules([])
    await proxy.refuse()
    assert.equal((await httpGet(`${index()}resilient/`)).status, 200)
    assert.equal((await httpGet(`${index()}other/`)).status, 503)
    await proxy.accept()
  })

  await t.test(
    'offline: cached pages list only cached files; pip resolves to the cached version; the upstream hears nothing',
    async () => {
      await server.stop()
      const before = proxy.count()
      server = await startWithUpstreams(t, { eggdir, cacheDir, upstreams: [proxy.url], args: ['--offline'] })
      const page = (await httpGet(`${index()}resilient/`)).body.toString()
      assert.ok(page.includes(OLD.filename) && !page.includes(NEW.filename), page)
      const result = await venv.pip([
        'download',
        ...PIP_RUN,
        '--no-deps',
        '-d',
        join(root, 'offline'),
        '--index-url',
        index(),
        'resilient',
      ])
      assert.equal(result.code, 0, output(result))
      assert.deepEqual(await readdir(join(root, 'offline')), [OLD.filename])
      const missing = await httpGet(`${index()}other/`)
      assert.equal(missing.status, 503)
      assert.equal((await httpGet(`${server.url}/files/upstream/resilient/${NEW.filename}`)).status, 503)
      assert.equal(proxy.count(), before)
    },
  )

  await t.test('restart: the cache survives; within the TTL no upstream request is made', async () => {
    await server.stop()
    const before = proxy.count()
    server = await startWithUpstreams(t, { eggdir, cacheDir, upstreams: [proxy.url] })
    const page = await httpGet(`${index()}resilient/`)
    assert.equal(page.status, 200)
    assert.ok(page.body.toString().includes(NEW.filename))
    const result = await venv.pip([
      'install',
      ...PIP_RUN,
      '--target',
      join(root, 'restart'),
      '--index-url',
      index(),
      'resilient==1.0',
    ])
    assert.equal(result.code, 0, output(result))
    assert.equal(proxy.count(), before)
  })

  await t.test('an upstream 404 is remembered; concurrent misses make one upstream request', async () => {
    const before = proxy.count('/simple/no-such-project/')
    assert.equal((await httpGet(`${index()}no-such-project/`)).status, 404)
    assert.equal((await httpGet(`${index()}no-such-project/`)).status, 404)
    assert.equal(proxy.count('/simple/no-such-project/'), before + 1)
    // Held for a moment upstream, so the 20 requests overlap.
    proxy.setRules([{ match: (request) => request.path === '/simple/other/', fault: { kind: 'delay', ms: 300 } }])
    const asked = proxy.count('/simple/other/')
    const answers = await Promise.all(Array.from({ length: 20 }, () => httpGet(`${index()}other/`)))
    assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([200]))
    assert.equal(proxy.count('/simple/other/'), asked + 1)
  })
})

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail('the condition never held')
}
