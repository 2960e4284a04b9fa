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
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'

const PROJECTS = ['alpha-up', 'beta-up', 'gamma-up']

async function startUpstream(t: TestContext): Promise<string> {
  const root = await tempDir(t, 'eggserve-list-up-')
  for (const name of [...PROJECTS, 'delta-up'])
    await writeDist(join(root, name), buildWheel({ name, version: '1.5', summary: `the ${name} project` }))
  const { app } = await buildTestApp(t, { root, ui: false })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  assert.ok(address !== null && typeof address === 'object')
  const proxy = await startUpstreamFaultProxy(t, `http://127.0.0.1:${String(address.port)}`)
  return `${proxy.url}/simple/`
}

async function proxyApp(
  t: TestContext,
  options: { url: string; cacheDir: string },
): Promise<{ app: FastifyInstance; upstream: UpstreamIndex }> {
  let upstream: UpstreamIndex | undefined
  const { app } = await buildTestApp(t, {
    root: await tempDir(t, 'eggserve-list-local-'),
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
  // (The UI's catalog asks at most once a second; the running server's own answer at once.)
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
