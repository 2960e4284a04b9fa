// @fastify/static as a conformance oracle for downloads (which eggserve serves itself, from one
// descriptor, where @fastify/static stats a file and then opens it again by name): the same
// request table must give the same status, Content-Range, Content-Length and bytes. Where we
// differ on purpose, the row says why, and both sides' statuses are asserted.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import fastifyStatic from '@fastify/static'
import Fastify from 'fastify'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const BODY = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256))

type Method = 'GET' | 'HEAD'
interface Validators {
  etag: string
  lastModified: string
}
interface Row {
  name: string
  headers: (v: Validators) => Record<string, string>
  method?: Method
  /** When we differ on purpose: our status, @fastify/static's, and why. */
  differs?: { ours: number; theirs: number; why: string }
}

const TABLE: Row[] = [
  { name: 'plain', headers: () => ({}) },
  { name: 'first byte', headers: () => ({ range: 'bytes=0-0' }) },
  { name: 'suffix', headers: () => ({ range: 'bytes=-10' }) },
  { name: 'open end', headers: () => ({ range: 'bytes=990-' }) },
  { name: 'end beyond size', headers: () => ({ range: 'bytes=500-5000' }) },
  { name: 'spaces', headers: () => ({ range: 'bytes= 0-1' }) },
  { name: 'unsatisfiable', headers: () => ({ range: 'bytes=1000-' }) },
  { name: 'far unsatisfiable', headers: () => ({ range: 'bytes=5000-6000' }) },
  { name: 'zero suffix', headers: () => ({ range: 'bytes=-0' }) },
  { name: 'several ranges', headers: () => ({ range: 'bytes=0-1,5-6' }) },
  { name: 'other unit', headers: () => ({ range: 'items=0-1' }) },
  { name: 'If-None-Match match', headers: (v) => ({ 'if-none-match': v.etag }) },
  { name: 'If-None-Match other', headers: () => ({ 'if-none-match': '"nope"' }) },
  { name: 'If-Modified-Since equal', headers: (v) => ({ 'if-modified-since': v.lastModified }) },
  { name: 'If-Modified-Since old', headers: () => ({ 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }) },
  { name: 'If-Range strong match', headers: (v) => ({ range: 'bytes=0-9', 'if-range': v.etag }) },
  { name: 'If-Range stale', headers: () => ({ range: 'bytes=0-9', 'if-range': '"stale"' }) },
  { name: 'If-Range date match', headers: (v) => ({ range: 'bytes=0-9', 'if-range': v.lastModified }) },
  { name: 'HEAD', headers: () => ({}), method: 'HEAD' },
  { name: 'HEAD with range', headers: () => ({ range: 'bytes=-10' }), method: 'HEAD' },
  {
    name: 'suffix longer than the file',
    headers: () => ({ range: 'bytes=-5000' }),
    differs: { ours: 206, theirs: 416, why: 'RFC 9110 §14.1.2: a longer suffix selects the whole representation' },
  },
  {
    name: 'If-Range with a weak validator',
    headers: (v) => ({ range: 'bytes=0-9', 'if-range': `W/${v.etag}` }),
    differs: { ours: 200, theirs: 206, why: 'RFC 9110 §13.1.5: If-Range needs a strong match' },
  },
  {
    name: 'bad syntax',
    headers: () => ({ range: 'bytes=abc' }),
    differs: {
      ours: 200,
      theirs: 416,
      why: 'RFC 9110 §14.2 lets a server ignore an invalid Range; the whole file is more useful',
    },
  },
  {
    name: 'last below first',
    headers: () => ({ range: 'bytes=9-1' }),
    differs: {
      ours: 200,
      theirs: 416,
      why: 'RFC 9110 §14.1.1: such a range is invalid, and invalid ranges are ignored',
    },
  },
  {
    name: 'unit in capitals',
    headers: () => ({ range: 'BYTES=0-1' }),
    differs: { ours: 206, theirs: 200, why: 'RFC 9110 §14.1: range units are case-insensitive' },
  },
]

await test('downloads answer ranges and conditionals as @fastify/static does, except where the RFC says otherwise', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': BODY })
  const { app } = await buildTestApp(t, { root })
  const oracle = Fastify()
  await oracle.register(fastifyStatic, { root: join(root, 'foo'), serve: false })
  oracle.get('/file', (_request, reply) => reply.sendFile('foo-1.0.tar.gz'))
  t.after(() => oracle.close())

  const ours = (headers: Record<string, string>, method: Method = 'GET') =>
    app.inject({ method, url: '/foo/foo-1.0.tar.gz', headers })
  const theirs = (headers: Record<string, string>, method: Method = 'GET') =>
    oracle.inject({ method, url: '/file', headers })
  const first = await ours({})
  const ourValidators = { etag: String(first.headers.etag), lastModified: String(first.headers['last-modified']) }
  const theirValidators = { etag: String((await theirs({})).headers.etag), lastModified: ourValidators.lastModified }

  for (const row of TABLE) {
    const a = await ours(row.headers(ourValidators), row.method)
    const b = await theirs(row.headers(theirValidators), row.method)
    if (row.differs !== undefined) {
      assert.equal(a.statusCode, row.differs.ours, `${row.name}: ours (${row.differs.why})`)
      assert.equal(b.statusCode, row.differs.theirs, `${row.name}: @fastify/static changed; revisit this row`)
      continue
    }
    assert.equal(a.statusCode, b.statusCode, `${row.name}: status`)
    assert.equal(a.headers['content-range'], b.headers['content-range'], `${row.name}: Content-Range`)
    if (a.statusCode !== 304 && a.statusCode !== 416) {
      assert.equal(a.headers['content-length'], b.headers['content-length'], `${row.name}: Content-Length`)
      assert.deepEqual(a.rawPayload, b.rawPayload, `${row.name}: body`)
    }
  }
})
