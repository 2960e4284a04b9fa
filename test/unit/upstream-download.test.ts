// The first download of an upstream file (Download), against a real HTTP server as the
// upstream and a real part file: every client gets the same bytes whether it follows the head
// (from memory) or falls behind (from the part file); the last piece waits for the digest; a
// mismatch cuts every client and keeps nothing; memory stays bounded whatever the file's size.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readdirSync, readlinkSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { test, type TestContext } from 'node:test'
import { BLOCK, blockStats, Download, RECENT_BYTES, WRITES_IN_FLIGHT } from '../../src/upstream/file-download.js'
import { UpstreamFailure } from '../../src/upstream/upstream-errors.js'
import { eventually } from '../helpers/test-bytes.js'
import { tempDir } from '../helpers/temp-tree.js'

const PIECE = 64 * 1024

/** A real HTTP server as the upstream: `send` writes each response (the tests send 64 KiB pieces, some stop before the end until a gate opens). */
async function upstream(
  t: TestContext,
  send: (res: ServerResponse) => Promise<void>,
): Promise<{ url: string; requests: () => number }> {
  let requests = 0
  const server = createServer((_req, res) => {
    requests++
    send(res).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${String(port)}/f.tar.gz`, requests: () => requests }
}

/** Write `bytes` in 64 KiB pieces, honouring backpressure. */
async function sendPieces(res: ServerResponse, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length; offset += PIECE) {
    if (!res.write(bytes.subarray(offset, offset + PIECE))) await once(res, 'drain')
  }
}

/** An upstream sending `content` whole, in pieces. */
function upstreamOf(t: TestContext, content: Buffer): ReturnType<typeof upstream> {
  return upstream(t, async (res) => {
    res.writeHead(200, { 'content-length': String(content.length) })
    await sendPieces(res, content)
    res.end()
  })
}

/** A download run, once its bytes flow. */
async function started(
  downloadPlan: ConstructorParameters<typeof Download>[0],
): Promise<{ download: Download; running: Promise<void> }> {
  const download = new Download(downloadPlan)
  const running = download.run()
  await download.started
  return { download, running }
}

function plan(url: string, dir: string, content: Buffer): ConstructorParameters<typeof Download>[0] {
  return {
    request: {
      url,
      headers: { accept: '*/*' },
      timeouts: { connectMs: 30_000, firstByteMs: 30_000, idleMs: 60_000 },
      maxRedirects: 0,
    },
    expected: { algorithm: 'sha256', hex: createHash('sha256').update(content).digest('hex') },
    size: content.length,
    finalPath: join(dir, 'proj', 'f.tar.gz'),
  }
}

/** Everything a reader gives, and how it ended. */
interface Received {
  readonly chunks: Buffer[]
  bytes: number
  error: Error | undefined
  readonly ended: Promise<void>
}

function collect(reader: Readable): Received {
  const received: Received = {
    chunks: [],
    bytes: 0,
    error: undefined,
    ended: new Promise<void>((resolve) => {
      reader.on('end', resolve)
      reader.on('error', (err) => {
        received.error = err
        resolve()
      })
    }),
  }
  reader.on('data', (chunk: Buffer) => {
    // Copied: a reader may be handed a view of a buffer the download shares.
    received.chunks.push(Buffer.from(chunk))
    received.bytes += chunk.length
  })
  return received
}

/** The descriptors of this process open on a file under `dir` (Linux /proc), as their paths. */
function descriptorsUnder(dir: string): string[] {
  const paths: string[] = []
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = ''
    try {
      target = readlinkSync(join('/proc/self/fd', fd))
    } catch {
      // Closed meanwhile.
    }
    if (target.startsWith(`${dir}/`)) paths.push(target)
  }
  return paths
}

/** Yield to I/O until `ready()` holds. */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setImmediate(resolve))
}

await test('clients at the head, a paused one and one behind get identical bytes; memory stays bounded', async (t) => {
  const dir = await tempDir(t)
  // Several times what the download keeps in memory, so the paused client must read the part file.
  const content = randomBytes(8 * (RECENT_BYTES + WRITES_IN_FLIGHT) + 12_345)
  const server = await upstream(t, async (res) => {
    res.writeHead(200, { 'content-length': String(content.length) })
    await sendPieces(res, content)
    res.end()
  })
  const download = new Download(plan(server.url, dir, content))
  let peakHeld = 0
  download.on('progress', () => {
    peakHeld = Math.max(peakHeld, download.heldBytes)
  })
  const running = download.run()
  await download.started
  const heads = [collect(download.reader()), collect(download.reader()), collect(download.reader())]
  const paused = download.reader()
  paused.pause()
  await until(() => download.received >= content.length / 2)
  const late = collect(download.reader())
  await running
  assert.equal(download.state, 'done', download.error?.message)
  const pausedReceived = collect(paused)
  paused.resume()
  for (const client of [...heads, late, pausedReceived]) {
    await client.ended
    assert.equal(client.error, undefined)
    assert.ok(Buffer.concat(client.chunks).equals(content), 'every client gets the upstream bytes')
  }
  assert.ok((await readFile(plan(server.url, dir, content).finalPath)).equals(content), 'the file is kept')
  assert.equal(server.requests(), 1)
  // Not the whole file: the pieces in memory are bounded by the two windows (plus the pieces
  // the upstream sends at once), however far behind the paused client is.
  assert.ok(peakHeld > 0, 'readers at the head were served from memory')
  assert.ok(
    peakHeld <= RECENT_BYTES + WRITES_IN_FLIGHT + 2 * BLOCK,
    `held ${String(peakHeld)} bytes of a ${String(content.length)}-byte file`,
  )
})

await test('the last piece waits for the digest; a mismatch cuts every client before the end and keeps nothing', async (t) => {
  const dir = await tempDir(t)
  const content = randomBytes(3 * RECENT_BYTES + 1000)
  const held = 1000
  let openGate: (() => void) | undefined
  const gate = new Promise<void>((resolve) => {
    openGate = resolve
  })
  const server = await upstream(t, async (res) => {
    res.writeHead(200, { 'content-length': String(content.length) })
    await sendPieces(res, content.subarray(0, content.length - held))
    await gate
    // The right length, the wrong last bytes.
    res.end(Buffer.alloc(held, 0x55))
  })
  const download = new Download(plan(server.url, dir, content))
  const running = download.run()
  await download.started
  const clients = [collect(download.reader()), collect(download.reader())]
  await until(() => download.received === content.length - held)
  await until(() => clients.every((client) => client.bytes === download.available))
  for (const client of clients) {
    assert.ok(client.bytes < content.length - held, 'the piece before the gate is held back too')
    assert.ok(Buffer.concat(client.chunks).equals(content.subarray(0, client.bytes)))
  }
  openGate?.()
  await running
  assert.equal(download.state, 'failed')
  for (const client of clients) {
    await client.ended
    // What the client is told (a 502 when nothing was sent yet); the log has the digests.
    assert.ok(client.error instanceof UpstreamFailure, String(client.error))
    assert.equal(client.error.code, 'EGGSERVE_UPSTREAM_BAD_FILE')
    assert.match(String((client.error.cause as Error | undefined)?.message), /sha256/)
    assert.ok(client.bytes < content.length, 'cut before the end')
  }
  assert.deepEqual(await readdir(join(dir, 'proj')), [], 'neither the part file nor the file is kept')
})

await test('a transfer cut after the head and before any body byte: readers get a 503 failure, not the raw error', async (t) => {
  const dir = await tempDir(t)
  // Over 1 MiB: read off the socket by the plain reader, as first downloads of real files are.
  const content = randomBytes(2 * 1024 * 1024)
  const server = await upstream(t, async (res) => {
    res.writeHead(200, { 'content-length': String(content.length) })
    res.flushHeaders()
    await new Promise((resolve) => setTimeout(resolve, 20))
    res.socket?.resetAndDestroy()
  })
  const download = new Download(plan(server.url, dir, content))
  const running = download.run()
  const client = collect(download.reader())
  await running
  await client.ended
  assert.equal(download.state, 'failed')
  assert.equal(client.bytes, 0)
  assert.ok(client.error instanceof UpstreamFailure, String(client.error))
  assert.equal(client.error.code, 'EGGSERVE_UPSTREAM_UNAVAILABLE')
  assert.equal(client.error.statusCode, 503)
  assert.deepEqual(await readdir(join(dir, 'proj')).catch(() => []), [], 'nothing is kept')
})

await test('a matching last piece reaches every client once the file is kept', async (t) => {
  const dir = await tempDir(t)
  const content = randomBytes(2 * RECENT_BYTES + 777)
  let openGate: (() => void) | undefined
  const gate = new Promise<void>((resolve) => {
    openGate = resolve
  })
  const server = await upstream(t, async (res) => {
    res.writeHead(200, { 'content-length': String(content.length) })
    await sendPieces(res, content.subarray(0, content.length - 777))
    await gate
    res.end(content.subarray(content.length - 777))
  })
  const download = new Download(plan(server.url, dir, content))
  const running = download.run()
  await download.started
  const client = collect(download.reader())
  await until(() => download.received === content.length - 777 && client.bytes === download.available)
  assert.ok(client.bytes < content.length - 777)
  openGate?.()
  await running
  await client.ended
  assert.equal(client.error, undefined)
  assert.ok(Buffer.concat(client.chunks).equals(content))
  assert.deepEqual(await readdir(join(dir, 'proj')), ['f.tar.gz', 'f.tar.gz.sha256'])
})

await test('a reader destroyed before its first read does not keep the part file open', async (t) => {
  const dir = await tempDir(t)
  const content = randomBytes(2 * RECENT_BYTES + 99)
  const server = await upstreamOf(t, content)
  const { download, running } = await started(plan(server.url, dir, content))
  // A client that went away before its response started: its stream is destroyed unread.
  download.reader().destroy()
  const reader = download.reader()
  const closed = once(reader, 'close')
  const client = collect(reader)
  await running
  assert.equal(download.state, 'done', download.error?.message)
  await client.ended
  await closed
  assert.ok(Buffer.concat(client.chunks).equals(content), 'the other client gets every byte')
  // The part file is closed asynchronously once its last reader is gone.
  assert.ok(await eventually(() => descriptorsUnder(dir).length === 0), 'nothing under the cache stays open')
})

await test('the part file stays open for a reader not read yet, and closes when it is destroyed', async (t) => {
  const dir = await tempDir(t)
  const content = randomBytes(RECENT_BYTES + 5)
  const server = await upstreamOf(t, content)
  const { download, running } = await started(plan(server.url, dir, content))
  const idle = download.reader()
  await running
  assert.equal(download.state, 'done', download.error?.message)
  const finalPath = plan(server.url, dir, content).finalPath
  assert.deepEqual(descriptorsUnder(dir), [finalPath], 'kept open (renamed) for the reader')
  idle.destroy()
  await once(idle, 'close')
  assert.ok(await eventually(() => descriptorsUnder(dir).length === 0), 'closed with its last reader')
})

await test('a page giving only md5: the md5 is checked before the last byte, and the sha256 is pinned', async (t) => {
  const dir = await tempDir(t)
  const content = randomBytes(3 * RECENT_BYTES + 4321)
  const server = await upstreamOf(t, content)
  const md5 = createHash('md5').update(content).digest('hex')
  const sha256 = createHash('sha256').update(content).digest('hex')
  // The page gives only md5: checked against it, and the sha256 pinned beside the file.
  const good = new Download({ ...plan(server.url, dir, content), expected: { algorithm: 'md5', hex: md5 } })
  const goodRun = good.run()
  await good.started
  const client = collect(good.reader())
  await goodRun
  assert.equal(good.state, 'done', good.error?.message)
  assert.equal(good.sha256, sha256)
  const finalPath = plan(server.url, dir, content).finalPath
  assert.equal(await readFile(`${finalPath}.sha256`, 'utf8'), `${sha256}\n`)
  await client.ended
  assert.ok(Buffer.concat(client.chunks).equals(content))
  // The same bytes against another md5: refused, and nothing of it kept.
  const otherDir = await tempDir(t)
  const bad = new Download({
    ...plan(server.url, otherDir, content),
    expected: { algorithm: 'md5', hex: createHash('md5').update('other').digest('hex') },
  })
  const badRun = bad.run()
  await bad.started
  const cut = collect(bad.reader())
  await badRun
  assert.equal(bad.state, 'failed')
  assert.match(String(bad.error?.message), new RegExp(`md5 is ${md5}`))
  await cut.ended
  assert.ok(cut.error !== undefined && cut.bytes < content.length, 'the client is cut before the end')
  assert.deepEqual(await readdir(join(otherDir, 'proj')), [])
})

await test('clients behind the head read the part file into two buffers each, reused once their response sent them', async (t) => {
  const dir = await tempDir(t)
  const content = randomBytes(8 * (RECENT_BYTES + WRITES_IN_FLIGHT) + 4321)
  const source = await upstreamOf(t, content)
  const { download, running } = await started(plan(source.url, dir, content))
  // The readers' responses are real ones (the sink), to real clients on real sockets.
  const server = await upstream(t, (res) => {
    res.setHeader('content-length', String(content.length))
    download.reader(res).pipe(res)
    return Promise.resolve()
  })
  const responses = await Promise.all(
    Array.from({ length: 3 }, async () => {
      const [response] = (await once(get(server.url), 'response')) as [IncomingMessage]
      // Not read until the download is over: each client is far behind the bytes in memory.
      response.pause()
      return response
    }),
  )
  await running
  assert.equal(download.state, 'done', download.error?.message)
  const bodies = responses.map(async (response) => {
    const chunks: Buffer[] = []
    for await (const chunk of response) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  })
  for (const body of await Promise.all(bodies)) assert.ok(body.equals(content), 'every client gets the upstream bytes')
  // Each client read most of the file back (over 200 reads of 64 KiB), into buffers of its own;
  // a new buffer is taken only when the response still holds the previous ones.
  assert.ok(
    download.readBuffersAllocated <= 3 * 4,
    `${String(download.readBuffersAllocated)} buffers for 3 clients reading ${String(content.length)} bytes each`,
  )
})

await test('blocks are used again, download after download, and every client still gets the upstream bytes', async (t) => {
  const content = randomBytes(8 * (RECENT_BYTES + WRITES_IN_FLIGHT) + 4321)
  const source = await upstreamOf(t, content)
  const blocksBefore = blockStats.allocated
  for (let round = 0; round < 3; round++) {
    const dir = await tempDir(t)
    const { download, running } = await started(plan(source.url, dir, content))
    // Real responses (the sink) to real clients: blocks go back only once no response can
    // still be sending from them.
    const server = await upstream(t, (res) => {
      res.setHeader('content-length', String(content.length))
      download.reader(res).pipe(res)
      return Promise.resolve()
    })
    const body = async (response: IncomingMessage, stopAfter?: number): Promise<Buffer> => {
      const chunks: Buffer[] = []
      let bytes = 0
      for await (const chunk of response) {
        chunks.push(chunk as Buffer)
        bytes += (chunk as Buffer).length
        // A client that goes away halfway.
        if (stopAfter !== undefined && bytes > stopAfter) {
          response.destroy()
          break
        }
      }
      return Buffer.concat(chunks)
    }
    const ask = async (): Promise<IncomingMessage> => {
      const [response] = (await once(get(server.url), 'response')) as [IncomingMessage]
      return response
    }
    const [fast, slow, leaving] = await Promise.all([ask(), ask(), ask()])
    // Paused while the download runs on: its response keeps what it was sending from memory.
    slow.pause()
    const fastBody = body(fast)
    const leftWith = body(leaving, content.length / 3)
    await until(() => download.received >= content.length / 2)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const slowBody = body(slow)
    await running
    assert.equal(download.state, 'done', download.error?.message)
    for (const got of [await fastBody, await slowBody]) assert.ok(got.equals(content), 'the upstream bytes, whole')
    const partial = await leftWith
    assert.ok(partial.equals(content.subarray(0, partial.length)), 'the client that left got the right bytes')
  }
  // Three downloads of 64 blocks' worth each: most of their blocks were ones given back.
  const allocated = blockStats.allocated - blocksBefore
  assert.ok(allocated <= 40, `${String(allocated)} blocks allocated for 3 downloads of ${String(content.length)} bytes`)
})
