// Upstream sockets that read into a buffer of their own (socket-reads.ts), against a real HTTP
// server: every read of a keep-alive socket goes into the same buffer, and a body chunk is never
// overwritten by a later read, however long its consumer keeps it (node:http copies the body out
// of the read; if a Node version stopped doing so, the second test would fail there).
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, request, type IncomingMessage } from 'node:http'
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https'
import { test, type TestContext } from 'node:test'
import { tempDir } from '../helpers/temp-tree.js'
import { listenForTest, selfSignedCertificate } from '../helpers/test-certificate.js'
import { needTool } from '../helpers/tools.js'
import { readingAgent, SOCKET_READ, socketReadStats } from '../../src/upstream/socket-reads.js'

const content = randomBytes(40 * SOCKET_READ + 1234)
const sha256 = createHash('sha256').update(content).digest('hex')

async function server(t: TestContext): Promise<string> {
  const upstream = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(content.length) })
    res.end(content)
  })
  return `http://127.0.0.1:${String(await listenForTest(t, upstream))}/f`
}

async function get(url: string): Promise<IncomingMessage> {
  const req = request(url, { agent: readingAgent('http:') })
  req.end()
  const [response] = (await once(req, 'response')) as [IncomingMessage]
  return response
}

await test('every read of a keep-alive socket goes into one buffer; bodies arrive intact, paused or not', async (t) => {
  const url = await server(t)
  const before = { ...socketReadStats }
  for (let round = 0; round < 3; round++) {
    const response = await get(url)
    const hash = createHash('sha256')
    let received = 0
    let pauses = 0
    response.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      received += chunk.length
      // Now and then paused for a while: the response holds a read meanwhile.
      if (received > (pauses + 1) * 7 * SOCKET_READ) {
        pauses++
        response.pause()
        setTimeout(() => response.resume(), 20)
      }
    })
    await once(response, 'end')
    assert.equal(received, content.length)
    assert.equal(hash.digest('hex'), sha256, `round ${String(round)}: the bytes of every read arrive intact`)
    assert.ok(pauses >= 4)
  }
  const reads = socketReadStats.reads - before.reads
  const allocated = socketReadStats.allocated - before.allocated
  assert.ok(reads >= 3 * 40, `${String(reads)} reads through the socket's own buffer`)
  assert.ok(allocated <= 1, `${String(allocated)} buffers for ${String(reads)} reads of one socket`)
})

await test('a consumer keeping every body chunk as given gets them intact', async (t) => {
  const url = await server(t)
  for (let round = 0; round < 2; round++) {
    const response = await get(url)
    const chunks: Buffer[] = []
    // Kept as given, and taken in turns, so later reads happen while earlier chunks are kept.
    for await (const chunk of response) {
      chunks.push(chunk as Buffer)
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.ok(chunks.length > 10)
    assert.ok(Buffer.concat(chunks).equals(content), 'no chunk was overwritten by a later read')
  }
})

await test('https: TLS sockets read the decrypted bytes into their own buffer too', async (t) => {
  const openssl = needTool(t, 'openssl')
  if (openssl === undefined) return
  const { key, cert } = await selfSignedCertificate(openssl, await tempDir(t))
  const upstream = createHttpsServer({ key, cert }, (_req, res) => {
    res.writeHead(200, { 'content-length': String(content.length) })
    res.end(content)
  })
  const port = await listenForTest(t, upstream)
  const before = socketReadStats.reads
  const req = httpsRequest(`https://127.0.0.1:${String(port)}/f`, {
    agent: readingAgent('https:'),
    rejectUnauthorized: false,
  })
  req.end()
  const [response] = (await once(req, 'response')) as [IncomingMessage]
  const hash = createHash('sha256')
  for await (const chunk of response) hash.update(chunk as Buffer)
  assert.equal(hash.digest('hex'), sha256)
  assert.ok(socketReadStats.reads - before > 10, "the reads went through the socket's own buffer")
})
