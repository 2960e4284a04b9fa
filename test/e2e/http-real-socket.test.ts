// Downloads and listings over a real listening socket of the spawned daemon: byte-exact
// ranges and conditionals, HEAD on the wire, and a live eggdir (files and folders that come,
// go and change while the server runs show in the next listing within a second).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { httpGet, pollUntil, startServer, type HttpResult } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

/** Deterministic, non-repeating bytes (a sha256 chain), so an off-by-one range cannot pass by luck. */
function patternBytes(size: number): Buffer {
  const out = Buffer.alloc(size)
  let block = createHash('sha256').update('eggserve-e2e').digest()
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset)
    block = createHash('sha256').update(block).digest()
  }
  return out
}

const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex')
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')
const SIZE = 10_000
const ARCHIVE = 'realsock-1.0.tar.gz'
// The contract: a change shows in the next listing within 1 s.
const FRESHNESS_MS = 1000

/** Raw HEAD over a plain TCP socket: everything the server wrote, split into head and what followed it. */
async function rawHead(url: string): Promise<{ head: string; after: Buffer }> {
  const { hostname, port, pathname } = new URL(url)
  const received = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(`HEAD ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`)
    })
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
    })
    socket.once('error', reject)
    socket.once('close', () => {
      resolve(Buffer.concat(chunks))
    })
  })
  const end = received.indexOf('\r\n\r\n')
  assert.notEqual(end, -1, `no end of headers in ${JSON.stringify(received.toString('latin1'))}`)
  return { head: received.subarray(0, end).toString('latin1'), after: received.subarray(end + 4) }
}

await test('eggserve over a real socket', async (t) => {
  const eggdir = await tempDir(t, 'eggserve-socket-')
  const archive = patternBytes(SIZE)
  await writeDist(join(eggdir, 'realsock'), { filename: ARCHIVE, bytes: archive })
  const server = await startServer(t, { eggdir })
  const downloadUrls = [`${server.url}/realsock/${ARCHIVE}`, `${server.url}/packages/realsock/${ARCHIVE}`]

  for (const url of downloadUrls) {
    const path = new URL(url).pathname
    await t.test(`ranges and conditionals on ${path}`, async () => {
      const full = await httpGet(url)
      assert.equal(full.status, 200)
      assert.deepEqual(full.body, await readFile(join(eggdir, 'realsock', ARCHIVE)))
      assert.equal(full.headers['content-length'], String(SIZE))
      assert.equal(full.headers['accept-ranges'], 'bytes')
      assert.equal(full.headers['content-encoding'], undefined)
      const etag = full.headers.etag
      const lastModified = full.headers['last-modified']
      assert.ok(etag !== undefined && /^"[^"]+"$/.test(etag), `a strong ETag, got ${String(etag)}`)
      assert.ok(lastModified !== undefined)

      const get = (headers: Record<string, string>): Promise<HttpResult> => httpGet(url, { headers })
      const partial = (result: HttpResult, start: number, end: number): void => {
        assert.equal(result.status, 206)
        assert.equal(result.headers['content-range'], `bytes ${start}-${end}/${SIZE}`)
        assert.equal(result.headers['content-length'], String(end - start + 1))
        assert.deepEqual(result.body, archive.subarray(start, end + 1))
      }
      partial(await get({ range: 'bytes=0-0' }), 0, 0)
      partial(await get({ range: 'bytes=-10' }), SIZE - 10, SIZE - 1)
      partial(await get({ range: 'bytes=10-' }), 10, SIZE - 1)
      partial(await get({ range: 'bytes=9990-20000' }), 9990, SIZE - 1)

      const unsatisfiable = await get({ range: `bytes=${SIZE}-` })
      assert.equal(unsatisfiable.status, 416)
      assert.equal(unsatisfiable.headers['content-range'], `bytes */${SIZE}`)

      const notModified = await get({ 'if-none-match': etag })
      assert.equal(notModified.status, 304)
      assert.equal(notModified.body.length, 0)
      assert.equal(notModified.headers.etag, etag)
      // If-None-Match compares weakly (RFC 9110 §13.1.2).
      assert.equal((await get({ 'if-none-match': `W/${etag}` })).status, 304)
      const otherTag = await get({ 'if-none-match': '"something-else"' })
      assert.equal(otherTag.status, 200)
      assert.deepEqual(otherTag.body, archive)
      assert.equal((await get({ 'if-modified-since': lastModified })).status, 304)
      const modified = await get({ 'if-modified-since': new Date(Date.parse(lastModified) - 60_000).toUTCString() })
      assert.equal(modified.status, 200)
      assert.deepEqual(modified.body, archive)

      // If-Range: a strong match honours the range; a stale or weak validator sends the whole file.
      partial(await get({ range: 'bytes=100-199', 'if-range': etag }), 100, 199)
      for (const validator of ['"stale"', `W/${etag}`]) {
        const whole = await get({ range: 'bytes=100-199', 'if-range': validator })
        assert.equal(whole.status, 200, `If-Range: ${validator}`)
        assert.equal(whole.headers['content-range'], undefined)
        assert.deepEqual(whole.body, archive, `If-Range: ${validator}`)
      }
    })

    await t.test(`HEAD on ${path}: Content-Length and not a byte of body on the wire`, async () => {
      const { head, after } = await rawHead(url)
      assert.match(head, /^HTTP\/1\.1 200 /)
      assert.match(head, new RegExp(`\r\ncontent-length: ${SIZE}\r\n`, 'i'))
      assert.equal(after.length, 0, `bytes after the HEAD response's headers: ${after.length}`)
      const ranged = await httpGet(url, { method: 'HEAD', headers: { range: 'bytes=0-0' } })
      assert.equal(ranged.status, 206)
      assert.equal(ranged.headers['content-length'], '1')
    })
  }

  const listing = async (path: string): Promise<string> => {
    const page = await httpGet(`${server.url}${path}`)
    assert.equal(page.status, 200, `GET ${path}`)
    return page.body.toString('utf8')
  }
  /** Poll both pages of `folder` until `check` holds for both, at most FRESHNESS_MS. */
  const bothListings = async (
    folder: string,
    project: string,
    check: (page: string, tree: 'legacy' | 'simple') => boolean,
  ): Promise<number | undefined> =>
    pollUntil(
      async () =>
        check(await listing(`/${folder}/`), 'legacy') && check(await listing(`/simple/${project}/`), 'simple'),
      FRESHNESS_MS,
    )
  const href = (tree: 'legacy' | 'simple', folder: string, filename: string, bytes: Buffer): string =>
    // The default anchors: #md5= on the original tree, #sha256= on /simple/.
    tree === 'legacy'
      ? `href="${filename}#md5=${md5(bytes)}"`
      : `href="../../packages/${folder}/${filename}#sha256=${sha256(bytes)}"`

  const added = buildWheel({ name: 'realsock', version: '1.1' })

  await t.test('a file added while running is listed within 1 s', async (st) => {
    await listing('/realsock/') // the folder is known and cached before the change
    await writeDist(join(eggdir, 'realsock'), added)
    const elapsed = await bothListings('realsock', 'realsock', (page, tree) =>
      page.includes(href(tree, 'realsock', added.filename, added.bytes)),
    )
    assert.notEqual(
      elapsed,
      undefined,
      `${added.filename} not listed within ${FRESHNESS_MS} ms:\n${await listing('/realsock/')}`,
    )
    st.diagnostic(`listed after ${Math.round(elapsed ?? 0)} ms`)
    const download = await httpGet(`${server.url}/packages/realsock/${added.filename}`)
    assert.equal(download.status, 200)
    assert.deepEqual(download.body, added.bytes)
  })

  await t.test('a project folder created while running is listed within 1 s', async (st) => {
    await listing('/')
    await listing('/simple/')
    const wheel = buildWheel({ name: 'Late.Comer', version: '0.1' })
    await writeDist(join(eggdir, 'Late.Comer'), wheel)
    const elapsed = await pollUntil(
      async () =>
        (await listing('/')).includes('href="Late.Comer/"') &&
        (await listing('/simple/')).includes('href="late-comer/"'),
      FRESHNESS_MS,
    )
    assert.notEqual(
      elapsed,
      undefined,
      `Late.Comer not listed within ${FRESHNESS_MS} ms:\n${await listing('/')}\n${await listing('/simple/')}`,
    )
    st.diagnostic(`listed after ${Math.round(elapsed ?? 0)} ms`)
    assert.ok(
      (await listing('/simple/late-comer/')).includes(href('simple', 'Late.Comer', wheel.filename, wheel.bytes)),
    )
    assert.ok((await listing('/Late.Comer/')).includes(href('legacy', 'Late.Comer', wheel.filename, wheel.bytes)))
  })

  await t.test('a file replaced in place (same name, same size) gets a new digest within 1 s', async (st) => {
    const path = join(eggdir, 'realsock', added.filename)
    const edited = Buffer.from(added.bytes)
    edited[10] = (edited[10] ?? 0) ^ 0xff
    await writeFile(path, edited)
    const elapsed = await bothListings('realsock', 'realsock', (page, tree) =>
      page.includes(href(tree, 'realsock', added.filename, edited)),
    )
    assert.notEqual(elapsed, undefined, `no new digest within ${FRESHNESS_MS} ms:\n${await listing('/realsock/')}`)
    st.diagnostic(`new digest after ${Math.round(elapsed ?? 0)} ms`)
    assert.deepEqual((await httpGet(`${server.url}/realsock/${added.filename}`)).body, edited)
  })

  await t.test('a file replaced by rename (an atomic upload) gets a new digest within 1 s', async (st) => {
    const replacement = buildWheel({
      name: 'realsock',
      version: '1.1',
      moduleSource: "__version__ = '1.1'\nREPLACED = True\n",
    })
    const staging = join(eggdir, 'realsock', `.${added.filename}.partial`)
    await writeFile(staging, replacement.bytes)
    await rename(staging, join(eggdir, 'realsock', added.filename))
    const elapsed = await bothListings('realsock', 'realsock', (page, tree) =>
      page.includes(href(tree, 'realsock', added.filename, replacement.bytes)),
    )
    assert.notEqual(elapsed, undefined, `no new digest within ${FRESHNESS_MS} ms:\n${await listing('/realsock/')}`)
    st.diagnostic(`new digest after ${Math.round(elapsed ?? 0)} ms`)
    assert.deepEqual((await httpGet(`${server.url}/packages/realsock/${added.filename}`)).body, replacement.bytes)
  })

  await t.test('a removed file leaves the listings within 1 s and is no longer served', async (st) => {
    await unlink(join(eggdir, 'realsock', added.filename))
    const elapsed = await bothListings('realsock', 'realsock', (page) => !page.includes(added.filename))
    assert.notEqual(elapsed, undefined, `still listed after ${FRESHNESS_MS} ms:\n${await listing('/realsock/')}`)
    st.diagnostic(`gone after ${Math.round(elapsed ?? 0)} ms`)
    assert.equal((await httpGet(`${server.url}/realsock/${added.filename}`)).status, 404)
    assert.equal((await httpGet(`${server.url}/packages/realsock/${added.filename}`)).status, 404)
    // The other file is untouched.
    assert.ok((await listing('/realsock/')).includes(href('legacy', 'realsock', ARCHIVE, archive)))
  })

  await t.test('a non-distribution and a hidden file dropped in are never listed', async () => {
    await writeFile(join(eggdir, 'realsock', 'README'), 'not a distribution\n')
    await writeFile(join(eggdir, 'realsock', `${ARCHIVE}.asc`), 'signature\n')
    await writeFile(join(eggdir, 'realsock', '.hidden-1.0.tar.gz'), 'hidden\n')
    await mkdir(join(eggdir, '.cache'), { recursive: true })
    // A new distribution dropped at the same time shows that the listing was refreshed meanwhile.
    const marker = buildWheel({ name: 'realsock', version: '1.2' })
    await writeDist(join(eggdir, 'realsock'), marker)
    const elapsed = await bothListings('realsock', 'realsock', (page) => page.includes(marker.filename))
    assert.notEqual(elapsed, undefined)
    for (const page of [await listing('/realsock/'), await listing('/simple/realsock/')]) {
      assert.doesNotMatch(page, /README|\.asc|hidden/)
    }
    assert.doesNotMatch(await listing('/'), /\.cache/)
    assert.equal((await httpGet(`${server.url}/realsock/README`)).status, 404)
  })

  assert.deepEqual(server.badLines, [])
  assert.equal(await server.stop(), 0, server.stderr)
})
