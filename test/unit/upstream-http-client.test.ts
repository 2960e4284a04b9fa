// The upstream HTTP client against real loopback servers: redirects (http(s) only, bounded,
// credentials kept to their origin), bounded bodies, gzip, and a silent server timing out.
import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import { gzipSync } from 'node:zlib'
import { readBounded, upstreamGet, type UpstreamRequest } from '../../src/upstream/http-client.js'
import { UpstreamFetchError } from '../../src/upstream/upstream-errors.js'

async function serve(t: TestContext, handler: RequestListener): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => {
    seen.push(req.headers)
    handler(req, res)
  })
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, seen } // a TCP listen gives an AddressInfo
}

const request = (url: string, extra: Partial<UpstreamRequest> = {}): UpstreamRequest => ({
  url,
  headers: { accept: '*/*' },
  timeouts: { connectMs: 2000, firstByteMs: 2000, idleMs: 2000 },
  maxRedirects: 2,
  ...extra,
})

const failsWith =
  (kind: string) =>
  (err: unknown): boolean =>
    err instanceof UpstreamFetchError && err.kind === kind

await test('redirects are followed a bounded number of times, to http(s) only', async (t) => {
  const target = await serve(t, (_req, res) => {
    res.end('arrived')
  })
  const hops = await serve(t, (req, res) => {
    const n = Number(req.url?.slice(1))
    res.writeHead(302, { location: n > 0 ? `/${String(n - 1)}` : `${target.url}/end` })
    res.end()
  })
  const response = await upstreamGet(request(`${hops.url}/1`))
  assert.equal((await readBounded(response, 100)).toString(), 'arrived')
  assert.equal(response.url, `${target.url}/end`)
  await assert.rejects(upstreamGet(request(`${hops.url}/5`)), failsWith('redirect'))
  const elsewhere = await serve(t, (_req, res) => {
    res.writeHead(301, { location: 'file:///etc/passwd' })
    res.end()
  })
  await assert.rejects(upstreamGet(request(elsewhere.url)), failsWith('redirect'))
})

await test('credentials go to their own origin only, not across a redirect to another', async (t) => {
  const cdn = await serve(t, (_req, res) => {
    res.end('file')
  })
  const index = await serve(t, (_req, res) => {
    res.writeHead(302, { location: `${cdn.url}/file` })
    res.end()
  })
  const response = await upstreamGet(
    request(index.url, { authorization: 'Basic c2VjcmV0', credentialOrigin: index.url }),
  )
  await readBounded(response, 100)
  assert.equal(index.seen[0]?.authorization, 'Basic c2VjcmV0')
  assert.equal(cdn.seen[0]?.authorization, undefined)
})

await test('bodies are bounded, gzip is decoded, and a silent server times out', async (t) => {
  const big = await serve(t, (_req, res) => {
    res.end(Buffer.alloc(10_000))
  })
  await assert.rejects(readBounded(await upstreamGet(request(big.url)), 1000), failsWith('too-large'))
  const zipped = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip' })
    res.end(gzipSync(Buffer.from('unzipped page')))
  })
  assert.equal((await readBounded(await upstreamGet(request(zipped.url)), 1000)).toString(), 'unzipped page')
  const silent = await serve(t, () => {
    /* accept, read, never answer */
  })
  await assert.rejects(
    upstreamGet(request(silent.url, { timeouts: { connectMs: 2000, firstByteMs: 100, idleMs: 2000 } })),
    failsWith('first-byte-timeout'),
  )
  const stalling = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '100' })
    res.write('a few bytes')
  })
  const stalled = await upstreamGet(
    request(stalling.url, { timeouts: { connectMs: 2000, firstByteMs: 2000, idleMs: 100 } }),
  )
  await assert.rejects(readBounded(stalled, 1000), failsWith('idle-timeout'))
  // Port 1 on loopback: nothing listens there, so the connection is refused.
  await assert.rejects(upstreamGet(request('http://127.0.0.1:1/')), failsWith('network'))
})
