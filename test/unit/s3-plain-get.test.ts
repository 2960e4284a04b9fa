// plainGet() against a TCP server that answers with bytes written by hand: the plain answer is
// read to its Content-Length; a body cut short fails the stream instead of ending it; anything
// but the plain case (another status, chunked framing, another length) is refused before a
// byte is passed on, so that the caller can ask GetObject instead.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createHash, randomBytes } from 'node:crypto'
import { createServer as createHttpServer, get as httpGet } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { deferredStream, type PushTarget } from '../../src/storage/deferred-stream.js'
import { plainGet, type PlainGetRequest } from '../../src/storage/s3-plain-get.js'
import type { StreamSink } from '../../src/storage/storage.js'
import { probeOverTls } from '../helpers/plain-get-over-tls.js'
import { rawServer } from '../helpers/raw-server.js'

const OBJECT = '/bucket/demo/demo-1.0.tar.gz?X-Amz-Signature=s'

function request(url: URL, length: number, status: 200 | 206 = 200): PlainGetRequest {
  return { url, headers: { 'if-match': '"abc"' }, status, length, timeoutMs: 10_000, connectTimeoutMs: 10_000 }
}

/** The body as a stream, as s3-read.ts makes it (an empty one if plainGet refused). */
function bodyOf(get: PlainGetRequest, sink?: StreamSink, signal = new AbortController().signal): Readable {
  return deferredStream(
    async (target) => (await plainGet(get, signal, target, sink)) ?? Readable.from([Buffer.from('refused')]),
    { highWaterMark: 64 * 1024 },
  )
}

/** A target that only records: for answers that must be refused before anything is pushed. */
function recording(): PushTarget & { pushed: number } {
  return {
    pushed: 0,
    push(this: { pushed: number }) {
      this.pushed++
      return true
    },
    fail: () => undefined,
    queued: 0,
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

await test('plainGet', async (t) => {
  await t.test('reads exactly Content-Length bytes of a 200, and sends the signed headers as given', async (t) => {
    const body = Buffer.alloc(300_000, 3)
    const server = await rawServer(t, OBJECT, (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(body.length)}\r\nETag: "abc"\r\n\r\n`)
      // More than announced: never passed on.
      socket.end(Buffer.concat([body, Buffer.from('trailing garbage')]))
    })
    assert.deepEqual(await collect(bodyOf(request(server.url, body.length))), body)
    const head = server.heads[0] ?? ''
    assert.match(head, /^GET \/bucket\/demo\/demo-1\.0\.tar\.gz\?X-Amz-Signature=s HTTP\/1\.1\r\n/)
    assert.match(head, /\r\nHost: 127\.0\.0\.1:\d+\r\n/)
    assert.match(head, /\r\nif-match: "abc"\r\n/)
  })

  await t.test('a body cut short fails the stream: it never ends as if complete', async (t) => {
    const server = await rawServer(t, OBJECT, (socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nonly this')
    })
    await assert.rejects(collect(bodyOf(request(server.url, 100_000))), /closed the connection before the end/)
    // The same with a sink: the socket then reads into buffers of its own (onread).
    const sink = new Writable({
      write(_chunk, _encoding, callback) {
        callback()
      },
    })
    await assert.rejects(
      pipeline(bodyOf(request(server.url, 100_000), sink), sink),
      /closed the connection before the end/,
    )
  })

  await t.test('anything but the plain answer is refused before a byte is passed on', async (t) => {
    const answers = [
      'HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfour',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Encoding: gzip\r\n\r\nhello',
      'HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\n\r\nhello',
    ]
    for (const answer of answers) {
      const server = await rawServer(t, OBJECT, (socket) => {
        socket.end(answer)
      })
      const target = recording()
      assert.equal(await plainGet(request(server.url, 5), new AbortController().signal, target), undefined, answer)
      assert.equal(target.pushed, 0)
    }
    // Nobody listening: refused too (GetObject then reports it, after its retries).
    const closed = await rawServer(t, OBJECT, (socket) => socket.destroy())
    assert.equal(await plainGet(request(closed.url, 5), new AbortController().signal, recording()), undefined)
  })

  await t.test(
    'a store that completes no connection is given up after the connect timeout, not the idle one',
    // Without a connect timeout of its own this waits out the idle timeout below (10 minutes).
    { timeout: 60_000 },
    async (t) => {
      // A TCP server that never answers the TLS handshake: the connection never completes.
      const silent = await rawServer(t, OBJECT, () => {
        /* never answer */
      })
      const url = new URL(silent.url)
      url.protocol = 'https:'
      const get = { ...request(url, 5), timeoutMs: 600_000, connectTimeoutMs: 300 }
      const target = recording()
      assert.equal(await plainGet(get, new AbortController().signal, target), undefined)
      assert.equal(target.pushed, 0)
    },
  )

  await t.test('destroying the stream, or aborting, closes the connection', async (t) => {
    const server = await rawServer(t, OBJECT, (socket) => {
      // Headers and a first chunk, then nothing more: only the client can end this.
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nfirst')
    })
    const stream = bodyOf(request(server.url, 1_000_000))
    await once(stream, 'data')
    stream.destroy()
    while (server.closed() < 1) await sleep(10)
    const controller = new AbortController()
    const aborted = plainGet(request(server.url, 1_000_000), controller.signal, recording())
    controller.abort()
    assert.equal(await aborted, undefined)
  })

  await t.test(
    'with the response as the sink (read buffers reused once sent), a slow client gets every byte intact',
    async (t) => {
      const body = randomBytes(8 * 1024 * 1024)
      const store = await rawServer(t, OBJECT, (socket) => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(body.length)}\r\n\r\n`)
        socket.end(body)
      })
      const relay = createHttpServer((_req, res) => {
        res.writeHead(200, { 'content-length': body.length })
        bodyOf(request(store.url, body.length), res).pipe(res)
      })
      relay.listen(0, '127.0.0.1')
      await once(relay, 'listening')
      t.after(() => {
        relay.close()
      })
      const { port } = relay.address() as AddressInfo // a TCP listener's address
      const digest = await new Promise<string>((resolve, reject) => {
        httpGet(`http://127.0.0.1:${String(port)}/`, (res) => {
          const hash = createHash('sha256')
          let reads = 0
          // Paused now and then, so that the relay's writes back up and its buffers stay in use.
          res.on('data', (chunk: Buffer) => {
            hash.update(chunk)
            if (++reads % 2 === 0) {
              res.pause()
              setTimeout(() => res.resume(), 5)
            }
          })
          res.once('end', () => {
            resolve(hash.digest('hex'))
          })
          res.once('error', reject)
        }).once('error', reject)
      })
      assert.equal(digest, createHash('sha256').update(body).digest('hex'))
    },
  )
})

await test('over https: the body of a store whose certificate is trusted, and never one whose certificate is not', async (t) => {
  const body = randomBytes(3 * 1024 * 1024)
  const runs = await probeOverTls(t, body, OBJECT)
  if (runs === undefined) return
  assert.deepEqual(runs.trusted, { sha256: createHash('sha256').update(body).digest('hex') })
  // Not trusted: refused (GetObject is asked instead, and fails the same way), no byte read.
  assert.deepEqual(runs.untrusted, { refused: true })
})

await test('over https with a sink, the socket decrypts into two reused buffers, not a new one per record', async (t) => {
  const body = randomBytes(3 * 1024 * 1024)
  const runs = await probeOverTls(t, body, OBJECT, ['sink'])
  if (runs === undefined) return
  // The two read buffers, and the copy HeadReader makes of the body's first bytes; a new
  // buffer per TLS record (16 KiB at most) would be some 200.
  const read = runs.trusted as { sha256: string; blocks: number }
  assert.equal(read.sha256, createHash('sha256').update(body).digest('hex'))
  assert.ok(read.blocks <= 3, `${String(read.blocks)} buffers`)
  assert.deepEqual(runs.untrusted, { refused: true })
  // A sink that holds chunks a while: no buffer is read into while one of its chunks waits.
  const slow = await probeOverTls(t, body, OBJECT, ['slow-sink'])
  assert.equal(
    (slow?.trusted as { sha256: string } | undefined)?.sha256,
    createHash('sha256').update(body).digest('hex'),
  )
})
