// KeepAliveDrain on a real http.Server and raw keep-alive sockets: once drain() is called, a
// response in flight that has not sent its headers says `Connection: close`, and one whose
// headers are out has its connection closed by the server in the turn after it ends, where
// Node alone would keep it for keepAliveTimeout (set to never here).
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { KeepAliveDrain } from '../../src/daemon/keep-alive-drain.js'

async function setUp(t: TestContext): Promise<{
  drain: KeepAliveDrain
  client: Socket
  received: () => string
  /** The response to the first request (sent here). */
  pending: Promise<ServerResponse>
  /** The response to request `n` on the connection, 0 the first. */
  response: (n: number) => Promise<ServerResponse>
}> {
  const responses: ServerResponse[] = []
  const waiting = new Map<number, (response: ServerResponse) => void>()
  const server = createServer((_request, response) => {
    responses.push(response)
    waiting.get(responses.length - 1)?.(response)
  })
  const response = (n: number): Promise<ServerResponse> => {
    const got = responses[n]
    return got === undefined ? new Promise((resolve) => waiting.set(n, resolve)) : Promise.resolve(got)
  }
  // No keep-alive timeout: only the drain can close an idle connection.
  server.keepAliveTimeout = 0
  const drain = new KeepAliveDrain(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  const address = server.address()
  assert.ok(address !== null && typeof address === 'object')
  const client = connect({ host: '127.0.0.1', port: address.port })
  await once(client, 'connect')
  t.after(() => client.destroy())
  let text = ''
  client.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1')
  })
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  return { drain, client, received: () => text, pending: response(0), response }
}

await test('a response that has not started when the drain begins says Connection: close, and the server closes', async (t) => {
  const { drain, client, received, pending } = await setUp(t)
  const response = await pending
  drain.drain()
  response.end('hello')
  await once(client, 'end')
  assert.match(received(), /^HTTP\/1\.1 200 OK\r\n/)
  assert.match(received(), /\r\nconnection: close\r\n/i)
  assert.ok(received().endsWith('\r\n\r\nhello'))
})

await test('a download whose headers are out: its connection is closed the turn after the response ends', async (t) => {
  const { drain, client, received, pending } = await setUp(t)
  const response = await pending
  response.writeHead(200, { 'content-length': '5' })
  response.write('he')
  drain.drain()
  const socket = response.socket
  assert.ok(socket !== null)
  // The drain's own listener was added first, so its turn comes before the one checked here.
  const checked = new Promise<boolean>((resolve) => {
    response.once('close', () => {
      setImmediate(() => {
        setImmediate(() => {
          resolve(socket.destroyed)
        })
      })
    })
  })
  response.end('llo')
  assert.equal(await checked, true, 'closed by the server, not kept for a keep-alive timeout')
  await once(client, 'end')
  assert.match(received(), /\r\nconnection: keep-alive\r\n/i, 'the headers went out before the stop')
  assert.ok(received().endsWith('\r\n\r\nhello'))
})

await test('a request the server reads as the drain begins is answered with Connection: close', async (t) => {
  const { drain, client, received, pending } = await setUp(t)
  drain.drain()
  const response = await pending
  response.end('late')
  await once(client, 'end')
  assert.match(received(), /\r\nconnection: close\r\n/i)
})

await test('on a connection that already carried a response, the one in flight when the drain begins says Connection: close', async (t) => {
  const { drain, client, received, response } = await setUp(t)
  const first = await response(0)
  first.end('one')
  await once(first, 'close')
  client.write('GET /two HTTP/1.1\r\nHost: x\r\n\r\n')
  const second = await response(1)
  drain.drain()
  second.end('two')
  await once(client, 'end')
  const [one, two] = received().split(/(?=HTTP\/1\.1 )/)
  assert.match(one ?? '', /\r\nconnection: keep-alive\r\n/i, 'the first response went out before the stop')
  assert.match(two ?? '', /\r\nconnection: close\r\n/i)
  assert.ok(received().endsWith('\r\n\r\ntwo'))
})
