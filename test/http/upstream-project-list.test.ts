// The browse UI's list of upstream projects after a start (docs/ui.md, "Upstream projects"): it
// comes from the list of cached pages kept in the cache directory (`projects.list`), not from
// reading every cached page before the first answer; pages the list does not describe are read
// (a few at once, the rest in the background), and purged ones are never listed. Through
// app.inject, with a real eggserve upstream on loopback behind the counting fault proxy.
import assert from 'node:assert/strict'
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { purgeProject } from '../../src/upstream/cache-purge.js'
import { UpstreamIndex } from '../../src/upstream/upstream-index.js'
import { resolveUpstreamConfig } from '../../src/upstream/upstream-settings.js'
import { buildTestApp } from '../helpers/build-app.js'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy, type UpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'

const PROJECTS = ['alpha-up', 'beta-up', 'gamma-up']

async function startUpstream(t: TestContext): Promise<string> {
  return (await startCountedUpstream(t)).url
}

async function startCountedUpstream(t: TestContext): Promise<{ url: string; proxy: UpstreamFaultProxy }> {
  const root = await tempDir(t, 'eggserve-list-up-')
  for (const name of [...PROJECTS, 'delta-up'])
    await writeDist(join(root, name), buildWheel({ name, version: '1.5', summary: `the ${name} project` }))
  const { app } = await buildTestApp(t, { root, ui: false })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  assert.ok(address !== null && typeof address === 'object')
  const proxy = await startUpstreamFaultProxy(t, `http://127.0.0.1:${String(address.port)}`)
  return { url: `${proxy.url}/simple/`, proxy }
}

async function proxyApp(
  t: TestContext,
  options: { url: string; cacheDir: string },
): Promise<{ app: FastifyInstance; upstream: UpstreamIndex }> {
  let upstream: UpstreamIndex | undefined
  const { app } = await buildTestApp(t, {
    root: await tempDir(t, 'eggserve-list-local-'),
    // The catalog asks for the upstream rows on every request, not once a second.
    ui: { catalogTtlMs: 0 },
    upstream: (index, log) => {
      upstream = new UpstreamIndex({
        index,
        config: resolveUpstreamConfig({ upstream: [options.url] }, {}),
        cacheDir: options.cacheDir,
        log,
      })
      return upstream
    },
  })
  assert.ok(upstream !== undefined)
  return { app, upstream }
}

async function listed(app: FastifyInstance): Promise<string[]> {
  const res = await app.inject({ url: '/-/api/search?q=-up', headers: { host: 'index.example' } })
  assert.equal(res.statusCode, 200, res.body)
  return res
    .json<{ results: { project: string; version: string | null }[] }>()
    .results.map((row) => `${row.project} ${String(row.version)}`)
    .sort()
}

/** The folder of the upstream's stored pages (one per upstream under upstream/pages/). */
async function pagesDir(cacheDir: string): Promise<string> {
  const [id] = await readdir(join(cacheDir, 'upstream', 'pages'))
  assert.ok(id !== undefined)
  return join(cacheDir, 'upstream', 'pages', id)
}

await test('after a start the list comes from projects.list, without reading every cached page', async (t) => {
  const url = await startUpstream(t)
  const cacheDir = await tempDir(t, 'eggserve-list-cache-')
  const first = await proxyApp(t, { url, cacheDir })
  for (const name of PROJECTS) assert.equal((await first.app.inject({ url: `/simple/${name}/` })).statusCode, 200)
  assert.deepEqual(await listed(first.app), ['alpha-up 1.5', 'beta-up 1.5', 'gamma-up 1.5'])
  await first.upstream.cachedProjectsChecked()
  const dir = await pagesDir(cacheDir)
  assert.ok((await readFile(join(dir, 'projects.list'), 'utf8')).includes('"gamma-up"'))

  // Every cached page becomes unreadable while keeping its size and mtime: a server that reads
  // the pages to list them lists nothing; one that trusts the list lists them all.
  for (const name of PROJECTS) {
    const path = join(dir, `${name}.json`)
    const before = await stat(path)
    await writeFile(path, ' '.repeat(before.size))
    await utimes(path, before.atime, before.mtime)
  }
  const second = await proxyApp(t, { url, cacheDir })
  assert.deepEqual(await listed(second.app), ['alpha-up 1.5', 'beta-up 1.5', 'gamma-up 1.5'])

  // A purge by another process: the running server forgets it (purged.log), a new one never lists it.
  await purgeProject(cacheDir, 'beta-up')
  assert.deepEqual((await second.upstream.cachedProjects()).projects.map((row) => row.project).sort(), [
    'alpha-up',
    'gamma-up',
  ])
  await second.upstream.cachedProjectsChecked()
  const third = await proxyApp(t, { url, cacheDir })
  assert.deepEqual(await listed(third.app), ['alpha-up 1.5', 'gamma-up 1.5'])
})

await test('a page stored by another process that the list does not name is read and listed', async (t) => {
  const url = await startUpstream(t)
  const cacheDir = await tempDir(t, 'eggserve-list-cache-')
  const one = await proxyApp(t, { url, cacheDir })
  assert.equal((await one.app.inject({ url: '/simple/alpha-up/' })).statusCode, 200)
  assert.deepEqual(await listed(one.app), ['alpha-up 1.5'])
  await one.upstream.cachedProjectsChecked()
  // Another worker on the same cache directory stores a page; this one's list file is older.
  const list = await readFile(join(await pagesDir(cacheDir), 'projects.list'), 'utf8')
  const other = await proxyApp(t, { url, cacheDir })
  assert.equal((await other.app.inject({ url: '/simple/delta-up/' })).statusCode, 200)
  await other.upstream.cachedProjectsChecked()
  await writeFile(join(await pagesDir(cacheDir), 'projects.list'), list)
  const restarted = await proxyApp(t, { url, cacheDir })
  assert.deepEqual(await listed(restarted.app), ['alpha-up 1.5', 'delta-up 1.5'])
})

await test('upstream rows carry the summary of a release whose metadata is cached, never fetched for the list', async (t) => {
  const { url, proxy } = await startCountedUpstream(t)
  const cacheDir = await tempDir(t, 'eggserve-list-cache-')
  const { app, upstream } = await proxyApp(t, { url, cacheDir })
  const summaries = async (): Promise<Record<string, unknown>> => {
    await app.inject({ url: '/-/', headers: { host: 'index.example' } })
    await upstream.cachedSummariesRead()
    const res = await app.inject({ url: '/-/api/search?q=-up', headers: { host: 'index.example' } })
    return Object.fromEntries(
      res.json<{ results: { project: string; summary: unknown }[] }>().results.map((row) => [row.project, row.summary]),
    )
  }
  for (const name of ['alpha-up', 'beta-up', 'gamma-up'])
    assert.equal((await app.inject({ url: `/simple/${name}/` })).statusCode, 200)
  // pip's download of one wheel and of another's PEP 658 metadata; nothing of gamma-up.
  const wheel = buildWheel({ name: 'alpha-up', version: '1.5' }).filename
  const other = buildWheel({ name: 'beta-up', version: '1.5' }).filename
  assert.equal((await app.inject({ url: `/files/upstream/alpha-up/${wheel}` })).statusCode, 200)
  assert.equal((await app.inject({ url: `/files/upstream/beta-up/${other}.metadata` })).statusCode, 200)
  const before = proxy.count()
  assert.deepEqual(await summaries(), {
    'alpha-up': 'the alpha-up project',
    'beta-up': 'the beta-up project',
    'gamma-up': null,
  })
  assert.equal(proxy.count(), before, 'listing asked the upstream nothing')
  // Searching finds an upstream project by its summary too.
  const found = await app.inject({ url: '/-/api/search?q=beta-up%20project', headers: { host: 'index.example' } })
  assert.deepEqual(
    found.json<{ results: { project: string }[] }>().results.map((row) => row.project),
    ['beta-up'],
  )
  // The home page shows it in the row.
  assert.match((await app.inject({ url: '/-/', headers: { host: 'index.example' } })).body, /the alpha-up project/)
  // A purge takes the summary away with the row.
  await purgeProject(cacheDir, 'alpha-up')
  assert.equal(
    (await upstream.cachedProjects()).projects.find((row) => row.project === 'alpha-up'),
    undefined,
  )
})

await test('summaries are kept in projects.list: after a restart they are shown without reading any metadata', async (t) => {
  const { url, proxy } = await startCountedUpstream(t)
  const cacheDir = await tempDir(t, 'eggserve-list-cache-')
  const summaries = async (running: { app: FastifyInstance }): Promise<Record<string, unknown>> => {
    const res = await running.app.inject({ url: '/-/api/search?q=-up', headers: { host: 'index.example' } })
    return Object.fromEntries(
      res.json<{ results: { project: string; summary: unknown }[] }>().results.map((row) => [row.project, row.summary]),
    )
  }
  const first = await proxyApp(t, { url, cacheDir })
  for (const name of ['alpha-up', 'beta-up', 'gamma-up'])
    assert.equal((await first.app.inject({ url: `/simple/${name}/` })).statusCode, 200)
  const wheel = buildWheel({ name: 'alpha-up', version: '1.5' }).filename
  const other = `${buildWheel({ name: 'beta-up', version: '1.5' }).filename}.metadata`
  assert.equal((await first.app.inject({ url: `/files/upstream/alpha-up/${wheel}` })).statusCode, 200)
  assert.equal((await first.app.inject({ url: `/files/upstream/beta-up/${other}` })).statusCode, 200)
  await summaries(first)
  await first.upstream.cachedSummariesRead()
  const expected = { 'alpha-up': 'the alpha-up project', 'beta-up': 'the beta-up project', 'gamma-up': null }
  assert.deepEqual(await summaries(first), expected)
  const listFile = join(await pagesDir(cacheDir), 'projects.list')
  // Written in the background once the summaries are read.
  await first.upstream.cachedProjectsChecked()
  assert.match(await readFile(listFile, 'utf8'), /the alpha-up project[^]*the beta-up project/)

  // The cached metadata changes under the server's feet: a server that reads it again shows
  // "read again" for beta-up and nothing for alpha-up; one that kept the summaries shows them.
  const files = join(cacheDir, 'upstream', 'files')
  await writeFile(
    join(files, 'beta-up', other),
    'Metadata-Version: 2.1\nName: beta-up\nVersion: 1.5\nSummary: read again\n',
  )
  await writeFile(join(files, 'alpha-up', wheel), Buffer.alloc((await stat(join(files, 'alpha-up', wheel))).size))
  const before = proxy.count()
  const second = await proxyApp(t, { url, cacheDir })
  assert.deepEqual(await summaries(second), expected, 'the first listing after the restart has them')
  await second.upstream.cachedSummariesRead()
  assert.deepEqual(await summaries(second), expected, 'and nothing read them again')
  assert.equal(proxy.count(), before, 'the upstream was asked nothing')
  await second.upstream.cachedProjectsChecked()

  // A list an older eggserve wrote (rows without summaries) is still read; its summaries are read in the background.
  const doc = JSON.parse(await readFile(listFile, 'utf8')) as { projects: Record<string, unknown>[] }
  for (const row of doc.projects) delete row.d
  await writeFile(listFile, JSON.stringify(doc))
  const third = await proxyApp(t, { url, cacheDir })
  assert.deepEqual(Object.keys(await summaries(third)).sort(), ['alpha-up', 'beta-up', 'gamma-up'])
  await third.upstream.cachedSummariesRead()
  assert.deepEqual(await summaries(third), { 'alpha-up': null, 'beta-up': 'read again', 'gamma-up': null })
})
