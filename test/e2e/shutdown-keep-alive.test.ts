// Keep-alive connections at a graceful stop (docs/operations.md, "Shutdown"): a request in
// flight at SIGTERM is answered with `Connection: close` and its connection closed by the
// server right after the response, and a download whose headers were already sent has its
// connection closed as soon as the body is out, so the process exits once in-flight work ends
// instead of keeping the connection for keepAliveTimeout. Real process, raw keep-alive sockets.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { writeDist } from '../helpers/distributions.js'
import { startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const SHUTTING_DOWN = 'Shutting down: no new connections; in-flight requests may finish'

interface RawResponse {
  readonly status: number
  readonly headers: ReadonlyMap<string, string>
  readonly body: Buffer
}

/** An HTTP/1.1 client on one socket: keep-alive (HTTP/1.1's default), responses read by Content-Length. */
class RawConnection {
  readonly socket: Socket
  /** Resolves when the server ends the connection (its FIN). */
  readonly ended: Promise<void>
  // Chunks as they came, joined only when a response is complete (joining on every chunk
  // would copy a big body over and over).
  #chunks: Buffer[] = []
  #length = 0
  #wake: (() => void) | undefined

  constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk)
      this.#length += chunk.length
      this.#wake?.()
    })
    this.ended = once(socket, 'end').then(() => undefined)
    this.ended.finally(() => this.#wake?.()).catch(() => undefined)
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = connect({ host: '127.0.0.1', port })
    await once(socket, 'connect')
    return new RawConnection(socket)
  }

  send(path: string): void {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  }

  /** Bytes received so far, not yet taken by response(). */
  get buffered(): number {
    return this.#length
  }

  /** The next complete response (head, then Content-Length bytes of body). */
  async response(): Promise<RawResponse> {
    let head: { end: number; status: number; headers: Map<string, string>; length: number } | undefined
    for (;;) {
      // Until the head is found only a few bytes are held, so joining them costs nothing.
      head ??= this.#head()
      if (head !== undefined && this.#length >= head.end + 4 + head.length) {
        const all = this.#joined()
        const rest = all.subarray(head.end + 4 + head.length)
        this.#chunks = [rest]
        this.#length = rest.length
        return {
          status: head.status,
          headers: head.headers,
          body: all.subarray(head.end + 4, head.end + 4 + head.length),
        }
      }
      if (this.socket.readableEnded) throw new Error(`connection ended with ${String(this.#length)} bytes`)
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
    }
  }

  #joined(): Buffer {
    const all = Buffer.concat(this.#chunks)
    this.#chunks = [all]
    return all
  }

  #head(): { end: number; status: number; headers: Map<string, string>; length: number } | undefined {
    const all = this.#joined()
    const end = all.indexOf('\r\n\r\n')
    if (end === -1) return undefined
    const [statusLine = '', ...lines] = all.subarray(0, end).toString('latin1').split('\r\n')
    const headers = new Map<string, string>()
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
    }
    const length = Number(headers.get('content-length') ?? NaN)
    assert.ok(Number.isInteger(length), `a Content-Length: ${statusLine}`)
    return { end, status: Number(statusLine.split(' ')[1]), headers, length }
  }
}

/** An upstream index whose page of `slowproj` is held until release() (other pages: 404). */
async function heldUpstream(t: TestContext): Promise<{ url: string; asked: Promise<void>; release: () => void }> {
  let release = (): void => undefined
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  let asked = (): void => undefined
  const arrived = new Promise<void>((resolve) => {
    asked = resolve
  })
  const server: Server = createServer((request, response) => {
    if (request.url !== '/simple/slowproj/') {
      response.writeHead(404).end()
      return
    }
    asked()
    void released.then(() => {
      response.writeHead(200, { 'content-type': 'text/html' })
      response.end('<a href="slowproj-1.0.tar.gz#sha256=' + '0'.repeat(64) + '">slowproj-1.0.tar.gz</a>')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    release()
    server.closeAllConnections()
    server.close()
  })
  const address = server.address()
  assert.ok(address !== null && typeof address === 'object')
  return { url: `http://127.0.0.1:${String(address.port)}/simple/`, asked: arrived, release }
}

/** Wait until every process (the primary and each worker) has logged that it is shutting down. */
async function allShuttingDown(server: ServerHandle, processes: number): Promise<void> {
  while (server.lines.filter((line) => line.msg === SHUTTING_DOWN).length < processes) await sleep(25)
}

for (const workers of [[], ['--workers', '2']]) {
  const processes = workers.length === 0 ? 1 : 3
  await test(`SIGTERM with a request in flight on a keep-alive connection: answered with Connection: close, then closed${workers.length === 0 ? '' : ' (--workers 2)'}`, async (t) => {
    const upstream = await heldUpstream(t)
    const server = await startServer(t, {
      eggdir: await tempDir(t, 'eggserve-keepalive-'),
      args: [
        ...['--upstream', upstream.url, '--cache-dir', await tempDir(t, 'eggserve-keepalive-cache-')],
        // Longer than any wait for the test to answer on a loaded machine: the end is tested, not the timeout.
        ...['--shutdown-timeout', '600', ...workers],
      ],
    })
    const connection = await RawConnection.open(server.port)
    t.after(() => connection.socket.destroy())
    // A first answer on the connection: it stays open (keep-alive).
    connection.send('/simple/')
    const first = await connection.response()
    assert.equal(first.status, 200)
    assert.notEqual(first.headers.get('connection'), 'close')

    // The second request waits for the upstream; the stop comes meanwhile.
    connection.send('/simple/slowproj/')
    await upstream.asked
    server.process.kill('SIGTERM')
    await allShuttingDown(server, processes)
    assert.equal(server.process.exitCode, null, 'still running while the request is in flight')
    upstream.release()

    const second = await connection.response()
    assert.equal(second.status, 200)
    assert.match(second.body.toString(), /slowproj-1\.0\.tar\.gz/)
    // RFC 9112 §9.6: the server says it closes after this response, and does.
    assert.equal(second.headers.get('connection'), 'close')
    await connection.ended
    assert.equal(connection.buffered, 0, 'nothing after the last response')
    assert.equal(await server.exited, 0, server.stderr)
  })
}

await test('SIGTERM during a keep-alive download whose headers are out: the server closes the connection after the body', async (t) => {
  const eggdir = await tempDir(t, 'eggserve-keepalive-')
  // Bigger than the loopback buffers of a client that pauses, so the body is really in flight.
  const big = Buffer.alloc(32 * 1024 * 1024, 7)
  await writeDist(join(eggdir, 'bigdemo'), { filename: 'bigdemo-1.0.tar.gz', bytes: big })
  // A grace period long enough for a loaded machine: what is tested is the end, not the timeout.
  const server = await startServer(t, { eggdir, args: ['--shutdown-timeout', '600'] })
  const connection = await RawConnection.open(server.port)
  t.after(() => connection.socket.destroy())
  connection.send('/simple/')
  assert.equal((await connection.response()).status, 200)
  connection.send('/packages/bigdemo/bigdemo-1.0.tar.gz')
  // Paused once the head has come: the rest of the body waits in the server.
  while (connection.buffered === 0) await sleep(25)
  connection.socket.pause()
  server.process.kill('SIGTERM')
  await allShuttingDown(server, 1)
  assert.equal(server.process.exitCode, null, 'still running while the download is in flight')
  connection.socket.resume()
  const download = await connection.response()
  assert.equal(download.status, 200)
  assert.ok(download.body.equals(big))
  await connection.ended
  assert.equal(await server.exited, 0, server.stderr)
})
