// A small file held in memory (SmallFileCache.held()) is answered synchronously, and exactly as
// the same file opened through open(): status, headers and bytes, for every kind of request.
import assert from 'node:assert/strict'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { pino } from 'pino'
import { sendDistribution, type DownloadFiles } from '../../src/http/download.js'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { SmallFileCache } from '../../src/storage/small-file-cache.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const BODY = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251))
const KEY = 'foo/foo-1.0-py3-none-any.whl'

interface Served {
  readonly app: FastifyInstance
  readonly root: string
  /** Whether each answer of /held/ was a promise, in request order. */
  readonly promised: boolean[]
}

// Two routes over one cache: /held/ may answer from held(), /opened/ only through open(), which
// returns the cached copy too (the same StoredFile, so the same validators).
async function serve(t: TestContext, offload?: string): Promise<Served> {
  const root = await tempDir(t)
  await writeTree(root, { [KEY]: BODY })
  const cache = new SmallFileCache(await LocalStorage.create(root, pino({ level: 'silent' })))
  const promised: boolean[] = []
  const app = Fastify()
  const route = (url: string, files: DownloadFiles, record: boolean): void => {
    app.route({
      method: ['GET', 'HEAD'],
      url,
      handler: (request, reply) => {
        const answer = sendDistribution(request, reply, {
          files,
          key: KEY,
          filename: 'foo-1.0-py3-none-any.whl',
          offload,
        })
        if (record) promised.push(answer instanceof Promise)
        return answer
      },
    })
  }
  route('/held', cache, true)
  route('/opened', { open: (key, options) => cache.open(key, options) }, false)
  t.after(() => app.close())
  return { app, root, promised }
}

// Everything but Date, which may tick between the two requests.
function described(res: LightMyRequestResponse): unknown {
  const headers = Object.entries(res.headers).filter(([name]) => name !== 'date')
  return { status: res.statusCode, headers, body: res.rawPayload.toString('base64') }
}

await test('a held file gets the answer an opened one gets: ranges, HEAD, 304, 412, 416, If-Range', async (t) => {
  const { app, promised } = await serve(t)
  const first = await app.inject('/opened')
  assert.deepEqual(first.rawPayload, BODY)
  const etag = String(first.headers.etag)
  const lastModified = String(first.headers['last-modified'])
  const variants: { method?: 'GET' | 'HEAD'; headers?: Record<string, string> }[] = [
    {},
    { method: 'HEAD' },
    { headers: { range: 'bytes=10-19' } },
    { headers: { range: 'bytes=-5' } },
    { method: 'HEAD', headers: { range: 'bytes=0-0' } },
    { headers: { range: 'bytes=5000-' } },
    { headers: { 'if-none-match': etag } },
    { headers: { 'if-none-match': '"other"' } },
    { headers: { 'if-modified-since': lastModified } },
    { headers: { 'if-match': '"other"' } },
    { headers: { 'if-unmodified-since': 'Mon, 03 Feb 2020 04:05:06 GMT' } },
    { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } },
    { headers: { range: 'bytes=0-9', 'if-range': etag } },
  ]
  const statuses: number[] = []
  for (const variant of variants) {
    const opened = await app.inject({ url: '/opened', ...variant })
    const held = await app.inject({ url: '/held', ...variant })
    assert.deepEqual(described(held), described(opened), JSON.stringify(variant))
    statuses.push(held.statusCode)
  }
  assert.deepEqual(statuses, [200, 200, 206, 206, 206, 416, 304, 200, 304, 412, 412, 200, 206])
  assert.deepEqual(
    promised,
    variants.map(() => false),
    'a held file is answered without a promise',
  )
})

await test('--x-accel-redirect: a held file is offloaded, or answered here, as an opened one', async (t) => {
  const { app } = await serve(t, '/_eggfiles')
  const etag = String((await app.inject({ url: '/opened', headers: { 'if-match': '"x"' } })).headers.etag)
  for (const headers of [{}, { range: 'bytes=0-9' }, { 'if-none-match': etag }, { range: 'bytes=9000-' }]) {
    const opened = await app.inject({ url: '/opened', headers })
    const held = await app.inject({ url: '/held', headers })
    assert.deepEqual(described(held), described(opened), JSON.stringify(headers))
  }
  assert.equal((await app.inject('/held')).headers['x-accel-redirect'], '/_eggfiles/foo/foo-1.0-py3-none-any.whl')
})

await test('a file not yet read, or replaced, is answered through open() (a promise), then held', async (t) => {
  const { app, root, promised } = await serve(t)
  const cold = await app.inject('/held')
  assert.deepEqual(cold.rawPayload, BODY)
  const warm = await app.inject('/held')
  assert.equal(warm.headers.etag, cold.headers.etag)
  // Replaced by a file of the same size: read again at once, with its own ETag.
  const next = Buffer.alloc(BODY.length, 'x')
  await writeFile(join(root, 'foo', 'next.tmp'), next)
  await rename(join(root, 'foo', 'next.tmp'), join(root, KEY))
  const replaced = await app.inject('/held')
  assert.deepEqual(replaced.rawPayload, next)
  assert.notEqual(replaced.headers.etag, cold.headers.etag)
  assert.equal((await app.inject('/held')).headers.etag, replaced.headers.etag)
  assert.deepEqual(promised, [true, false, true, false])
})
