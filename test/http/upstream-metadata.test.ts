// Core metadata of upstream releases (docs/upstream.md, "Release metadata"; docs/ui.md,
// "Upstream projects"): the PyPI JSON API's `info` and the browse UI's project page of an
// upstream project are filled from the release's PEP 658 `.metadata` file, fetched once through
// the file cache (or from a cached distribution), exactly as a local project's are. Through
// app.inject on an app whose upstream is a second real eggserve listening on loopback behind the
// counting fault proxy.
import assert from 'node:assert/strict'
import { access, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { UpstreamIndex } from '../../src/upstream/upstream-index.js'
import { resolveUpstreamConfig } from '../../src/upstream/upstream-settings.js'
import { buildTestApp } from '../helpers/build-app.js'
import { buildSdist, buildWheel, writeDist, type BuiltDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { startStaticUpstream } from '../helpers/upstream-index.js'

const RICH = buildWheel({
  name: 'meta-demo',
  version: '2.0',
  summary: 'Metadata from the upstream',
  requiresPython: '>=3.8',
  requiresDist: ['requests>=2', 'rich; extra == "cli"'],
  metadataLines: [
    'License: MIT',
    'Author: Grace Hopper',
    'Provides-Extra: cli',
    'Home-page: https://meta-demo.example.org/',
    'Project-URL: Source, https://git.example.org/meta-demo',
    'Classifier: Programming Language :: Python :: 3',
    'Description-Content-Type: text/markdown',
  ],
  description: '# Meta demo\n\nA **README** from the upstream.\n\n<script>window.pwned = 1</script>\n',
})
const OLD = buildWheel({ name: 'meta-demo', version: '1.0', summary: 'The first one', requiresDist: ['six'] })
// Only an sdist: the upstream eggserve announces PEP 658 metadata for wheels only.
const SOURCE_ONLY = buildSdist({ name: 'srconly', version: '3.0', summary: 'Built from source' })
const OTHER = buildWheel({ name: 'other-thing', version: '1.0', summary: 'never asked for' })
const SECRET = buildWheel({ name: 'acme-thing', version: '1.0', summary: 'public squatter' })
const LATER = buildWheel({ name: 'later', version: '1.0', summary: 'upstream later' })
const LATER_LOCAL = buildWheel({ name: 'later', version: '0.1', summary: 'the local later' })

/** The URL fields of `info`, which name the server that answers: the rest must be the same. */
const URL_FIELDS = ['package_url', 'project_url', 'release_url']

interface Info extends Record<string, unknown> {
  summary: string | null
}
interface ApiDoc {
  info: Info
  urls: { filename: string }[]
}

/** An upstream eggserve (on loopback, behind the counting proxy) serving `projects`; its app too. */
async function startUpstream(t: TestContext, projects: Record<string, readonly BuiltDist[]>) {
  const root = await tempDir(t, 'eggserve-meta-up-')
  for (const [folder, dists] of Object.entries(projects))
    for (const dist of dists) await writeDist(join(root, folder), dist)
  const upstream = await buildTestApp(t, { root, ui: false })
  await upstream.app.listen({ port: 0, host: '127.0.0.1' })
  const address = upstream.app.server.address()
  assert.ok(address !== null && typeof address === 'object')
  const proxy = await startUpstreamFaultProxy(t, `http://127.0.0.1:${String(address.port)}`)
  return { upstreamApp: upstream.app, proxy, url: `${proxy.url}/simple/` }
}

/** The proxy under test over `root` (created), its upstream `url`, its cache in `cacheDir`. */
async function proxyApp(
  t: TestContext,
  options: {
    url: string
    cacheDir: string
    root?: string
    offline?: boolean
    neverUpstream?: string[]
    now?: () => number
  },
): Promise<FastifyInstance> {
  const root = options.root ?? (await tempDir(t, 'eggserve-meta-proxy-'))
  const flags = {
    upstream: [options.url],
    ...(options.offline === true ? { offline: true } : {}),
    ...(options.neverUpstream === undefined ? {} : { neverUpstream: options.neverUpstream }),
  }
  const now = options.now
  const { app } = await buildTestApp(t, {
    root,
    upstream: (index, log) =>
      new UpstreamIndex({
        index,
        config: resolveUpstreamConfig(flags, {}),
        cacheDir: options.cacheDir,
        log,
        ...(now === undefined ? {} : { now }),
      }),
  })
  return app
}

async function get(app: FastifyInstance, url: string) {
  return app.inject({ url, headers: { host: 'index.example:31001' } })
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

function withoutUrls(info: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(info).filter(([key]) => !URL_FIELDS.includes(key)))
}

// The sidebar and the README of a project page: what the metadata shows.
function metadataParts(body: string): { aside: string; readme: string } {
  const aside = /<aside class="project-aside"[^]*?<\/aside>/.exec(body)?.[0] ?? ''
  const readme = /<section id="description"[^]*?<\/section>/.exec(body)?.[0] ?? ''
  return { aside, readme }
}

await test('the JSON API and the UI show an upstream release’s PEP 658 metadata, as a local release’s', async (t) => {
  const { upstreamApp, proxy, url } = await startUpstream(t, { 'meta-demo': [OLD, RICH] })
  const cacheDir = await tempDir(t, 'eggserve-meta-cache-')
  const app = await proxyApp(t, { url, cacheDir })
  const metadataPath = `/packages/meta-demo/${RICH.filename}.metadata`

  await t.test(
    '/pypi/<p>/json: info is the upstream’s own, from one .metadata request; no wheel is fetched',
    async () => {
      const res = await get(app, '/pypi/meta-demo/json')
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.headers['eggserve-origin'], 'upstream')
      const info = res.json<ApiDoc>().info
      // The upstream eggserve serves the same wheel as a local project: its info is the reference.
      const reference = (await upstreamApp.inject({ url: '/pypi/meta-demo/json' })).json<ApiDoc>().info
      assert.equal(info.summary, 'Metadata from the upstream')
      assert.deepEqual(withoutUrls(info), withoutUrls(reference))
      assert.deepEqual(info.requires_dist, ['requests>=2', 'rich; extra == "cli"'])
      assert.deepEqual(info.project_urls, {
        Homepage: 'https://meta-demo.example.org/',
        Source: 'https://git.example.org/meta-demo',
      })
      assert.equal(info.license, 'MIT')
      assert.equal(info.requires_python, '>=3.8')
      assert.match(String(info.description), /A \*\*README\*\* from the upstream/)
      assert.equal(info.release_url, 'http://index.example:31001/pypi/meta-demo/2.0/json')
      assert.equal(proxy.count(metadataPath), 1)
      assert.equal(proxy.count(`/packages/meta-demo/${RICH.filename}`), 0)
      // Cached where pip's own .metadata request would have put it, with its pinned digest.
      assert.ok(await exists(join(cacheDir, 'upstream', 'files', 'meta-demo', `${RICH.filename}.metadata`)))
      assert.ok(await exists(join(cacheDir, 'upstream', 'files', 'meta-demo', `${RICH.filename}.metadata.sha256`)))
    },
  )

  await t.test('the UI page shows summary, README and links as a local project’s page; no new request', async () => {
    const res = await get(app, '/-/project/meta-demo/')
    assert.equal(res.statusCode, 200, res.body)
    assert.ok(res.body.includes('<p class="lead">Metadata from the upstream</p>'), res.body)
    assert.ok(!res.body.includes('eggserve does not fetch') && !res.body.includes('offers no metadata'), res.body)
    // The same wheel as a local project of another app: the same sidebar and README.
    const localRoot = await tempDir(t, 'eggserve-meta-local-')
    await writeDist(join(localRoot, 'meta-demo'), RICH)
    const local = await buildTestApp(t, { root: localRoot })
    const reference = metadataParts((await get(local.app, '/-/project/meta-demo/')).body)
    const shown = metadataParts(res.body)
    assert.ok(shown.aside.includes('href="https://git.example.org/meta-demo"'), shown.aside)
    assert.ok(shown.readme.includes('<strong>README</strong>') && !shown.readme.includes('<script'), shown.readme)
    assert.deepEqual(shown, reference)
    assert.equal(proxy.count(metadataPath), 1)
  })

  await t.test('/pypi/<p>/<v>/json reads that version’s metadata', async () => {
    const doc = (await get(app, '/pypi/meta-demo/1.0/json')).json<ApiDoc>()
    assert.equal(doc.info.version, '1.0')
    assert.equal(doc.info.summary, 'The first one')
    assert.deepEqual(doc.info.requires_dist, ['six'])
    assert.equal(proxy.count(`/packages/meta-demo/${OLD.filename}.metadata`), 1)
    assert.equal(proxy.count(`/packages/meta-demo/${OLD.filename}`), 0)
    const page = await get(app, '/-/project/meta-demo/1.0/')
    assert.ok(page.body.includes('<p class="lead">The first one</p>'), page.body)
    assert.equal(proxy.count(`/packages/meta-demo/${OLD.filename}.metadata`), 1)
  })

  await t.test('a restarted server reads the cached metadata from the disk, asking nothing', async () => {
    const again = await proxyApp(t, { url, cacheDir })
    const before = proxy.count('/packages/*')
    assert.equal((await get(again, '/pypi/meta-demo/json')).json<ApiDoc>().info.summary, 'Metadata from the upstream')
    assert.equal(proxy.count('/packages/*'), before)
  })
})

await test('concurrent first requests for a release’s metadata make one upstream request', async (t) => {
  const { proxy, url } = await startUpstream(t, { 'meta-demo': [OLD, RICH] })
  const app = await proxyApp(t, { url, cacheDir: await tempDir(t) })
  // Slow enough that every request below is waiting while the first is in flight.
  proxy.setRules([{ match: (request) => request.path.endsWith('.metadata'), fault: { kind: 'delay', ms: 300 } }])
  const answers = await Promise.all([
    ...Array.from({ length: 4 }, () => get(app, '/pypi/meta-demo/json')),
    ...Array.from({ length: 2 }, () => get(app, '/-/project/meta-demo/')),
    get(app, '/pypi/meta-demo/2.0/json'),
  ])
  for (const answer of answers) assert.equal(answer.statusCode, 200)
  for (const answer of answers.slice(0, 4))
    assert.equal(answer.json<ApiDoc>().info.summary, 'Metadata from the upstream')
  assert.equal(proxy.count(`/packages/meta-demo/${RICH.filename}.metadata`), 1)
})

await test('offline: metadata comes from the cache only (a cached .metadata, else the cached wheel)', async (t) => {
  const { proxy, url } = await startUpstream(t, { 'meta-demo': [OLD, RICH] })
  const cacheDir = await tempDir(t)
  const online = await proxyApp(t, { url, cacheDir })
  // Online: 2.0's metadata is read (so its .metadata is cached), then both wheels are
  // downloaded (offline, only cached files are listed); 1.0's .metadata is never asked for.
  assert.equal(
    (await get(online, '/pypi/meta-demo/2.0/json')).json<ApiDoc>().info.summary,
    'Metadata from the upstream',
  )
  assert.equal((await get(online, `/files/upstream/meta-demo/${RICH.filename}`)).statusCode, 200)
  assert.equal((await get(online, `/files/upstream/meta-demo/${OLD.filename}`)).statusCode, 200)
  const before = proxy.count()
  assert.equal(proxy.count(`/packages/meta-demo/${OLD.filename}.metadata`), 0)

  const offline = await proxyApp(t, { url, cacheDir, offline: true })
  const latest = (await get(offline, '/pypi/meta-demo/json')).json<ApiDoc>()
  assert.equal(latest.info.summary, 'Metadata from the upstream')
  // No .metadata cached for 1.0: read from the cached wheel itself.
  const old = (await get(offline, '/pypi/meta-demo/1.0/json')).json<ApiDoc>()
  assert.equal(old.info.summary, 'The first one')
  assert.ok((await get(offline, '/-/project/meta-demo/1.0/')).body.includes('<p class="lead">The first one</p>'))
  assert.equal(proxy.count(), before)

  // Offline with 2.0's .metadata gone from the cache: read from its cached wheel.
  await rm(join(cacheDir, 'upstream', 'files', 'meta-demo', `${RICH.filename}.metadata`))
  await rm(join(cacheDir, 'upstream', 'files', 'meta-demo', `${RICH.filename}.metadata.sha256`))
  const fromWheel = await proxyApp(t, { url, cacheDir, offline: true })
  assert.equal((await get(fromWheel, '/pypi/meta-demo/json')).json<ApiDoc>().info.summary, 'Metadata from the upstream')
  assert.equal(proxy.count(), before)
})

await test('a release without PEP 658 metadata: null fields and the UI says why; a cached file fills them', async (t) => {
  const { proxy, url } = await startUpstream(t, { srconly: [SOURCE_ONLY] })
  const app = await proxyApp(t, { url, cacheDir: await tempDir(t) })
  const doc = (await get(app, '/pypi/srconly/json')).json<ApiDoc>()
  assert.equal(doc.info.version, '3.0')
  assert.equal(doc.info.summary, null)
  const page = await get(app, '/-/project/srconly/')
  assert.match(page.body, /which offers no metadata file \(PEP 658\) for it/)
  // Nothing was downloaded to find out: no .metadata request, no sdist request.
  assert.equal(proxy.count('/packages/*'), 0)
  // Once the sdist is cached (a client downloaded it), its PKG-INFO is read from the cache.
  assert.equal((await get(app, `/files/upstream/srconly/${SOURCE_ONLY.filename}`)).statusCode, 200)
  assert.equal((await get(app, '/pypi/srconly/json')).json<ApiDoc>().info.summary, 'Built from source')
  assert.ok((await get(app, '/-/project/srconly/')).body.includes('<p class="lead">Built from source</p>'))
  assert.equal(proxy.count('/packages/*'), 1)
})

await test('a static PEP 503 upstream (no core-metadata): the wheel is not fetched for metadata', async (t) => {
  const nginx = await startStaticUpstream(t, { 'meta-demo': [RICH] })
  if (nginx === undefined) return
  const app = await proxyApp(t, { url: `${nginx.url}/simple/`, cacheDir: await tempDir(t) })
  assert.equal((await get(app, '/pypi/meta-demo/json')).json<ApiDoc>().info.summary, null)
  assert.match((await get(app, '/-/project/meta-demo/')).body, /offers no metadata file \(PEP 658\)/)
  assert.equal((await get(app, `/files/upstream/meta-demo/${RICH.filename}`)).statusCode, 200)
  assert.equal((await get(app, '/pypi/meta-demo/json')).json<ApiDoc>().info.summary, 'Metadata from the upstream')
})

await test('a failing upstream: no metadata now, asked again after 30 s, never while its page is stale', async (t) => {
  const { proxy, url } = await startUpstream(t, { 'meta-demo': [RICH] })
  let clock = Date.now()
  const app = await proxyApp(t, { url, cacheDir: await tempDir(t), now: () => clock })
  const metadataPath = `/packages/meta-demo/${RICH.filename}.metadata`
  proxy.setRules([
    { match: (request) => request.path === metadataPath, fault: { kind: 'status', status: 503 }, times: 1 },
  ])
  assert.equal((await get(app, '/pypi/meta-demo/json')).json<ApiDoc>().info.summary, null)
  assert.match((await get(app, '/-/project/meta-demo/')).body, /cannot be asked for its metadata now/)
  assert.equal((await get(app, '/pypi/meta-demo/json')).json<ApiDoc>().info.summary, null)
  // One failed request: the UI page, made meanwhile, did not ask again.
  assert.equal(proxy.count(metadataPath), 1)
  clock += 31_000
  assert.equal((await get(app, '/pypi/meta-demo/json')).json<ApiDoc>().info.summary, 'Metadata from the upstream')
  assert.equal(proxy.count(metadataPath), 2)

  // A page served stale (the upstream answers its pages with 503 past the TTL): no metadata request.
  const other = await proxyApp(t, { url, cacheDir: await tempDir(t), now: () => clock })
  proxy.setRules([])
  assert.equal((await get(other, '/simple/meta-demo/')).statusCode, 200)
  clock += 700_000
  proxy.setRules([{ match: (request) => request.path.startsWith('/simple/'), fault: { kind: 'status', status: 503 } }])
  const stale = await get(other, '/pypi/meta-demo/json')
  assert.equal(stale.statusCode, 200)
  assert.equal(stale.json<ApiDoc>().info.summary, null)
  assert.equal(proxy.count(metadataPath), 2)
})

await test('the UI’s list and search show the projects whose pages are cached, with their upstream', async (t) => {
  const { proxy, url } = await startUpstream(t, {
    'meta-demo': [OLD, RICH],
    'other-thing': [OTHER],
    'acme-thing': [SECRET],
    later: [LATER],
  })
  const cacheDir = await tempDir(t)
  const root = await tempDir(t, 'eggserve-meta-local-')
  await writeDist(join(root, 'localpkg'), buildWheel({ name: 'localpkg', version: '1.0', summary: 'a local one' }))
  const app = await proxyApp(t, { url, cacheDir, root })
  for (const name of ['meta-demo', 'acme-thing', 'later'])
    assert.equal((await get(app, `/simple/${name}/`)).statusCode, 200)
  const before = proxy.count()

  const home = (await get(app, '/-/')).body
  assert.match(
    home,
    new RegExp(
      `<tr data-eggserve-origin="upstream"><th scope="row"><a href="project/meta-demo/">meta-demo</a><span class="origin muted">upstream <code>${url}</code></span></th><td>2\\.0</td>`,
    ),
  )
  assert.match(home, /<tr><th scope="row"><a href="project\/localpkg\/">localpkg<\/a><\/th>/)
  assert.match(home, /4 projects on this index\. 3 of them come from upstream indexes/)
  // Only what is cached: a name the upstream has but nobody asked for is not listed (its list
  // of every name is never fetched), and listing asks the upstream nothing.
  assert.ok(!home.includes('other-thing'), home)
  assert.equal(proxy.count(), before)

  const search = (await get(app, '/-/search?q=meta')).body
  assert.match(search, /1 project found\./)
  assert.match(
    search,
    /<tr data-eggserve-origin="upstream"><th scope="row"><a href="project\/meta-demo\/">meta-demo<\/a>/,
  )
  const api = (await get(app, '/-/api/search?q=meta')).json<{ results: Record<string, unknown>[] }>()
  assert.deepEqual(api.results, [
    {
      name: 'meta-demo',
      project: 'meta-demo',
      version: '2.0',
      summary: null,
      url: 'project/meta-demo/',
      origin: 'upstream',
      upstream: url,
    },
  ])
  assert.equal(proxy.count(), before)

  // A local project of the same name wins (the name rule), and a restarted server with a
  // never-upstream pattern reads the cached pages from the disk but never lists those names.
  await writeDist(join(root, 'later'), LATER_LOCAL)
  const restarted = await proxyApp(t, { url, cacheDir, root, neverUpstream: ['acme-*'] })
  const listed = (await get(restarted, '/-/')).body
  assert.match(listed, /<tr><th scope="row"><a href="project\/later\/">later<\/a><\/th><td>0\.1<\/td>/)
  assert.ok(!listed.includes('acme-thing'), listed)
  assert.match(listed, /<a href="project\/meta-demo\/">meta-demo<\/a><span class="origin muted">/)
  assert.match(listed, /3 projects on this index\. 1 of them comes from an upstream index/)
  assert.equal((await get(restarted, '/-/api/search?q=acme')).json<{ results: unknown[] }>().results.length, 0)
  assert.equal(proxy.count(), before)
})
