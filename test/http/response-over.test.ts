// onResponseOver: layers that record a request once its response is over (the access log, the
// request metrics) share one hook; each sees every request once, in the order they were added,
// with the same byte count.
import assert from 'node:assert/strict'
import { Agent, request as httpRequest } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { onResponseOver } from '../../src/http/response-over.js'

interface Seen {
  readonly layer: string
  readonly url: string
  readonly status: number
  readonly bytesSent: number | undefined
  readonly startedWith: string
}

function recordingApp(seen: Seen[]): FastifyInstance {
  const app = Fastify()
  app.get('/page', (_request, reply) => reply.send('x'.repeat(1000)))
  for (const layer of ['first', 'second']) {
    onResponseOver(app, (started) => {
      const startedWith = started.url
      return (request, reply, bytesSent) => {
        seen.push({ layer, url: request.url, status: reply.statusCode, bytesSent, startedWith })
      }
    })
  }
  return app
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
  const app = recordingApp(seen)
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
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
  const app = recordingApp(seen)
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
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
  // before the first's 'close': the split between the two may lean to the first, the sum may not
  // exceed what was sent (reading the count when each request started counted those bytes twice).
  assert.equal((first[0] ?? 0) + (first[1] ?? 0), received)
})
