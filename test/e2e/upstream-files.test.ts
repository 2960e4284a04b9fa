// Upstream files through the real daemon: 50 concurrent downloads of an uncached file make one
// upstream GET and get identical bytes; wrong or missing bytes never end cleanly, are never
// kept, and pip refuses them; cached files answer ranges and conditionals like local ones;
// PEP 658 metadata is fetched, checked and cached. Real upstream eggserve, counting fault proxy.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, type BuiltDist } from '../helpers/distributions.js'
import { createVenv, output, pipRunFlags } from '../helpers/python.js'
import { httpGet } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { noise } from '../helpers/test-bytes.js'
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { filesUnder, sha256Hex, startUpstreamEggserve, startWithUpstreams } from '../helpers/upstream-index.js'

const PIP_RUN = pipRunFlags(60)
// Incompressible, so it is many chunks on the wire.
const BIG: BuiltDist = { filename: 'bigfile-1.0.tar.gz', bytes: noise(24 * 1024 * 1024, 7) }
const TAMPERED = buildWheel({
  name: 'tampered',
  version: '1.0',
  moduleSource: `DATA = ${JSON.stringify(noise(300_000, 3).toString('hex'))}\n`,
})
const TAMPERED_RAW: BuiltDist = { filename: 'tampered-raw-1.0.tar.gz', bytes: noise(2 * 1024 * 1024, 9) }
const TRUNCATED: BuiltDist = { filename: 'truncated-1.0.tar.gz', bytes: noise(2 * 1024 * 1024, 11) }
const WITH_METADATA = buildWheel({ name: 'metaful', version: '1.0', summary: 'has PEP 658 metadata' })

/** Read a response to its end: its status, its bytes' sha256, and how it ended. */
async function download(
  url: string,
): Promise<{ status: number; sha256: string; length: number; ended: 'end' | 'error' }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      const hash = createHash('sha256')
      let length = 0
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk)
        length += chunk.length
      })
      let settled = false
      const done = (ended: 'end' | 'error'): void => {
        if (settled) return
        settled = true
        resolve({ status: res.statusCode ?? 0, sha256: hash.digest('hex'), length, ended })
      }
      res.once('end', () => {
        done('end')
      })
      res.once('error', () => {
        done('error')
      })
      res.once('aborted', () => {
        done('error')
      })
    })
    req.once('error', reject)
    req.end()
  })
}

await test('upstream files: singleflight, verification before the last byte, cached files served like local ones', async (t) => {
  const venv = await createVenv(t)
  if (venv === undefined) return
  const { server: upstream } = await startUpstreamEggserve(t, {
    bigfile: [BIG],
    tampered: [TAMPERED],
    'tampered-raw': [TAMPERED_RAW],
    truncated: [TRUNCATED],
    metaful: [WITH_METADATA],
  })
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const root = await tempDir(t, 'eggserve-upfiles-')
  const cacheDir = join(root, 'cache')
  // TTL 0: every page request asks the upstream again (the pinning case needs a changed page).
  const server = await startWithUpstreams(t, {
    eggdir: join(root, 'eggs'),
    cacheDir,
    upstreams: [proxy.url],
    args: ['--upstream-ttl', '0'],
  })
  const cachedFiles = (project: string): Promise<string[]> => filesUnder(join(cacheDir, 'upstream', 'files', project))
  const fileUrl = (project: string, filename: string): string => `${server.url}/files/upstream/${project}/${filename}`

  await t.test('50 concurrent downloads of an uncached file: one upstream GET, 50 identical bodies', async () => {
    assert.equal((await httpGet(`${server.url}/simple/bigfile/`)).status, 200)
    // The upstream answers after a moment, so every request arrives while the download starts.
    proxy.setRules([{ match: (request) => request.path.endsWith(BIG.filename), fault: { kind: 'delay', ms: 500 } }])
    const bodies = await Promise.all(Array.from({ length: 50 }, () => download(fileUrl('bigfile', BIG.filename))))
    proxy.setRules([])
    for (const body of bodies)
      assert.deepEqual(body, { status: 200, sha256: sha256Hex(BIG.bytes), length: BIG.bytes.length, ended: 'end' })
    assert.equal(proxy.count(`/packages/bigfile/${BIG.filename}`), 1)
    assert.deepEqual(await cachedFiles('bigfile'), [BIG.filename, `${BIG.filename}.sha256`])
  })

  await t.test(
    'a cached file answers ranges, conditionals and HEAD like a local one, without the upstream',
    async () => {
      const before = proxy.count()
      const range = await httpGet(fileUrl('bigfile', BIG.filename), { headers: { range: 'bytes=100-199' } })
      assert.equal(range.status, 206)
      assert.equal(range.headers['content-range'], `bytes 100-199/${String(BIG.bytes.length)}`)
      assert.deepEqual(range.body, BIG.bytes.subarray(100, 200))
      const etag = range.headers.etag
      assert.ok(etag !== undefined)
      assert.equal(
        (await httpGet(fileUrl('bigfile', BIG.filename), { headers: { 'if-none-match': etag } })).status,
        304,
      )
      const head = await httpGet(fileUrl('bigfile', BIG.filename), { method: 'HEAD' })
      assert.equal(head.headers['content-length'], String(BIG.bytes.length))
      assert.equal(head.body.length, 0)
      assert.equal(proxy.count(), before)
    },
  )

  await t.test('wrong bytes: pip fails, nothing is cached, later requests get 502', async () => {
    proxy.setRules([{ match: (request) => request.path.endsWith(TAMPERED.filename), fault: { kind: 'wrong-bytes' } }])
    const result = await venv.pip([
      'install',
      ...PIP_RUN,
      '--target',
      join(root, 'tampered'),
      '--index-url',
      `${server.url}/simple/`,
      'tampered',
    ])
    assert.notEqual(result.code, 0, output(result))
    // The cut body is short: pip reports a broken transfer or bytes that fail its hash check.
    assert.match(
      result.stdout + result.stderr,
      /do not match the hashes|IncompleteRead|Connection broken|ProtocolError/i,
      output(result),
    )
    // pip read the (correct) PEP 658 metadata first; the wheel itself was not kept.
    assert.deepEqual(
      (await cachedFiles('tampered')).filter((name) => !name.includes('.metadata')),
      [],
    )
    assert.equal((await httpGet(fileUrl('tampered', TAMPERED.filename))).status, 502)
  })

  await t.test('wrong bytes: the client sees the transfer cut, never a clean end of the body', async () => {
    assert.equal((await httpGet(`${server.url}/simple/tampered-raw/`)).status, 200)
    proxy.setRules([
      { match: (request) => request.path.endsWith(TAMPERED_RAW.filename), fault: { kind: 'wrong-bytes' } },
    ])
    const body = await download(fileUrl('tampered-raw', TAMPERED_RAW.filename))
    assert.equal(body.status, 200)
    assert.equal(body.ended, 'error')
    assert.ok(body.length < TAMPERED_RAW.bytes.length, `${String(body.length)} bytes arrived`)
    assert.deepEqual(await cachedFiles('tampered-raw'), [])
    // Logged once the download is over, which may be a moment after the client saw the cut.
    const logged = await server.waitForLine(
      (line) =>
        line.msg === 'Upstream file download failed; nothing was kept' && line.filename === TAMPERED_RAW.filename,
      10_000,
    )
    assert.match(String(logged.reason), /sha256/)
  })

  await t.test('a truncated upstream body is cut for the client too, and not kept', async () => {
    assert.equal((await httpGet(`${server.url}/simple/truncated/`)).status, 200)
    proxy.setRules([
      {
        match: (request) => request.path.endsWith(TRUNCATED.filename),
        fault: { kind: 'truncate', bytes: 1024 * 1024 },
      },
    ])
    const body = await download(fileUrl('truncated', TRUNCATED.filename))
    // What no client may get is a clean end of a short 200. A body under way is cut (the usual
    // case). Under load the proxy's reset can reach eggserve before it sent the client any byte
    // (before or after it read the upstream's head; the reset drops what was not read yet): then
    // eggserve answers 503 (the transfer broke off, as a refused connection is: docs/errors.md).
    assert.ok(
      body.ended === 'error' || (body.status === 503 && body.length < TRUNCATED.bytes.length),
      `status ${String(body.status)}, ${String(body.length)} bytes, ${body.ended}`,
    )
    assert.deepEqual(await cachedFiles('truncated'), [])
    // Not a hash mismatch: the next request tries the upstream again.
    proxy.setRules([])
    const retried = await download(fileUrl('truncated', TRUNCATED.filename))
    assert.deepEqual(retried, {
      status: 200,
      sha256: sha256Hex(TRUNCATED.bytes),
      length: TRUNCATED.bytes.length,
      ended: 'end',
    })
  })

  await t.test('PEP 658 metadata of an upstream wheel is fetched, checked and cached', async () => {
    const page = (await httpGet(`${server.url}/simple/metaful/`)).body.toString()
    const declared = /data-core-metadata="sha256=([0-9a-f]{64})"/.exec(page)?.[1]
    assert.equal(declared, sha256Hex(WITH_METADATA.metadata))
    const metadata = await httpGet(fileUrl('metaful', `${WITH_METADATA.filename}.metadata`))
    assert.equal(metadata.status, 200)
    assert.deepEqual(metadata.body, WITH_METADATA.metadata)
    assert.ok((await cachedFiles('metaful')).includes(`${WITH_METADATA.filename}.metadata`))
    const requests = proxy.count(`/packages/metaful/${WITH_METADATA.filename}.metadata`)
    assert.equal((await httpGet(fileUrl('metaful', `${WITH_METADATA.filename}.metadata`))).status, 200)
    assert.equal(proxy.count(`/packages/metaful/${WITH_METADATA.filename}.metadata`), requests)
  })

  await t.test('a pinned file keeps its bytes and its hash when the upstream page changes the hash', async () => {
    const other = 'e'.repeat(64)
    proxy.setRules([
      {
        match: (request) => request.path === '/simple/bigfile/',
        fault: { kind: 'rewrite', from: sha256Hex(BIG.bytes), to: other },
      },
    ])
    const before = proxy.count('/simple/bigfile/')
    const page = (await httpGet(`${server.url}/simple/bigfile/`)).body.toString()
    assert.equal(proxy.count('/simple/bigfile/'), before + 1, 'the changed page was fetched')
    assert.ok(page.includes(`#sha256=${sha256Hex(BIG.bytes)}`), page)
    assert.ok(!page.includes(other))
    proxy.setRules([])
  })
})

await test('pip downloads through the proxy with --require-hashes after a mismatch-free first fetch', async (t) => {
  const venv = await createVenv(t)
  if (venv === undefined) return
  const wheel = buildWheel({ name: 'hashed', version: '1.0' })
  const { server: upstream } = await startUpstreamEggserve(t, { hashed: [wheel] })
  const root = await tempDir(t, 'eggserve-upfiles-hashes-')
  const server = await startWithUpstreams(t, {
    eggdir: join(root, 'eggs'),
    cacheDir: join(root, 'cache'),
    upstreams: [upstream.url],
  })
  const requirements = join(root, 'requirements.txt')
  await writeFile(requirements, `hashed==1.0 --hash=sha256:${sha256Hex(wheel.bytes)}\n`)
  for (const round of ['first (streamed)', 'second (cached)']) {
    const result = await venv.pip([
      'download',
      ...PIP_RUN,
      '--no-deps',
      '--require-hashes',
      '-d',
      join(root, round),
      '--index-url',
      `${server.url}/simple/`,
      '-r',
      requirements,
    ])
    assert.equal(result.code, 0, `${round}: ${output(result)}`)
  }
})
