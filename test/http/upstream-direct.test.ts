// Direct downloads (--upstream-direct-downloads, `direct-downloads` per upstream;
// docs/upstream.md, "Direct downloads"): every page format lists an upstream file at the
// upstream's own absolute URL with the upstream page's hash, its PEP 658 metadata at that URL
// plus ".metadata" with a matching digest, local files of merged projects at local URLs, the
// cooldown still hides young files, the local file URL still works (proxied), and offline the
// cached files come back at local URLs. The upstream is a real eggserve app listening on
// loopback behind the counting fault proxy.
import assert from 'node:assert/strict'
import { utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { resolveUpstreamConfig, type UpstreamFlags } from '../../src/upstream/upstream-settings.js'
import { UpstreamIndex } from '../../src/upstream/upstream-index.js'
import { buildTestApp } from '../helpers/build-app.js'
import { buildSdist, buildWheel, writeDist, type BuiltDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy, type UpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { sha256Hex } from '../helpers/upstream-index.js'

const DAY = 86_400_000
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json'
const UP_10 = buildWheel({ name: 'updemo', version: '1.0', requiresPython: '>=3.6' })
const UP_10_SDIST = buildSdist({ name: 'updemo', version: '1.0' })
const UP_YOUNG = buildWheel({ name: 'updemo', version: '2.0' })
const SHARED_LOCAL = buildWheel({ name: 'shared', version: '1.0' })
const SHARED_UP = buildWheel({ name: 'shared', version: '2.0' })

async function writeAged(dir: string, dist: BuiltDist, ageMs: number): Promise<void> {
  const path = await writeDist(dir, dist)
  const when = new Date(Date.now() - ageMs)
  await utimes(path, when, when)
}

/** The upstream (a real eggserve app) behind the counting proxy. */
async function startUpstream(t: TestContext): Promise<UpstreamFaultProxy> {
  const root = await tempDir(t, 'eggserve-direct-upstream-')
  await writeAged(join(root, 'updemo'), UP_10, 30 * DAY)
  await writeAged(join(root, 'updemo'), UP_10_SDIST, 30 * DAY)
  // Younger than the cooldown below: hidden, direct downloads or not.
  await writeAged(join(root, 'updemo'), UP_YOUNG, DAY)
  await writeAged(join(root, 'shared'), SHARED_UP, 30 * DAY)
  const { app } = await buildTestApp(t, { root, hashAlgorithm: 'sha256', ui: false })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  assert.ok(address !== null && typeof address === 'object')
  return startUpstreamFaultProxy(t, `http://127.0.0.1:${String(address.port)}`)
}

async function proxyApp(
  t: TestContext,
  options: { flags: UpstreamFlags; cacheDir: string; localRoot: string },
): Promise<FastifyInstance> {
  const { app } = await buildTestApp(t, {
    root: options.localRoot,
    hashAlgorithm: 'sha256',
    upstream: (index, log) =>
      new UpstreamIndex({
        index,
        config: resolveUpstreamConfig(options.flags, {}),
        cacheDir: options.cacheDir,
        log,
      }),
  })
  return app
}

async function get(app: FastifyInstance, url: string, accept?: string) {
  return app.inject({ url, headers: { host: 'index.example', ...(accept === undefined ? {} : { accept }) } })
}

/** Requests the proxy saw for files (distributions and their metadata). */
function fileRequests(proxy: UpstreamFaultProxy): number {
  return proxy.count('/packages/*')
}

await test('direct downloads: upstream URLs in every format, local ones for local files', async (t) => {
  const proxy = await startUpstream(t)
  const cacheDir = await tempDir(t, 'eggserve-direct-cache-')
  const localRoot = await tempDir(t, 'eggserve-direct-local-')
  await writeDist(join(localRoot, 'shared'), SHARED_LOCAL)
  const flags: UpstreamFlags = {
    upstream: [`${proxy.url}/simple/`],
    mergeUpstream: ['shared'],
    minReleaseAge: '7d',
    upstreamDirectDownloads: true,
  }
  const app = await proxyApp(t, { flags, cacheDir, localRoot })
  const direct = (dist: BuiltDist): string =>
    `${proxy.url}/packages/${dist.filename.split('-')[0] ?? ''}/${dist.filename}`

  await t.test('PEP 503 HTML: absolute upstream URLs with the hash, PEP 658 metadata at URL + .metadata', async () => {
    const res = await get(app, '/simple/updemo/')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.headers['eggserve-origin'], 'upstream')
    assert.ok(!res.body.includes('files/upstream'), res.body)
    assert.ok(!res.body.includes(UP_YOUNG.filename), 'the cooldown still hides the young file')
    const link = new RegExp(
      `<a href="${direct(UP_10)}#sha256=${sha256Hex(UP_10.bytes)}"[^>]*data-core-metadata="sha256=([0-9a-f]{64})"[^>]*data-eggserve-origin="upstream"`,
    ).exec(res.body)
    assert.ok(link !== null, res.body)
    assert.ok(res.body.includes(`<a href="${direct(UP_10_SDIST)}#sha256=${sha256Hex(UP_10_SDIST.bytes)}"`), res.body)
    assert.equal(fileRequests(proxy), 0, 'listing asks the upstream for no file')
    // What a client does with the link: the metadata from the upstream matches the digest listed.
    const metadata = await fetch(`${direct(UP_10)}.metadata`)
    assert.equal(metadata.status, 200)
    assert.equal(sha256Hex(new Uint8Array(await metadata.arrayBuffer())), link[1])
  })

  await t.test('PEP 691 JSON: absolute URLs, the hashes, core-metadata and the origin', async () => {
    const res = await get(app, '/simple/updemo/', JSON_TYPE)
    const doc = JSON.parse(res.body) as {
      files: { filename: string; url: string; hashes: Record<string, string>; 'core-metadata'?: unknown }[]
    }
    const wheel = doc.files.find((file) => file.filename === UP_10.filename)
    assert.ok(wheel !== undefined, res.body)
    assert.equal(wheel.url, direct(UP_10))
    assert.equal(wheel.hashes.sha256, sha256Hex(UP_10.bytes))
    assert.ok(typeof wheel['core-metadata'] === 'object', res.body)
    assert.deepEqual(
      doc.files.map((file) => file.filename),
      [UP_10.filename, UP_10_SDIST.filename].sort(),
    )
  })

  await t.test('the original tree, the PyPI JSON API and the UI carry the same URLs', async () => {
    const legacy = await get(app, '/updemo/')
    assert.ok(legacy.body.includes(`<a href="${direct(UP_10)}#sha256=${sha256Hex(UP_10.bytes)}"`), legacy.body)
    const api = JSON.parse((await get(app, '/pypi/updemo/json')).body) as {
      urls: { filename: string; url: string; '_eggserve-origin': string }[]
    }
    assert.deepEqual(
      api.urls.map((file) => [file.url, file['_eggserve-origin']]).sort(),
      [
        [direct(UP_10), 'upstream'],
        [direct(UP_10_SDIST), 'upstream'],
      ].sort(),
    )
    const ui = await get(app, '/-/project/updemo/')
    assert.equal(ui.statusCode, 200)
    assert.ok(ui.body.includes(`href="${direct(UP_10)}"`), ui.body)
    assert.ok(ui.body.includes(`href="${direct(UP_10)}.metadata"`), ui.body)
    assert.match(ui.body, new RegExp(`aria-label="${UP_10.filename}" data-eggserve-origin="upstream"`))
    // The JSON API's info and the UI read the release's PEP 658 metadata once (cached since), so
    // the upstream saw two metadata requests (the test's own and that one) and no distribution.
    assert.equal(
      fileRequests(proxy),
      2,
      "the metadata the test fetched itself, and the one eggserve read for the release's info",
    )
    assert.equal(proxy.countMatching('.metadata'), 2, 'metadata requests only: eggserve downloads no distribution')
  })

  await t.test('a merged project: the local file at its local URL, the upstream file at the upstream', async () => {
    const html = (await get(app, '/simple/shared/')).body
    assert.match(
      html,
      new RegExp(
        `href="../../packages/shared/${SHARED_LOCAL.filename}#sha256=[0-9a-f]{64}"[^>]*data-eggserve-origin="local"`,
      ),
    )
    assert.match(
      html,
      new RegExp(
        `href="${direct(SHARED_UP)}#sha256=${sha256Hex(SHARED_UP.bytes)}"[^>]*data-eggserve-origin="upstream"`,
      ),
    )
  })

  await t.test('the local URL still works, proxied; the page keeps the upstream URL', async () => {
    const before = fileRequests(proxy)
    const res = await get(app, `/files/upstream/updemo/${UP_10.filename}`)
    assert.equal(res.statusCode, 200)
    assert.equal(sha256Hex(res.rawPayload), sha256Hex(UP_10.bytes))
    assert.equal(fileRequests(proxy), before + 1)
    assert.ok((await get(app, '/simple/updemo/')).body.includes(`href="${direct(UP_10)}#sha256=`))
    assert.equal((await get(app, `/files/upstream/updemo/${UP_YOUNG.filename}`)).statusCode, 403)
  })

  await t.test('offline: only the cached files, at local URLs', async () => {
    const offline = await proxyApp(t, { flags: { ...flags, offline: true }, cacheDir, localRoot })
    const html = (await get(offline, '/simple/updemo/')).body
    assert.ok(
      html.includes(`href="../../files/upstream/updemo/${UP_10.filename}#sha256=${sha256Hex(UP_10.bytes)}"`),
      html,
    )
    assert.ok(!html.includes(proxy.url) && !html.includes(UP_10_SDIST.filename), html)
  })
})

await test('without direct downloads no page links a file at the upstream', async (t) => {
  const proxy = await startUpstream(t)
  const app = await proxyApp(t, {
    flags: { upstream: [`${proxy.url}/simple/`], mergeUpstream: ['shared'] },
    cacheDir: await tempDir(t, 'eggserve-direct-off-cache-'),
    localRoot: await tempDir(t, 'eggserve-direct-off-local-'),
  })
  // The UI names the upstream as the files' origin (its URL without credentials); no page links to its files.
  const files = `${new URL(proxy.url).host}/packages/`
  for (const [url, accept] of [
    ['/simple/updemo/', undefined],
    ['/simple/updemo/', JSON_TYPE],
    ['/updemo/', undefined],
    ['/pypi/updemo/json', undefined],
    ['/-/project/updemo/', undefined],
  ] as const) {
    const res = await get(app, url, accept)
    assert.equal(res.statusCode, 200, `${url} ${res.body}`)
    assert.ok(res.body.includes('-py3-none-any.whl'), url)
    assert.ok(!res.body.includes(files), `${url} links the upstream: ${res.body}`)
  }
})

await test('direct downloads and a pinned file whose upstream hash changed: pin lists the local copy, follow the upstream', async (t) => {
  const proxy = await startUpstream(t)
  const cacheDir = await tempDir(t, 'eggserve-direct-pin-cache-')
  const localRoot = await tempDir(t, 'eggserve-direct-pin-local-')
  // A TTL of 0: every page request asks the upstream again, so the changed hash is seen at once.
  const flags: UpstreamFlags = {
    upstream: [`${proxy.url}/simple/`],
    upstreamDirectDownloads: true,
    upstreamTtl: '0',
    minReleaseAge: '7d',
  }
  const pinning = await proxyApp(t, { flags, cacheDir, localRoot })
  const pinned = sha256Hex(UP_10.bytes)
  const changed = sha256Hex(new TextEncoder().encode('other bytes under the same filename'))
  const direct = `${proxy.url}/packages/updemo/${UP_10.filename}`
  const local = `files/upstream/updemo/${UP_10.filename}`

  // A client fetched the wheel through eggserve: it is cached, its sha256 pinned.
  const first = await get(pinning, `/${local}`)
  assert.equal(first.statusCode, 200)
  assert.equal(sha256Hex(first.rawPayload), pinned)
  // From now on the upstream's pages give that filename another sha256.
  proxy.setRules([
    {
      match: (request) => request.path.startsWith('/simple/'),
      fault: { kind: 'rewrite', from: pinned, to: changed },
    },
  ])

  /** What each format lists for the wheel: its URL and sha256. */
  const listings = async (app: FastifyInstance): Promise<Record<string, { url: string; sha256: string }>> => {
    const found: Record<string, { url: string; sha256: string }> = {}
    const anchor = (body: string): { url: string; sha256: string } => {
      const match = new RegExp(`<a href="([^"#]*${UP_10.filename})#sha256=([0-9a-f]{64})"`).exec(body)
      assert.ok(match !== null, body)
      return { url: match[1] ?? '', sha256: match[2] ?? '' }
    }
    found.html = anchor((await get(app, '/simple/updemo/')).body)
    const json = JSON.parse((await get(app, '/simple/updemo/', JSON_TYPE)).body) as {
      files: { filename: string; url: string; hashes: Record<string, string> }[]
    }
    const entry = json.files.find((file) => file.filename === UP_10.filename)
    assert.ok(entry !== undefined)
    found.json = { url: entry.url, sha256: entry.hashes.sha256 ?? '' }
    found.legacy = anchor((await get(app, '/updemo/')).body)
    const api = JSON.parse((await get(app, '/pypi/updemo/json')).body) as {
      urls: { filename: string; url: string; digests: Record<string, string> }[]
    }
    const url = api.urls.find((file) => file.filename === UP_10.filename)
    assert.ok(url !== undefined)
    found.pypiJson = { url: url.url, sha256: url.digests.sha256 ?? '' }
    const ui = (await get(app, '/-/project/updemo/')).body
    const link = new RegExp(`href="([^"]*${UP_10.filename})"`).exec(ui)
    assert.ok(link !== null, ui)
    found.ui = { url: link[1] ?? '', sha256: '' }
    return found
  }

  await t.test('pin (the default): every format lists the cached bytes at the local URL with their hash', async () => {
    const found = await listings(pinning)
    for (const [format, { url, sha256 }] of Object.entries(found)) {
      assert.ok(!url.startsWith(proxy.url), `${format} lists the upstream's URL: ${url}`)
      // The original tree links bare filenames, next to its project page.
      assert.ok(url.endsWith(format === 'legacy' ? UP_10.filename : local), `${format}: ${url}`)
      if (format !== 'ui') assert.equal(sha256, pinned, format)
    }
    assert.ok(!(await get(pinning, '/simple/updemo/')).body.includes(changed))
    // The sdist is not cached: it stays at the upstream's URL.
    assert.ok(
      (await get(pinning, '/simple/updemo/')).body.includes(`${proxy.url}/packages/updemo/${UP_10_SDIST.filename}`),
    )
    // What pip downloads from that URL: the pinned bytes.
    const again = await get(pinning, `/${local}`)
    assert.equal(sha256Hex(again.rawPayload), pinned)
  })

  await t.test('follow: the upstream URL and its new hash, in every format', async () => {
    const following = await proxyApp(t, { flags: { ...flags, upstreamHashChange: 'follow' }, cacheDir, localRoot })
    const found = await listings(following)
    for (const [format, { url, sha256 }] of Object.entries(found)) {
      assert.equal(url, direct, format)
      if (format !== 'ui') assert.equal(sha256, changed, format)
    }
  })
})
