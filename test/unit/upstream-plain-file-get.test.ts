// First downloads of upstream files read off the socket (src/upstream/plain-file-get.ts),
// against a TCP server that answers with bytes written by hand: a plain 200 is read to its
// Content-Length, its chunks views of one reused read buffer; a body cut short fails the
// download; a redirect, chunked framing or gzip is closed unread and asked again through
// upstreamGet(), which gives the right bytes; an error status fails at once; a timeout or a
// refused connection fails as upstreamGet() does, without asking twice.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { gzipSync } from 'node:zlib'
import { Download } from '../../src/upstream/file-download.js'
import { upstreamGet, type UpstreamRequest } from '../../src/upstream/http-client.js'
import { plainFileGet } from '../../src/upstream/plain-file-get.js'
import { SOCKET_READ, socketReadStats } from '../../src/upstream/socket-reads.js'
import { UpstreamFetchError } from '../../src/upstream/upstream-errors.js'
import { probeOverTls } from '../helpers/plain-get-over-tls.js'
import { rawServer } from '../helpers/raw-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const FILE = '/packages/demo/demo-1.0.tar.gz'

function request(url: URL | string, extra: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return {
    url: String(url),
    headers: { accept: '*/*' },
    timeouts: { connectMs: 10_000, firstByteMs: 10_000, idleMs: 10_000 },
    maxRedirects: 2,
    ...extra,
  }
}

/** Answer a plain 200 announcing `length` bytes, send `body` (in a write of its own), then close. */
function plain200(socket: Socket, body: Buffer, length = body.length): void {
  socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(length)}\r\nConnection: close\r\n\r\n`)
  socket.end(body)
}

/** Run a Download of `url` (no size from the page: the plain reader is tried); it and the bytes kept. */
async function download(
  t: TestContext,
  url: URL | string,
  content: Buffer,
): Promise<{ download: Download; kept: Buffer | undefined }> {
  const finalPath = join(await tempDir(t), 'demo', 'demo-1.0.tar.gz')
  const run = new Download({
    request: request(url),
    expected: { algorithm: 'sha256', hex: createHash('sha256').update(content).digest('hex') },
    size: undefined,
    finalPath,
  })
  await run.run()
  return { download: run, kept: run.state === 'done' ? await readFile(finalPath) : undefined }
}

function failsWith(kind: string, status?: number): (err: unknown) => boolean {
  return (err) => err instanceof UpstreamFetchError && err.kind === kind && err.status === status
}

/** The Authorization header a request head carried, if any. */
function authorizationIn(head: string | undefined): string | undefined {
  return /\r\nauthorization: ([^\r]*)\r\n/i.exec(head ?? '')?.[1]
}

await test('a plain 200 is read off the socket: exact bytes, one request, chunks that share one read buffer', async (t) => {
  const content = randomBytes(3 * 1024 * 1024)
  // More than announced is never taken.
  const server = await rawServer(t, FILE, (socket) => {
    plain200(socket, Buffer.concat([content, Buffer.from('trailing garbage')]), content.length)
  })
  const { download: run, kept } = await download(t, server.url, content)
  assert.equal(run.state, 'done', run.error?.message)
  assert.deepEqual(kept, content)
  assert.equal(server.heads.length, 1)
  const head = server.heads[0] ?? ''
  assert.match(head, /^GET \/packages\/demo\/demo-1\.0\.tar\.gz HTTP\/1\.1\r\n/)
  assert.match(head, /\r\naccept-encoding: identity\r\n/)
  assert.match(head, /\r\nConnection: close\r\n/)

  // The body's chunks (after the first, which came with the head) are views of one buffer of
  // SOCKET_READ bytes, and that buffer goes back to the pool for the next download.
  const response = await plainFileGet(request(server.url))
  assert.ok(response !== undefined)
  const blocks = new Set<ArrayBufferLike>()
  const hash = createHash('sha256')
  let chunks = 0
  for await (const chunk of response.body) {
    const bytes = chunk as Buffer
    if (chunks++ > 0) blocks.add(bytes.buffer)
    hash.update(bytes)
  }
  assert.equal(hash.digest('hex'), createHash('sha256').update(content).digest('hex'))
  assert.equal(blocks.size, 1)
  assert.equal([...blocks][0]?.byteLength, SOCKET_READ)
  const allocated = socketReadStats.allocated
  await download(t, server.url, content)
  assert.equal(socketReadStats.allocated, allocated)
})

await test('a slow reader that pauses after every chunk (holding it) gets exact bytes: no read while paused', async (t) => {
  const content = randomBytes(4 * 1024 * 1024)
  const server = await rawServer(t, FILE, (socket) => {
    plain200(socket, content)
  })
  const response = await plainFileGet(request(server.url))
  assert.ok(response !== undefined)
  const { body } = response
  const hash = createHash('sha256')
  await new Promise<void>((resolve, reject) => {
    body.on('data', (chunk: Buffer) => {
      // Kept past the event, read only after a pause: the buffer under it must not be read into meanwhile.
      body.pause()
      setTimeout(() => {
        hash.update(chunk)
        body.resume()
      }, 1)
    })
    body.once('end', resolve)
    body.once('error', reject)
  })
  // 'end' may come before the last timer: wait for it.
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(hash.digest('hex'), createHash('sha256').update(content).digest('hex'))
})

await test('a body cut short fails the download with the bytes received, and is not asked again', async (t) => {
  const server = await rawServer(t, FILE, (socket) => {
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nonly this')
  })
  const { download: run, kept } = await download(t, server.url, Buffer.alloc(100_000))
  assert.equal(kept, undefined)
  assert.ok(run.error instanceof UpstreamFetchError && run.error.kind === 'length', run.error?.message)
  assert.match(run.error.message, /closed after 9 of the 100000 bytes announced/)
  assert.equal(server.heads.length, 1)
})

await test('a redirect, chunked framing or gzip is left to upstreamGet(), which gives the right bytes; a 404 fails at once', async (t) => {
  const content = randomBytes(200_000)
  const gzipped = gzipSync(content)
  const answers: Record<string, (socket: Socket, head: string) => void> = {
    redirect: (socket, head) => {
      if (head.startsWith(`GET ${FILE} `))
        socket.end('HTTP/1.1 302 Found\r\nLocation: /elsewhere/demo-1.0.tar.gz\r\nContent-Length: 0\r\n\r\n')
      else plain200(socket, content)
    },
    chunked: (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n')
      socket.end(`${content.length.toString(16)}\r\n${content.toString('latin1')}\r\n0\r\n\r\n`, 'latin1')
    },
    gzip: (socket) => {
      socket.write(
        `HTTP/1.1 200 OK\r\nContent-Length: ${String(gzipped.length)}\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n`,
      )
      socket.end(gzipped)
    },
  }
  for (const [name, answer] of Object.entries(answers)) {
    const server = await rawServer(t, FILE, answer)
    const { download: run, kept } = await download(t, server.url, content)
    assert.equal(run.state, 'done', `${name}: ${run.error?.message ?? ''}`)
    assert.deepEqual(kept, content, name)
    // The plain reader's request (closed unread), then upstreamGet's (and the redirect's).
    assert.equal(server.heads.length, name === 'redirect' ? 3 : 2, name)
    assert.match(server.heads[0] ?? '', /\r\naccept-encoding: identity\r\n/, name)
  }
  const missing = await rawServer(t, FILE, (socket) => {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found')
  })
  const { download: run } = await download(t, missing.url, content)
  assert.ok(failsWith('status', 404)(run.error), run.error?.message)
  // Its status is all there is to know: not asked again.
  assert.equal(missing.heads.length, 1)
  assert.match(missing.heads[0] ?? '', /\r\naccept-encoding: identity\r\n/)
})

await test('timeouts and a refused connection fail as upstreamGet() fails, and are not asked again', async (t) => {
  const silent = await rawServer(t, FILE, () => {
    /* read the request, never answer */
  })
  const short = { timeouts: { connectMs: 300, firstByteMs: 300, idleMs: 10_000 } }
  const plainError = await plainFileGet(request(silent.url, short)).catch((err: unknown) => err)
  const clientError = await upstreamGet(request(silent.url, short)).catch((err: unknown) => err)
  assert.ok(failsWith('first-byte-timeout')(plainError), String(plainError))
  assert.ok(failsWith('first-byte-timeout')(clientError), String(clientError))
  assert.equal((plainError as Error).message, (clientError as Error).message)
  // Over https, a TCP server that never answers the TLS handshake: no connection.
  const httpsUrl = new URL(silent.url)
  httpsUrl.protocol = 'https:'
  await assert.rejects(plainFileGet(request(httpsUrl, short)), failsWith('connect-timeout'))
  await assert.rejects(upstreamGet(request(httpsUrl, short)), failsWith('connect-timeout'))
  // Port 1 on loopback: nothing listens there, so the connection is refused.
  await assert.rejects(plainFileGet(request('http://127.0.0.1:1/f.tar.gz')), (err: unknown) => {
    return failsWith('network')(err) && (err as Error).message.includes('connection refused')
  })

  // A Download that times out asks once: no second wait through upstreamGet().
  const asked = silent.heads.length
  const finalPath = join(await tempDir(t), 'demo-1.0.tar.gz')
  const run = new Download({ request: request(silent.url, short), expected: undefined, size: undefined, finalPath })
  await run.run()
  assert.ok(failsWith('first-byte-timeout')(run.error), run.error?.message)
  assert.equal(silent.heads.length, asked + 1)
})

await test('Authorization goes only to the credential origin', async (t) => {
  const content = Buffer.from('a small body')
  const server = await rawServer(t, FILE, (socket) => {
    plain200(socket, content)
  })
  const credentials = { authorization: 'Basic dXNlcjpwYXNz' }
  const own = await plainFileGet(request(server.url, { ...credentials, credentialOrigin: server.url.origin }))
  own?.body.resume()
  const other = await plainFileGet(request(server.url, { ...credentials, credentialOrigin: 'https://index.example' }))
  other?.body.resume()
  assert.equal(authorizationIn(server.heads[0]), 'Basic dXNlcjpwYXNz')
  assert.equal(authorizationIn(server.heads[1]), undefined)
})

await test('over https: a trusted certificate is read plain; an untrusted one fails as a network error', async (t) => {
  const body = randomBytes(3 * 1024 * 1024)
  const runs = await probeOverTls(t, body, FILE, ['upstream'])
  if (runs === undefined) return
  assert.deepEqual(runs.trusted, { sha256: createHash('sha256').update(body).digest('hex') })
  // Not trusted: failed as upstreamGet() fails, not asked again.
  assert.deepEqual(runs.untrusted, { failed: 'network' })
})
