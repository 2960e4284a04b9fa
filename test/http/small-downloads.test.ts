// Small downloads come from memory (SmallFileCache) while the file is unchanged; the response
// always describes one version of the file: a replaced file gets its new bytes and a new ETag
// on the very next request when the tree is not watched, and as soon as the watch event for it
// arrives when it is (docs/http.md).
import assert from 'node:assert/strict'
import { rename, rm, writeFile } from 'node:fs/promises'
import { setTimeout } from 'node:timers/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Storage } from '../../src/storage/storage.js'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const ONE = Buffer.alloc(3000, 'a')
const TWO = Buffer.alloc(3000, 'b')
const THREE = Buffer.alloc(3000, 'c')
const URL = '/packages/foo/foo-1.0.tar.gz'

await test('unwatched, a small file replaced by another of the same size: the next request has the new bytes and the new ETag', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': ONE })
  // Not watching (as past the inotify limit): the index looks on every request, and so does the download.
  const { app } = await buildTestApp(t, { root, watch: false })
  const first = await app.inject(URL)
  assert.deepEqual(first.rawPayload, ONE)
  assert.deepEqual((await app.inject(URL)).rawPayload, ONE, 'served again (from memory)')

  // Replaced atomically, then rewritten in place: each time the very next request sees it.
  await writeFile(join(root, 'foo', 'next.tmp'), TWO)
  await rename(join(root, 'foo', 'next.tmp'), join(root, 'foo', 'foo-1.0.tar.gz'))
  const second = await app.inject(URL)
  assert.equal(second.statusCode, 200)
  assert.deepEqual(second.rawPayload, TWO)
  assert.notEqual(second.headers.etag, first.headers.etag)
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), THREE)
  const third = await app.inject({ url: URL, headers: { 'if-none-match': String(second.headers.etag) } })
  assert.equal(third.statusCode, 200, 'the old ETag no longer matches')
  assert.deepEqual(third.rawPayload, THREE)
  assert.notEqual(third.headers.etag, second.headers.etag)
  // A resumed download with a stale validator gets the whole new file, never a mix (RFC 9110 §13.1.5).
  const resumed = await app.inject({
    url: URL,
    headers: { range: 'bytes=0-9', 'if-range': String(second.headers.etag) },
  })
  assert.equal(resumed.statusCode, 200)
  assert.deepEqual(resumed.rawPayload, THREE)
  const ranged = await app.inject({ url: URL, headers: { range: 'bytes=0-9', 'if-range': String(third.headers.etag) } })
  assert.equal(ranged.statusCode, 206)
  assert.deepEqual(ranged.rawPayload, THREE.subarray(0, 10))
})

await test('watched, a held file replaced, rewritten or removed is seen once its watch event arrives; bytes and ETag always agree', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': ONE })
  // Watching, as the daemon does: a held copy in a folder the index trusts is not stat'ed
  // (SmallFileCache.held()), so a change is seen through the folder's watch event.
  const { app } = await buildTestApp(t, { root, watch: true })
  const first = await app.inject(URL)
  assert.deepEqual((await app.inject(URL)).rawPayload, ONE, 'served again (from memory)')
  const etags = new Map<string, string>([[ONE.toString(), String(first.headers.etag)]])
  // Requests until `expected` is served; every answer on the way is one whole version, with its own ETag.
  const until = async (expected: Buffer | 404): Promise<void> => {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const res = await app.inject(URL)
      if (res.statusCode === 404) {
        if (expected === 404) return
        assert.fail('404 before the file was removed')
      }
      assert.equal(res.statusCode, 200)
      const text = res.rawPayload.toString()
      const etag = String(res.headers.etag)
      assert.equal(etags.get(text) ?? etag, etag, 'one ETag per version')
      etags.set(text, etag)
      if (expected !== 404 && res.rawPayload.equals(expected)) return
      await setTimeout(5)
    }
    assert.fail(`never served ${expected === 404 ? '404' : expected.toString().slice(0, 1)}`)
  }
  await writeFile(join(root, 'foo', 'next.tmp'), TWO)
  await rename(join(root, 'foo', 'next.tmp'), join(root, 'foo', 'foo-1.0.tar.gz'))
  await until(TWO)
  await writeFile(join(root, 'foo', 'foo-1.0.tar.gz'), THREE)
  await until(THREE)
  // (A request between the truncation and the write of writeFile() may see a short version too.)
  const versions = [ONE, TWO, THREE].map((bytes) => etags.get(bytes.toString()))
  assert.equal(new Set(versions).size, 3, 'three versions, three ETags')
  await rm(join(root, 'foo', 'foo-1.0.tar.gz'))
  await until(404)
})

await test('watched, a held file of a folder the index trusts is answered without a stat of it', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': ONE })
  let stats = 0
  // The real storage, with its stats of single files (SmallFileCache's check) counted.
  const counting = (storage: Storage): Storage =>
    new Proxy(storage, {
      get(target, property) {
        if (property === 'currentIdentity')
          return (key: string) => {
            stats++
            return target.currentIdentity?.(key)
          }
        const value: unknown = Reflect.get(target, property, target)
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
  const { app } = await buildTestApp(t, { root, watch: true, wrapStorage: counting })
  assert.deepEqual((await app.inject(URL)).rawPayload, ONE)
  const requests = 20
  for (let i = 0; i < requests; i++) assert.deepEqual((await app.inject(URL)).rawPayload, ONE)
  // One stat at most per VOUCHED_TRUST_MS (and when the folder's own check is due), not one per request.
  assert.ok(stats < requests, `${stats} stats for ${requests} requests`)
})

await test("--x-accel-redirect: downloads answered with the internal URI and eggserve's headers, no bytes; the rest answered here", async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0+local.tar.gz': ONE })
  const { app } = await buildTestApp(t, { root, xAccelRedirect: '/_eggfiles' })
  const url = '/packages/foo/foo-1.0%2Blocal.tar.gz'
  const offloaded = await app.inject(url)
  assert.equal(offloaded.statusCode, 200)
  assert.equal(offloaded.headers['x-accel-redirect'], '/_eggfiles/foo/foo-1.0%2Blocal.tar.gz')
  assert.equal(offloaded.rawPayload.length, 0)
  assert.equal(offloaded.headers['content-type'], 'application/x-gzip')
  assert.match(String(offloaded.headers.etag), /^"[^"]+"$/)
  assert.equal(typeof offloaded.headers['last-modified'], 'string')
  // nginx adds Accept-Ranges to a 200 itself; a 206 gets ours.
  assert.equal(offloaded.headers['accept-ranges'], undefined)
  const ranged = await app.inject({ url, headers: { range: 'bytes=0-9' } })
  assert.equal(ranged.headers['x-accel-redirect'], '/_eggfiles/foo/foo-1.0%2Blocal.tar.gz')
  assert.equal(ranged.headers['accept-ranges'], 'bytes')
  assert.equal(ranged.statusCode, 200, 'nginx makes the 206')
  const etag = String(offloaded.headers.etag)
  const answeredHere: [Record<string, string>, number][] = [
    [{ 'if-none-match': etag }, 304],
    [{ 'if-match': '"other"' }, 412],
    [{ range: 'bytes=5000-' }, 416],
    [{ 'if-match': etag }, 200],
    [{ range: 'bytes=0-9', 'if-range': '"stale"' }, 200],
  ]
  for (const [headers, status] of answeredHere) {
    const res = await app.inject({ url, headers })
    assert.equal(res.statusCode, status, JSON.stringify(headers))
    assert.equal(res.headers['x-accel-redirect'], undefined, JSON.stringify(headers))
    if (status === 200) assert.deepEqual(res.rawPayload, ONE)
  }
  assert.equal((await app.inject('/packages/foo/foo-2.0.tar.gz')).statusCode, 404)
})
