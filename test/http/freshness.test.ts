// Live pick-up of changes without a restart, and hashing each unchanged file once.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const md5 = (text: string): string => createHash('md5').update(text).digest('hex')

/** Poll `url` until its body satisfies `ok`, for at most `ms`; returns the elapsed time. */
async function within(app: FastifyInstance, url: string, ok: (body: string) => boolean, ms = 1000): Promise<number> {
  const start = Date.now()
  for (;;) {
    const body = (await app.inject(url)).body
    if (ok(body)) return Date.now() - start
    if (Date.now() - start > ms) assert.fail(`${url} did not change within ${ms} ms:\n${body}`)
    await sleep(20)
  }
}

await test('added, removed and renamed files show in the next listing, without watching', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': 'one' })
  const { app } = await buildTestApp(t, { root, watch: false })
  assert.match((await app.inject('/foo/')).body, /foo-1\.0\.tar\.gz/)

  await writeFile(join(root, 'foo', 'foo-2.0.tar.gz'), 'two')
  for (const url of ['/foo/', '/simple/foo/']) {
    assert.match((await app.inject(url)).body, new RegExp(`foo-2\\.0\\.tar\\.gz#md5=${md5('two')}`), url)
  }
  assert.equal((await app.inject('/foo/foo-2.0.tar.gz')).body, 'two')

  await rm(join(root, 'foo', 'foo-1.0.tar.gz'))
  assert.doesNotMatch((await app.inject('/foo/')).body, /foo-1\.0/)
  assert.equal((await app.inject('/foo/foo-1.0.tar.gz')).statusCode, 404)

  // Atomic replacement (write elsewhere, rename over): a new inode, so a new hash.
  await writeFile(join(root, 'foo', '.tmp-upload'), 'two, replaced')
  await rename(join(root, 'foo', '.tmp-upload'), join(root, 'foo', 'foo-2.0.tar.gz'))
  assert.match((await app.inject('/simple/foo/')).body, new RegExp(`#md5=${md5('two, replaced')}`))
  assert.equal((await app.inject('/packages/foo/foo-2.0.tar.gz')).body, 'two, replaced')
})

await test('a new project folder shows in both roots, and a removed one goes away', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': 'one' })
  const { app } = await buildTestApp(t, { root, watch: false })
  assert.doesNotMatch((await app.inject('/')).body, /bar/)
  await writeTree(root, { 'bar/bar-1.0.tar.gz': 'bar' })
  assert.match((await app.inject('/')).body, /<a href="bar\/">bar<\/a>/)
  assert.match((await app.inject('/simple/')).body, /<a href="bar\/">bar<\/a>/)
  assert.match((await app.inject('/simple/bar/')).body, new RegExp(`bar-1\\.0\\.tar\\.gz#md5=${md5('bar')}`))
  await rm(join(root, 'bar'), { recursive: true })
  assert.equal((await app.inject('/simple/bar/')).statusCode, 404)
  assert.doesNotMatch((await app.inject('/')).body, /bar/)
})

await test('a file rewritten in place (same inode, same folder timestamp) gets a new hash within 1 s', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': 'before' })
  const { app } = await buildTestApp(t, { root, watch: true })
  assert.match((await app.inject('/foo/')).body, new RegExp(`#md5=${md5('before')}`))
  // writeFile on an existing path truncates and rewrites the same inode: the folder does not change.
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), 'after!')
  const elapsed = await within(app, '/simple/foo/', (body) => body.includes(`#md5=${md5('after!')}`))
  t.diagnostic(`in-place rewrite seen after ${elapsed} ms`)
  assert.equal((await app.inject('/foo/foo-1.0.tar.gz')).body, 'after!')
})

await test('with watching on, a new folder and files in it appear within 1 s', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': 'one' })
  const { app } = await buildTestApp(t, { root, watch: true })
  await mkdir(join(root, 'late'))
  await writeFile(join(root, 'late', 'late-1.0.tar.gz'), 'late')
  await within(app, '/simple/late/', (body) => body.includes('late-1.0.tar.gz'))
  await writeFile(join(root, 'late', 'late-2.0.tar.gz'), 'later')
  await within(app, '/late/', (body) => body.includes('late-2.0.tar.gz'))
})

await test('an unchanged file is hashed once, however many listings and concurrent clients ask', async (t) => {
  const root = await tempDir(t)
  const files: Record<string, string> = {}
  for (let i = 0; i < 20; i++) files[`foo/foo-1.${i}.tar.gz`] = `content ${i}`
  await writeTree(root, files)
  const { app, services } = await buildTestApp(t, { root })
  assert.equal(services.reader.stats.files, 0, 'nothing is hashed before a listing asks')
  const pages = await Promise.all(
    Array.from({ length: 10 }, (_, i) => app.inject(i % 2 === 0 ? '/foo/' : '/simple/foo/')),
  )
  for (const page of pages) assert.equal(page.statusCode, 200)
  assert.equal(services.reader.stats.files, 20, 'concurrent listings share one computation per file')
  for (let i = 0; i < 5; i++) await app.inject('/simple/foo/')
  assert.equal(services.reader.stats.files, 20, 'later listings hash nothing')
  await writeFile(join(root, 'foo', 'foo-1.99.tar.gz'), 'new')
  await app.inject('/foo/')
  assert.equal(services.reader.stats.files, 21, 'only the new file is hashed')
})

await test('a listing of one project does not wait for the hashing of another', async (t) => {
  const root = await tempDir(t)
  const big = Buffer.alloc(4 * 1024 * 1024, 7)
  const files: Record<string, string | Buffer> = { 'small/small-1.0.tar.gz': 'small' }
  for (let i = 0; i < 40; i++) files[`big/big-1.${i}.tar.gz`] = Buffer.concat([big, Buffer.from(String(i))])
  await writeTree(root, files)
  const { app, services } = await buildTestApp(t, { root })
  // Start the cold, slow listing first; the small one must not queue behind its 40 files.
  const bigPage = app.inject('/simple/big/')
  await sleep(5)
  const small = await app.inject('/simple/small/')
  assert.equal(small.statusCode, 200)
  const hashedBeforeSmall = services.reader.stats.files
  // A FIFO queue would hash all 40 big files first (41); fair turns bound it by the 8 running ones.
  assert.ok(hashedBeforeSmall < 25, `small waited for ${hashedBeforeSmall - 1} big files`)
  t.diagnostic(`files hashed when the small listing returned: ${hashedBeforeSmall} of 41`)
  assert.equal((await bigPage).statusCode, 200)
})
