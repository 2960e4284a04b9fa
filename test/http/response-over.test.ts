// ResponseOverController: layers that record a request once its response is over (the access
// log, the request metrics) hear it from Fastify's LogController calls; each sees every request
// once, in the order they were added, with the same byte count, abandoned responses included.
import assert from 'node:assert/strict'
import { Agent, request as httpRequest } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { test, type TestContext } from 'node:test'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { frameworkErrors } from '../../src/http/error-handler.js'
import { ResponseOverController } from '../../src/http/response-over.js'

interface Seen {
  readonly layer: string
  readonly url: string
  readonly status: number
  readonly bytesSent: number | undefined
  readonly startedWith: string
}

function recordingApp(seen: Seen[]): FastifyInstance {
  const responses = new ResponseOverController()
  // A logger, as buildApp's app has: Fastify reports completions only then.
  const logger: FastifyBaseLogger = pino({ level: 'silent' })
  const app = Fastify({ loggerInstance: logger, logController: responses })
  app.get('/page', (_request, reply) => reply.send('x'.repeat(1000)))
  // A body that never ends by itself: 64 KiB whenever the client reads.
  app.get('/endless', (_request, reply) =>
    reply.send(
      new Readable({
        read() {
          this.push(Buffer.alloc(65536, 0x61))
        },
      }),
    ),
  )
  for (const layer of ['first', 'second']) {
    responses.onResponseOver((started) => {
      const startedWith = started.url
      return (request, reply, bytesSent) => {
        seen.push({ layer, url: request.url, status: reply.statusCode, bytesSent, startedWith })
      }
    })
  }
  return app
}

/** recordingApp() listening on a port of loopback, closed after the test. */
async function listeningApp(t: TestContext, seen: Seen[]): Promise<{ app: FastifyInstance; port: number }> {
  const app = recordingApp(seen)
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as AddressInfo).port }
}

await test('every layer sees each response once, in order; inject counts no bytes', async (t) => {
  const seen: Seen[] = []
  const app = recordingApp(seen)
  t.after(() => app.close())
  await app.inject({ url: '/page' })
  await app.inject({ url: '/missing' })
  assert.deepEqual(
    seen.map((s) => [s.layer, s.url, s.status, s.bytesSent, s.startedWith]),
    [
      ['first', '/page', 200, undefined, '/page'],
      ['second', '/page', 200, undefined, '/page'],
      ['first', '/missing', 404, undefined, '/missing'],
      ['second', '/missing', 404, undefined, '/missing'],
    ],
  )
})

await test('over a real socket, both layers get the bytes of their own response on a kept-alive connection', async (t) => {
  const seen: Seen[] = []
  const { port } = await listeningApp(t, seen)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => {
    agent.destroy()
  })
  const get = (): Promise<number> =>
    new Promise((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/page', agent }, (res) => {
        let length = 0
        res.on('data', (chunk: Buffer) => {
          length += chunk.length
        })
        res.on('end', () => {
          resolve(length)
        })
      })
        .on('error', reject)
        .end()
    })
  assert.equal(await get(), 1000)
  assert.equal(await get(), 1000)
  // 'close' of the second response may follow its last byte by a tick.
  while (seen.length < 4) await new Promise((resolve) => setImmediate(resolve))
  const bytes = seen.map((s) => s.bytesSent)
  for (const value of bytes) assert.ok(typeof value === 'number' && value > 1000 && value < 1400, String(value))
  // The same count for both layers, and per response, not per connection.
  assert.deepEqual(bytes, [bytes[0], bytes[0], bytes[0], bytes[0]])
})

await test('pipelined requests on one connection: no byte is counted twice, the counts add up to what the client got', async (t) => {
  const seen: Seen[] = []
  const { port } = await listeningApp(t, seen)
  const received = await new Promise<number>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let length = 0
    socket.on('data', (chunk: Buffer) => {
      length += chunk.length
    })
    socket.on('end', () => {
      resolve(length)
    })
    socket.on('error', reject)
    // Both requests in one write: the second arrives while the first is being answered.
    socket.end('GET /page HTTP/1.1\r\nHost: x\r\n\r\n' + 'GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  })
  while (seen.length < 4) await new Promise((resolve) => setImmediate(resolve))
  const first = seen.filter((s) => s.layer === 'first').map((s) => s.bytesSent ?? NaN)
  assert.equal(first.length, 2)
  // Node writes the second response (queued behind the first) as soon as the first finishes,
  // before Fastify reports the first complete: the split between the two may lean to the first,
  // the sum may not exceed what was sent (reading the count when each request started counted
  // those bytes twice).
  assert.equal((first[0] ?? 0) + (first[1] ?? 0), received)
})

await test('a response the client abandons is seen once, when its connection closes, with the bytes it got', async (t) => {
  const seen: Seen[] = []
  const { app, port } = await listeningApp(t, seen)
  const received = await new Promise<number>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let length = 0
    socket.on('data', (chunk: Buffer) => {
      length += chunk.length
      // Go away mid-body, as a client that cancels a download does.
      if (length > 200_000) socket.destroy()
    })
    socket.on('close', () => {
      resolve(length)
    })
    socket.on('error', reject)
    socket.write('GET /endless HTTP/1.1\r\nHost: x\r\n\r\n')
  })
  // Wait until the server has seen the connection close (so the test ends, with or without a
  // report), then a little more: nothing may come twice.
  const connections = (): Promise<number> =>
    new Promise((resolve, reject) => {
      app.server.getConnections((error, count) => {
        if (error === null) resolve(count)
        else reject(error)
      })
    })
  while ((await connections()) > 0) await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual(
    seen.map((s) => [s.layer, s.url, s.status]),
    [
      ['first', '/endless', 200],
      ['second', '/endless', 200],
    ],
  )
  const bytes = seen[0]?.bytesSent ?? NaN
  assert.ok(bytes >= received, `${String(bytes)} counted, ${String(received)} received`)
  assert.equal(seen[1]?.bytesSent, bytes)
})

await test('a URL Fastify rejects before routing (frameworkErrors) leaves nothing open on its connection', async (t) => {
  const seen: Seen[] = []
  const responses = new ResponseOverController()
  const logger: FastifyBaseLogger = pino({ level: 'silent' })
  const app = Fastify({
    loggerInstance: logger,
    logController: responses,
    frameworkErrors,
  })
  app.get('/page/:name', (_request, reply) => reply.send('x'))
  responses.onResponseOver(() => (request, reply, bytesSent) => {
    seen.push({ layer: 'only', url: request.url, status: reply.statusCode, bytesSent, startedWith: '' })
  })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      text += chunk
    })
    socket.on('close', () => {
      resolve(text)
    })
    socket.on('error', reject)
    socket.end(
      'GET /page/%zz HTTP/1.1\r\nHost: x\r\n\r\n' + 'GET /page/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    )
  })
  assert.match(answer, /^HTTP\/1\.1 400 /)
  assert.match(answer, /HTTP\/1\.1 200 /)
  await new Promise((resolve) => setTimeout(resolve, 50))
  // Only the routed request: the rejected one is neither reported late, when its connection
  // closed, nor as an abandoned response.
  assert.deepEqual(
    seen.map((s) => [s.url, s.status]),
    [['/page/ok', 200]],
  )
})
