// The name rule answered from memory (UpstreamIndex.resolveNow): a cached upstream page is sent
// without waiting, as a local page is, and yet gives way to whatever resolve() must look at: the
// TTL, a purge, a held file coming of age, the local tree. The upstream is a real eggserve app
// listening on loopback (its upload-time is each file's mtime); the proxy's local tree is
// watched, as the daemon's is; the upstream clock is injected.
import assert from 'node:assert/strict'
import { utimes } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { purgeProject } from '../../src/upstream/cache-purge.js'
import type { UpstreamObserver } from '../../src/upstream/upstream-observer.js'
import { resolveUpstreamConfig, type UpstreamFlags } from '../../src/upstream/upstream-settings.js'
import { UpstreamIndex } from '../../src/upstream/upstream-index.js'
import { buildTestApp } from '../helpers/build-app.js'
import { buildWheel, writeDist, type BuiltDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'

const HOUR = 3_600_000
const NOW = Date.parse('2026-06-10T12:00:00Z')
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json'

const REMOTE = buildWheel({ name: 'remote', version: '1.0' })
const YOUNG = buildWheel({ name: 'remote', version: '2.0' })
const LOCAL = buildWheel({ name: 'homegrown', version: '1.0' })

async function writeAged(dir: string, dist: BuiltDist, mtimeMs: number): Promise<void> {
  const path = await writeDist(dir, dist)
  await utimes(path, new Date(mtimeMs), new Date(mtimeMs))
}

/** A real eggserve app (the upstream) listening on loopback; its /simple/ URL. */
async function upstreamEggserve(t: TestContext): Promise<string> {
  const root = await tempDir(t, 'eggserve-now-upstream-')
  await writeAged(join(root, 'remote'), REMOTE, NOW - 30 * 24 * HOUR)
  // Old enough at NOW + 1 h under a minimum release age of 1 h.
  await writeAged(join(root, 'remote'), YOUNG, NOW - 30 * 60_000)
  const { app } = await buildTestApp(t, { root, hashAlgorithm: 'sha256' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${String((app.server.address() as AddressInfo).port)}/simple/`
}

interface Proxy {
  readonly app: FastifyInstance
  readonly upstream: UpstreamIndex
  readonly cacheDir: string
  /** Page lookups the observer was told of, 'hit' or 'miss'. */
  readonly lookups: string[]
}

/** The app under test over a watched local tree holding `homegrown`, its upstream index built from `flags`. */
async function proxyApp(
  t: TestContext,
  options: { flags: UpstreamFlags; now: () => number; cacheDir?: string },
): Promise<Proxy> {
  const root = await tempDir(t, 'eggserve-now-local-')
  await writeDist(join(root, 'homegrown'), LOCAL)
  const cacheDir = options.cacheDir ?? (await tempDir(t, 'eggserve-now-cache-'))
  const lookups: string[] = []
  const observer: UpstreamObserver = {
    requested: () => undefined,
    pageLookup: (_upstream, result) => {
      lookups.push(result)
    },
    stalePage: () => undefined,
    fileLookup: () => undefined,
    joined: () => undefined,
    hashMismatch: () => undefined,
    breakerOpened: () => undefined,
  }
  let upstream: UpstreamIndex | undefined
  const { app } = await buildTestApp(t, {
    root,
    hashAlgorithm: 'sha256',
    watch: true,
    upstream: (index, log) => {
      upstream = new UpstreamIndex({
        index,
        config: resolveUpstreamConfig(options.flags, {}),
        cacheDir,
        log,
        now: options.now,
        observer,
      })
      return upstream
    },
  })
  t.after(() => upstream?.close())
  return { app, upstream: upstream ?? assert.fail('no upstream index'), cacheDir, lookups }
}

// resolve() twice: the first may ask the upstream (slow on a loaded machine); the second finds
// everything fresh, so resolveNow() right after it is within every "checked lately" interval.
// The cached page is written to the cache directory first: the purge log's folder is then
// there to be watched (before, every request stats the log).
async function settled(upstream: UpstreamIndex, name: string): Promise<Awaited<ReturnType<UpstreamIndex['resolve']>>> {
  await upstream.resolve(name)
  await upstream.cachedProjectsChecked()
  return upstream.resolve(name)
}

await test('a cached upstream page resolves from memory: the same answer each time, no upstream request', async (t) => {
  const url = await upstreamEggserve(t)
  let now = NOW
  const { app, upstream, lookups } = await proxyApp(t, {
    flags: { upstream: [url], upstreamTtl: '600', neverUpstream: ['secret-*'] },
    now: () => now,
  })
  assert.equal(upstream.resolveNow('remote'), undefined, 'not in memory yet: resolve() reads and asks')
  const resolved = await settled(upstream, 'remote')
  const requests = upstream.pageRequests
  const found = upstream.resolveNow('remote')
  assert.equal(found?.kind, 'upstream')
  assert.deepEqual(found, resolved)
  assert.equal(upstream.resolveNow('remote'), found, 'one object for every request of an unchanged page')
  assert.equal(upstream.pageRequests, requests)
  // Counted as resolve() counts them: every lookup answered from memory is a hit.
  lookups.length = 0
  upstream.resolveNow('remote')
  assert.deepEqual(lookups, ['hit'])

  assert.equal((await settled(upstream, 'homegrown')).kind, 'local')
  assert.equal(upstream.resolveNow('homegrown')?.kind, 'local', 'a local name never reaches the upstreams')
  assert.equal((await settled(upstream, 'secret-thing')).kind, 'not-found')
  assert.equal(upstream.resolveNow('secret-thing')?.kind, 'not-found', 'never-upstream')
  assert.equal(upstream.pageRequests, requests, 'neither was asked upstream')

  // The pages the fast path sends are the pages: headers, 304, JSON.
  const page = await app.inject({ url: '/simple/remote/' })
  assert.equal(page.statusCode, 200)
  assert.equal(page.headers['eggserve-origin'], 'upstream')
  assert.match(String(page.headers.age), /^\d+$/)
  assert.ok(page.body.includes(REMOTE.filename))
  const again = await app.inject({ url: '/simple/remote/', headers: { 'if-none-match': String(page.headers.etag) } })
  assert.equal(again.statusCode, 304)
  const json = await app.inject({ url: '/simple/remote/', headers: { accept: JSON_TYPE } })
  assert.equal(json.headers['content-type'], JSON_TYPE)
  assert.equal(upstream.pageRequests, requests)

  now += 600_000
  assert.equal(upstream.resolveNow('remote'), undefined, 'past the TTL: the upstream is asked again')
  await settled(upstream, 'remote')
  assert.equal(upstream.pageRequests, requests + 1, 'revalidated once')
  assert.equal(upstream.resolveNow('remote')?.kind, 'upstream')
})

await test('a purge of a cached page makes resolveNow() give way: the next request asks the upstream again', async (t) => {
  const url = await upstreamEggserve(t)
  const { upstream, cacheDir } = await proxyApp(t, { flags: { upstream: [url] }, now: () => NOW })
  await settled(upstream, 'remote')
  assert.equal(upstream.resolveNow('remote')?.kind, 'upstream')
  const requests = upstream.pageRequests
  await purgeProject(cacheDir, 'remote')
  // The log's event (or, at the latest, PURGE_CHECK_INTERVAL_MS) makes the next check read it.
  // The local tree is looked at before each try, so that only the purge can stop resolveNow().
  for (let waited = 0; ; waited += 20) {
    await upstream.local.findProject('remote')
    if (upstream.resolveNow('remote') === undefined) break
    if (waited > 10_000) assert.fail('resolveNow() kept answering a purged page from memory')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.equal((await upstream.resolve('remote')).kind, 'upstream')
  assert.equal(upstream.pageRequests, requests + 1, 'the purged page was forgotten and fetched again')
})

await test('under a minimum release age, a held file coming of age changes the page answered from memory', async (t) => {
  const url = await upstreamEggserve(t)
  let now = NOW
  const { app, upstream } = await proxyApp(t, {
    flags: { upstream: [url], upstreamTtl: String((24 * HOUR) / 1000), minReleaseAge: '1h' },
    now: () => now,
  })
  const before = await settled(upstream, 'remote')
  assert.equal(before.kind, 'upstream')
  const held = upstream.resolveNow('remote')
  assert.ok(held?.kind === 'upstream')
  assert.deepEqual([...held.view.held.keys()], [YOUNG.filename])
  assert.ok(!(await app.inject({ url: '/simple/remote/' })).body.includes(YOUNG.filename))
  now += HOUR
  const grown = upstream.resolveNow('remote')
  assert.ok(grown?.kind === 'upstream', 'still within the TTL: from memory')
  assert.deepEqual(grown.view.held.size, 0)
  assert.deepEqual(
    grown.view.page.files.map((file) => file.filename),
    [REMOTE.filename, YOUNG.filename],
  )
  assert.notEqual(grown.view.version, held.view.version, 'a new page version: rendered again')
  assert.ok((await app.inject({ url: '/simple/remote/' })).body.includes(YOUNG.filename))
})

await test('offline: a cached page is answered from memory past its TTL; an uncached name still waits for resolve()', async (t) => {
  const url = await upstreamEggserve(t)
  const cacheDir = await tempDir(t, 'eggserve-now-offline-cache-')
  // Cache the page online first, in the same cache directory.
  const online = await proxyApp(t, { flags: { upstream: [url] }, now: () => NOW, cacheDir })
  await settled(online.upstream, 'remote')
  await online.upstream.cachedProjectsChecked()
  let now = NOW
  const { upstream } = await proxyApp(t, { flags: { upstream: [url], offline: true }, now: () => now, cacheDir })
  assert.equal(upstream.resolveNow('remote'), undefined, 'read from the disk first')
  await settled(upstream, 'remote')
  now += 30 * 24 * HOUR
  assert.equal(upstream.resolveNow('remote')?.kind, 'upstream')
  assert.equal(upstream.resolveNow('elsewhere'), undefined)
  assert.deepEqual(await upstream.resolve('elsewhere'), { kind: 'unavailable', offline: true })
  assert.equal(upstream.pageRequests, 0, 'offline: never asked')
})
