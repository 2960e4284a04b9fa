// The cooldown (--min-release-age) through the app: upstream files younger than the minimum
// age by their PEP 700 upload-time are left off HTML, JSON and merged pages, and their URLs
// (file and .metadata) answer 403 EGGSERVE_UPSTREAM_COOLDOWN saying when they come of age,
// even once cached; local files are never affected; an HTML-only upstream gives no
// upload-time (hidden, or kept with min-release-age-undated = "keep"). The upstream is a real
// eggserve app listening on loopback (its upload-time is each file's mtime), or a static
// HTML tree on a plain node:http server; the clock is injected.
import assert from 'node:assert/strict'
import { readFile, utimes, mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, normalize } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { parseUpstreamFile } from '../../src/upstream/config-file.js'
import { resolveUpstreamConfig, type UpstreamFlags } from '../../src/upstream/upstream-settings.js'
import { UpstreamIndex } from '../../src/upstream/upstream-index.js'
import { buildTestApp } from '../helpers/build-app.js'
import { buildWheel, writeDist, type BuiltDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'
import { sha256Hex } from '../helpers/upstream-index.js'

const DAY = 86_400_000
const NOW = Date.parse('2026-06-10T12:00:00Z')
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json'

const OLD = buildWheel({ name: 'fresh', version: '1.0' })
const YOUNG = buildWheel({ name: 'fresh', version: '2.0' })
const MIXED_OLD = buildWheel({ name: 'mixed', version: '1.0' })
const MIXED_YOUNG = buildWheel({ name: 'mixed', version: '3.0' })
const MIXED_LOCAL = buildWheel({ name: 'mixed', version: '2.0' })
const LOCAL_ONLY = buildWheel({ name: 'homegrown', version: '1.0' })

/** Write `dist` into `dir` with its modification time (eggserve's upload-time) at `mtimeMs`. */
async function writeAged(dir: string, dist: BuiltDist, mtimeMs: number): Promise<void> {
  const path = await writeDist(dir, dist)
  await utimes(path, new Date(mtimeMs), new Date(mtimeMs))
}

/** A real eggserve app over `projects`, listening on loopback; its /simple/ URL. */
async function upstreamEggserve(t: TestContext, write: (root: string) => Promise<void>): Promise<string> {
  const root = await tempDir(t, 'eggserve-cooldown-upstream-')
  await write(root)
  const { app } = await buildTestApp(t, { root, hashAlgorithm: 'sha256' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${String((app.server.address() as AddressInfo).port)}/simple/`
}

/** The app under test, its upstream index built from `flags` with the clock `now`. */
async function proxyApp(
  t: TestContext,
  options: {
    flags: UpstreamFlags
    /** A configuration file's text. */
    file?: string
    cacheDir: string
    now: () => number
    local?: (root: string) => Promise<void>
  },
): Promise<FastifyInstance> {
  const root = await tempDir(t, 'eggserve-cooldown-local-')
  await options.local?.(root)
  const file =
    options.file === undefined
      ? undefined
      : parseUpstreamFile(options.file, 'eggserve.toml', {
          env: {},
          readSecret: () => {
            throw new Error('no password files here')
          },
        })
  const { app } = await buildTestApp(t, {
    root,
    hashAlgorithm: 'sha256',
    upstream: (index, log) =>
      new UpstreamIndex({
        index,
        config: resolveUpstreamConfig(options.flags, {}, file),
        cacheDir: options.cacheDir,
        log,
        now: options.now,
      }),
  })
  return app
}

function filenames(html: string): string[] {
  return [...html.matchAll(/<a [^>]*>([^<]+)<\/a>/g)].map((match) => match[1] ?? '').sort()
}

await test('young upstream files are hidden from every page and refused by URL until they come of age', async (t) => {
  const upstream = await upstreamEggserve(t, async (root) => {
    await writeAged(join(root, 'fresh'), OLD, NOW - 30 * DAY)
    await writeAged(join(root, 'fresh'), YOUNG, NOW - 2 * DAY)
    await writeAged(join(root, 'mixed'), MIXED_OLD, NOW - 30 * DAY)
    await writeAged(join(root, 'mixed'), MIXED_YOUNG, NOW - 1 * DAY)
  })
  let now = NOW
  const app = await proxyApp(t, {
    flags: { upstream: [upstream], mergeUpstream: ['mixed'], minReleaseAge: '7d', upstreamTtl: '0' },
    cacheDir: await tempDir(t, 'eggserve-cooldown-cache-'),
    now: () => now,
    local: async (root) => {
      // Local files are as young as can be, and never held.
      await writeAged(join(root, 'mixed'), MIXED_LOCAL, NOW - 60_000)
      await writeAged(join(root, 'homegrown'), LOCAL_ONLY, NOW - 60_000)
    },
  })

  await t.test('HTML and JSON pages list only the files old enough', async () => {
    const html = await app.inject({ url: '/simple/fresh/' })
    assert.equal(html.statusCode, 200)
    assert.deepEqual(filenames(html.body), [OLD.filename])
    const json = await app.inject({ url: '/simple/fresh/', headers: { accept: JSON_TYPE } })
    assert.equal(json.statusCode, 200)
    const doc = JSON.parse(json.body) as { files: { filename: string }[]; versions?: string[] }
    assert.deepEqual(
      doc.files.map((file) => file.filename),
      [OLD.filename],
    )
    assert.deepEqual(doc.versions, ['1.0'], 'PEP 700 versions list no held release')
  })

  await t.test('a merged page keeps every local file and hides the young upstream one', async () => {
    const page = await app.inject({ url: '/simple/mixed/' })
    assert.equal(page.headers['eggserve-origin'], 'merged')
    assert.deepEqual(filenames(page.body), [MIXED_OLD.filename, MIXED_LOCAL.filename].sort())
    const local = await app.inject({ url: '/simple/homegrown/' })
    assert.deepEqual(filenames(local.body), [LOCAL_ONLY.filename])
    assert.equal((await app.inject({ url: `/packages/homegrown/${LOCAL_ONLY.filename}` })).statusCode, 200)
  })

  await t.test('the young file and its .metadata answer 403 saying when they become available', async () => {
    const availableAt = new Date(NOW - 2 * DAY + 7 * DAY).toISOString()
    for (const url of [
      `/files/upstream/fresh/${YOUNG.filename}`,
      `/files/upstream/fresh/${YOUNG.filename}.metadata`,
      `/files/upstream/mixed/${MIXED_YOUNG.filename}`,
    ]) {
      for (const method of ['GET', 'HEAD'] as const) {
        const refused = await app.inject({ method, url })
        assert.equal(refused.statusCode, 403, `${method} ${url}`)
      }
    }
    const refused = await app.inject({ url: `/files/upstream/fresh/${YOUNG.filename}` })
    assert.match(refused.body, new RegExp(`becomes available at ${availableAt.replaceAll('.', '\\.')}`))
    assert.match(refused.body, /minimum release age \(7d\)/)
    const old = await app.inject({ url: `/files/upstream/fresh/${OLD.filename}` })
    assert.equal(old.statusCode, 200)
    assert.equal(sha256Hex(old.rawPayload), sha256Hex(OLD.bytes))
  })

  await t.test('once of age, the file is listed and served', async () => {
    now = NOW + 5 * DAY + 1
    const html = await app.inject({ url: '/simple/fresh/' })
    assert.deepEqual(filenames(html.body), [OLD.filename, YOUNG.filename].sort())
    const file = await app.inject({ url: `/files/upstream/fresh/${YOUNG.filename}` })
    assert.equal(file.statusCode, 200)
    assert.equal(sha256Hex(file.rawPayload), sha256Hex(YOUNG.bytes))
  })
})

await test('a file cached before the cooldown was set is refused too, without asking the upstream', async (t) => {
  const upstream = await upstreamEggserve(t, async (root) => {
    await writeAged(join(root, 'fresh'), OLD, NOW - 30 * DAY)
    await writeAged(join(root, 'fresh'), YOUNG, NOW - 2 * DAY)
  })
  const cacheDir = await tempDir(t, 'eggserve-cooldown-cache-')
  const before = await proxyApp(t, { flags: { upstream: [upstream] }, cacheDir, now: () => NOW })
  assert.equal((await before.inject({ url: '/simple/fresh/' })).statusCode, 200)
  assert.equal((await before.inject({ url: `/files/upstream/fresh/${YOUNG.filename}` })).statusCode, 200)
  // The same cache, now with a cooldown, and the upstream unreachable (offline: never asked).
  const after = await proxyApp(t, {
    flags: { upstream: [upstream], minReleaseAge: '7d', offline: true },
    cacheDir,
    now: () => NOW,
  })
  const refused = await after.inject({ url: `/files/upstream/fresh/${YOUNG.filename}` })
  assert.equal(refused.statusCode, 403)
  assert.match(refused.body, /held back by the minimum release age/)
  const page = await after.inject({ url: '/simple/fresh/' })
  assert.equal(page.statusCode, 200)
  assert.deepEqual(filenames(page.body), [], 'offline lists cached files only, and the one cached is held')
})

await test('an HTML-only upstream gives no upload-time: its files are hidden, or kept when asked', async (t) => {
  const root = await tempDir(t, 'eggserve-cooldown-static-')
  await mkdir(join(root, 'simple', 'fresh'), { recursive: true })
  await writeDist(join(root, 'files'), OLD)
  await writeFile(
    join(root, 'simple', 'fresh', 'index.html'),
    `<!DOCTYPE html><html><body><a href="/files/${OLD.filename}#sha256=${sha256Hex(OLD.bytes)}">${OLD.filename}</a></body></html>\n`,
  )
  // A plain static web server, as a mirror written to disk is served.
  const server = createServer((request, response) => {
    const path = normalize(new URL(request.url ?? '/', 'http://static').pathname)
    const file = path.endsWith('/') ? join(root, path, 'index.html') : join(root, path)
    readFile(file).then(
      (body) => {
        response.writeHead(200, { 'content-type': path.endsWith('/') ? 'text/html' : 'application/octet-stream' })
        response.end(body)
      },
      () => {
        response.writeHead(404).end()
      },
    )
  })
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve)
  })
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      }),
  )
  const upstream = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/simple/`

  const hiding = await proxyApp(t, {
    flags: { upstream: [upstream], minReleaseAge: '1d' },
    cacheDir: await tempDir(t, 'eggserve-cooldown-cache-'),
    now: () => NOW,
  })
  assert.deepEqual(filenames((await hiding.inject({ url: '/simple/fresh/' })).body), [])
  const refused = await hiding.inject({ url: `/files/upstream/fresh/${OLD.filename}` })
  assert.equal(refused.statusCode, 403)
  assert.match(refused.body, /no upload time/)

  // "keep" is a setting of the configuration file.
  const keeping = await proxyApp(t, {
    flags: {},
    file: `[[upstream]]\nurl = "${upstream}"\nmin-release-age = "1d"\nmin-release-age-undated = "keep"\n`,
    cacheDir: await tempDir(t, 'eggserve-cooldown-cache-'),
    now: () => NOW,
  })
  assert.deepEqual(filenames((await keeping.inject({ url: '/simple/fresh/' })).body), [OLD.filename])
  const served = await keeping.inject({ url: `/files/upstream/fresh/${OLD.filename}` })
  assert.equal(served.statusCode, 200)
  assert.equal(sha256Hex(served.rawPayload), sha256Hex(OLD.bytes))
})
