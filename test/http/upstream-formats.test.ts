// Upstream and merged projects in every format (docs/upstream.md, "Pages"; docs/ui.md, "Upstream
// projects"): the original tree's /<name>/ page and /<name>/<file> downloads, the PyPI JSON API
// and the browse UI's project pages, through app.inject on an app whose upstream is a second real
// eggserve listening on loopback behind the counting fault proxy. The name rule holds on each:
// local names and never-upstream names send the upstream nothing.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/build-app.js'
import { buildSdist, buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'

const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex')
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

const UP_OLD = buildWheel({ name: 'updemo', version: '0.9', summary: 'old' })
const UP_10 = buildWheel({ name: 'updemo', version: '1.0', summary: 'one', requiresPython: '>=3.6' })
const UP_20 = buildWheel({ name: 'updemo', version: '2.0', summary: 'two' })
const UP_20_SDIST = buildSdist({ name: 'updemo', version: '2.0', summary: 'two' })
const SHARED_LOCAL = buildWheel({ name: 'shared', version: '1.0', summary: 'the local shared' })
const SHARED_UP_SDIST = buildSdist({ name: 'shared', version: '1.0', summary: 'upstream sdist' })
const SHARED_UP_20 = buildWheel({ name: 'shared', version: '2.0', summary: 'upstream two' })
const LOCAL_ONLY = buildWheel({ name: 'localonly', version: '1.0' })
const LOCAL_ONLY_PUBLIC = buildWheel({ name: 'localonly', version: '99.0' })
const SECRET_PUBLIC = buildWheel({ name: 'acme-secret', version: '99.0' })

interface FileDoc {
  filename: string
  url: string
  size: number | null
  digests: Record<string, string>
  requires_python: string | null
  upload_time: string | null
  upload_time_iso_8601: string | null
  yanked: boolean
  yanked_reason: string | null
  packagetype: string
  '_eggserve-origin': string
}
interface ApiDoc {
  info: Record<string, unknown>
  urls: FileDoc[]
  releases?: Record<string, FileDoc[]>
}

/** The proxy under test, its upstream (a real eggserve on loopback) and the counting proxy between them. */
async function setUp(t: Parameters<typeof tempDir>[0]) {
  const upstreamRoot = await tempDir(t, 'eggserve-up-tree-')
  for (const dist of [UP_OLD, UP_10, UP_20, UP_20_SDIST]) await writeDist(join(upstreamRoot, 'updemo'), dist)
  await writeFile(join(upstreamRoot, 'updemo', `${UP_OLD.filename}.yanked`), 'broken build')
  for (const dist of [SHARED_UP_SDIST, SHARED_UP_20]) await writeDist(join(upstreamRoot, 'shared'), dist)
  await writeDist(join(upstreamRoot, 'localonly'), LOCAL_ONLY_PUBLIC)
  await writeDist(join(upstreamRoot, 'acme-secret'), SECRET_PUBLIC)
  const upstream = await buildTestApp(t, { root: upstreamRoot, ui: false })
  await upstream.app.listen({ port: 0, host: '127.0.0.1' })
  const address = upstream.app.server.address()
  assert.ok(address !== null && typeof address === 'object')
  const proxy = await startUpstreamFaultProxy(t, `http://127.0.0.1:${String(address.port)}`)
  const root = await tempDir(t, 'eggserve-proxy-tree-')
  await writeDist(join(root, 'shared'), SHARED_LOCAL)
  await writeDist(join(root, 'localonly'), LOCAL_ONLY)
  // Credentials in the upstream URL: sent to it, never shown.
  const upstreamUrl = `${proxy.url.replace('http://', 'http://deploy:hunter2secret@')}/simple/`
  const { app } = await buildTestApp(t, {
    root,
    upstreamFlags: {
      upstream: [upstreamUrl],
      neverUpstream: ['acme-*'],
      mergeUpstream: ['shared'],
      cacheDir: await tempDir(t, 'eggserve-proxy-cache-'),
    },
  })
  return { app, proxy, label: `${proxy.url}/simple/` }
}

async function get(app: FastifyInstance, url: string) {
  return app.inject({ url, headers: { host: 'index.example:31001' } })
}

await test('the original tree serves upstream and merged projects through the name rule', async (t) => {
  const { app, proxy, label } = await setUp(t)

  await t.test('/<name>/ lists the upstream files by bare filename, with a hash and their origin', async () => {
    const res = await get(app, '/updemo/')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.headers['eggserve-origin'], 'upstream')
    const body = res.body
    assert.ok(!body.includes(new URL(label).host) && !body.includes('hunter2secret'), body)
    // The upstream eggserve's page gives md5 and sha256: the original tree's md5 is used.
    assert.match(
      body,
      new RegExp(
        `<a href="${UP_10.filename}#md5=${md5(UP_10.bytes)}"[^>]*data-requires-python="&gt;=3.6"[^>]*data-eggserve-origin="upstream"`,
      ),
    )
    assert.match(
      body,
      new RegExp(`<a href="${UP_OLD.filename}#md5=${md5(UP_OLD.bytes)}"[^>]*data-yanked="broken build"`),
    )
    assert.ok(body.includes(`<a href="${UP_20_SDIST.filename}#md5=${md5(UP_20_SDIST.bytes)}"`), body)
  })

  await t.test('other spellings redirect to the normalized name; without the slash only local folders do', async () => {
    const spelled = await get(app, '/UpDemo/')
    assert.equal(spelled.statusCode, 301)
    assert.equal(spelled.headers.location, '../updemo/')
    assert.equal((await get(app, '/shared')).headers.location, 'shared/')
    // A browser's /favicon.ico is a valid project name: it must not become an upstream request.
    const before = proxy.count()
    assert.equal((await get(app, '/updemo')).statusCode, 404)
    assert.equal((await get(app, '/favicon.ico')).statusCode, 404)
    assert.equal(proxy.count(), before)
  })

  await t.test(
    '/<name>/<file> downloads through the verified upstream path; the page then names the pinned sha256',
    async () => {
      const res = await get(app, `/updemo/${UP_10.filename}`)
      assert.equal(res.statusCode, 200)
      assert.deepEqual(res.rawPayload, UP_10.bytes)
      const metadata = await get(app, `/updemo/${UP_10.filename}.metadata`)
      assert.equal(metadata.statusCode, 200)
      assert.deepEqual(metadata.rawPayload, UP_10.metadata)
      assert.equal(proxy.count(`/packages/updemo/${UP_10.filename}`), 1)
      // Cached now: served from the cache (no second upstream GET), and listed with its pinned sha256.
      const again = await get(app, `/updemo/${UP_10.filename}`)
      assert.deepEqual(again.rawPayload, UP_10.bytes)
      assert.equal(proxy.count(`/packages/updemo/${UP_10.filename}`), 1)
      const page = (await get(app, '/updemo/')).body
      assert.ok(page.includes(`<a href="${UP_10.filename}#sha256=${sha256(UP_10.bytes)}"`), page)
      assert.equal((await get(app, '/updemo/updemo-7.0-py3-none-any.whl')).statusCode, 404)
      assert.equal((await get(app, `/UpDemo/${UP_20.filename}`)).statusCode, 404)
    },
  )

  await t.test('a merged project lists both, each marked; each file downloads from its origin', async () => {
    const res = await get(app, '/shared/')
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['eggserve-origin'], 'merged')
    assert.match(
      res.body,
      new RegExp(`<a href="${SHARED_LOCAL.filename}#md5=${md5(SHARED_LOCAL.bytes)}"[^>]*data-eggserve-origin="local"`),
    )
    assert.match(
      res.body,
      new RegExp(
        `<a href="${SHARED_UP_20.filename}#md5=${md5(SHARED_UP_20.bytes)}"[^>]*data-eggserve-origin="upstream"`,
      ),
    )
    assert.deepEqual((await get(app, `/shared/${SHARED_LOCAL.filename}`)).rawPayload, SHARED_LOCAL.bytes)
    assert.deepEqual((await get(app, `/shared/${SHARED_UP_20.filename}`)).rawPayload, SHARED_UP_20.bytes)
  })

  await t.test('a local name is never asked upstream, on any format', async () => {
    const before = proxy.count()
    const page = await get(app, '/localonly/')
    assert.equal(page.statusCode, 200)
    assert.equal(page.headers['eggserve-origin'], undefined)
    assert.ok(page.body.includes(LOCAL_ONLY.filename) && !page.body.includes(LOCAL_ONLY_PUBLIC.filename), page.body)
    assert.ok(!page.body.includes('data-eggserve-origin'), page.body)
    assert.equal((await get(app, `/localonly/${LOCAL_ONLY.filename}`)).statusCode, 200)
    assert.equal((await get(app, `/localonly/${LOCAL_ONLY_PUBLIC.filename}`)).statusCode, 404)
    assert.equal((await get(app, '/pypi/localonly/json')).statusCode, 200)
    assert.equal((await get(app, '/-/project/localonly/')).statusCode, 200)
    assert.equal(proxy.countMatching('localonly'), 0, JSON.stringify(proxy.requests))
    assert.equal(proxy.count(), before)
  })

  await t.test('a never-upstream name is a 404 on every format, and the upstream hears nothing', async () => {
    assert.equal((await get(app, '/acme-secret/')).statusCode, 404)
    assert.equal((await get(app, '/acme-secret')).statusCode, 404)
    assert.equal((await get(app, `/acme-secret/${SECRET_PUBLIC.filename}`)).statusCode, 404)
    assert.equal((await get(app, '/pypi/acme-secret/json')).statusCode, 404)
    assert.equal((await get(app, '/-/project/acme-secret/')).statusCode, 404)
    assert.equal(proxy.countMatching('acme'), 0, JSON.stringify(proxy.requests))
  })
})

await test('the PyPI JSON API of upstream and merged projects comes from their pages, with origins', async (t) => {
  const { app, label } = await setUp(t)

  await t.test('/pypi/<upstream>/json: urls and releases from the page, info from its PEP 658 metadata', async () => {
    const res = await get(app, '/pypi/updemo/json')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.headers['eggserve-origin'], 'upstream')
    assert.ok(!res.body.includes(new URL(label).host), res.body)
    const doc = res.json<ApiDoc>()
    assert.equal(doc.info.name, 'updemo')
    assert.equal(doc.info.version, '2.0')
    // From the release's .metadata, fetched through the file cache (docs/upstream.md, "Release metadata").
    assert.equal(doc.info.summary, 'two')
    assert.deepEqual(Object.keys(doc.releases ?? {}), ['0.9', '1.0', '2.0'])
    const wheel = doc.urls.find((file) => file.filename === UP_20.filename)
    assert.ok(wheel !== undefined)
    assert.equal(wheel.url, `http://index.example:31001/files/upstream/updemo/${UP_20.filename}`)
    assert.equal(wheel['_eggserve-origin'], 'upstream')
    assert.equal(wheel.size, UP_20.bytes.length)
    assert.equal(wheel.digests.sha256, sha256(UP_20.bytes))
    assert.equal(wheel.packagetype, 'bdist_wheel')
    assert.match(wheel.upload_time_iso_8601 ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.equal(wheel.upload_time, wheel.upload_time_iso_8601?.slice(0, 19))
    const [old] = doc.releases?.['0.9'] ?? []
    assert.ok(old !== undefined)
    assert.equal(old.yanked, true)
    assert.equal(old.yanked_reason, 'broken build')
  })

  await t.test('/pypi/<upstream>/<version>/json: requires_python from the page', async () => {
    const doc = (await get(app, '/pypi/updemo/1.0/json')).json<ApiDoc>()
    assert.equal(doc.info.version, '1.0')
    assert.equal(doc.info.requires_python, '>=3.6')
    assert.equal(doc.urls[0]?.requires_python, '>=3.6')
    assert.equal(doc.releases, undefined)
    assert.equal((await get(app, '/pypi/updemo/7.0/json')).statusCode, 404)
    const spelled = await get(app, '/pypi/UpDemo/json')
    assert.equal(spelled.statusCode, 301)
    assert.equal(spelled.headers.location, '../updemo/json')
  })

  await t.test('/pypi/<merged>/json: both origins; a local file of the release gives its metadata', async () => {
    const latest = (await get(app, '/pypi/shared/json')).json<ApiDoc>()
    assert.equal(latest.info.version, '2.0')
    // 2.0 has only an upstream file: the upstream's metadata.
    assert.equal(latest.info.summary, 'upstream two')
    assert.deepEqual(
      (latest.releases?.['1.0'] ?? []).map((file) => [file.filename, file['_eggserve-origin']]).sort(),
      [
        [SHARED_UP_SDIST.filename, 'upstream'],
        [SHARED_LOCAL.filename, 'local'],
      ].sort(),
    )
    const one = (await get(app, '/pypi/shared/1.0/json')).json<ApiDoc>()
    assert.equal(one.info.summary, 'the local shared')
    const local = one.urls.find((file) => file.filename === SHARED_LOCAL.filename)
    assert.ok(local !== undefined)
    assert.equal(local.url, `http://index.example:31001/packages/shared/${SHARED_LOCAL.filename}`)
    assert.equal(local.digests.md5, md5(SHARED_LOCAL.bytes))
  })
})

await test('the browse UI shows the origin of every file, and upstream projects have a page', async (t) => {
  const { app, label } = await setUp(t)

  await t.test('an upstream project: its files with the upstream label, never its credentials', async () => {
    const res = await get(app, '/-/project/updemo/')
    assert.equal(res.statusCode, 200, res.body)
    const body = res.body
    assert.ok(!body.includes('hunter2secret') && !body.includes('deploy:'), body)
    assert.ok(body.includes(`<dt>Origin</dt><dd>upstream <code>${label}</code></dd>`), body)
    assert.match(
      body,
      /<article class="file" aria-label="updemo-2\.0-py3-none-any\.whl" data-eggserve-origin="upstream">/,
    )
    assert.ok(body.includes(`href="../../../files/upstream/updemo/${UP_20.filename}"`), body)
    assert.ok(body.includes(sha256(UP_20.bytes)), body)
    assert.ok(body.includes('<p class="lead">two</p>'), body)
    const version = await get(app, '/-/project/updemo/1.0/')
    assert.equal(version.statusCode, 200)
    assert.ok(version.body.includes(UP_10.filename) && !version.body.includes(UP_20.filename))
    assert.equal((await get(app, '/-/project/UpDemo/')).headers.location, '../updemo/')
    assert.equal((await get(app, '/-/project/updemo/7.0/')).statusCode, 404)
  })

  await t.test('a merged release shows local and upstream files, each with its origin', async () => {
    const res = await get(app, '/-/project/shared/1.0/')
    assert.equal(res.statusCode, 200, res.body)
    assert.match(res.body, new RegExp(`aria-label="${SHARED_LOCAL.filename}" data-eggserve-origin="local"`))
    assert.match(res.body, new RegExp(`aria-label="${SHARED_UP_SDIST.filename}" data-eggserve-origin="upstream"`))
    assert.ok(res.body.includes('<dt>Origin</dt><dd>this index</dd>'), res.body)
    // The local wheel's metadata describes the release.
    assert.ok(res.body.includes('the local shared'), res.body)
  })

  await t.test('a local project with upstreams configured names its files as local', async () => {
    const res = await get(app, '/-/project/localonly/')
    assert.match(res.body, new RegExp(`aria-label="${LOCAL_ONLY.filename}" data-eggserve-origin="local"`))
  })

  await t.test('a name no upstream has is a 404 page', async () => {
    assert.equal((await get(app, '/-/project/nowhere-at-all/')).statusCode, 404)
  })
})

await test('an upstream that cannot be reached: the UI says so with a 503, not a 404', async (t) => {
  const root = await tempDir(t)
  const { app } = await buildTestApp(t, {
    root,
    // Port 1 on loopback: nothing listens, the connection is refused.
    upstreamFlags: { upstream: ['http://127.0.0.1:1/simple/'], cacheDir: await tempDir(t) },
  })
  const res = await get(app, '/-/project/somewhere/')
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /upstream index cannot be reached/)
  assert.equal((await get(app, '/somewhere/')).statusCode, 503)
  assert.equal((await get(app, '/pypi/somewhere/json')).statusCode, 503)
})
