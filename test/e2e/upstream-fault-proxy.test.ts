// The fault-injecting proxy the upstream tests rely on does what it claims, in front of a real
// upstream eggserve: forwards and counts, and each fault shows on the wire as it should.
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { test } from 'node:test'
import { buildWheel } from '../helpers/distributions.js'
import { httpGet } from '../helpers/spawn-server.js'
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { sha256Hex, startStaticUpstream, startUpstreamEggserve } from '../helpers/upstream-index.js'

const WHEEL = buildWheel({
  name: 'proxied',
  version: '1.0',
  moduleSource: `DATA = ${JSON.stringify('x'.repeat(100_000))}\n`,
})
const FILE_URL = `/packages/proxied/${WHEEL.filename}`

/** The error a request ends with, or 'ok' with the bytes read. */
async function outcome(
  url: string,
  timeoutMs: number,
): Promise<{ kind: 'ok'; status: number; bytes: number } | { kind: 'error'; code: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
      })
      res.once('end', () => {
        resolve({ kind: 'ok', status: res.statusCode ?? 0, bytes })
      })
      res.once('error', (err: NodeJS.ErrnoException) => {
        resolve({ kind: 'error', code: err.code ?? err.message })
      })
    })
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' }))
    })
    req.once('error', (err: NodeJS.ErrnoException) => {
      resolve({ kind: 'error', code: err.code ?? err.message })
    })
    req.end()
  })
}

await test('the upstream fault proxy forwards, counts and misbehaves on request', async (t) => {
  const { server } = await startUpstreamEggserve(t, { proxied: [WHEEL] })
  const proxy = await startUpstreamFaultProxy(t, server.url)

  const page = await httpGet(`${proxy.url}/simple/proxied/`)
  assert.equal(page.status, 200)
  assert.match(page.body.toString(), new RegExp(sha256Hex(WHEEL.bytes)))
  const file = await httpGet(`${proxy.url}${FILE_URL}`)
  assert.deepEqual(file.body, WHEEL.bytes)
  assert.equal(proxy.count('/simple/proxied/'), 1)
  assert.equal(proxy.count('/packages/*'), 1)
  assert.equal(proxy.countMatching('proxied'), 2)

  await t.test('status faults answer without asking the upstream', async () => {
    for (const status of [500, 503, 404] as const) {
      proxy.setRules([{ match: () => true, fault: { kind: 'status', status }, times: 1 }])
      assert.equal((await httpGet(`${proxy.url}/simple/proxied/`)).status, status)
    }
    assert.equal((await httpGet(`${proxy.url}/simple/proxied/`)).status, 200, 'a rule with times runs out')
  })

  await t.test('truncate resets the connection after fewer bytes than Content-Length', async () => {
    proxy.setRules([{ match: (r) => r.path === FILE_URL, fault: { kind: 'truncate', bytes: 100 } }])
    const result = await outcome(`${proxy.url}${FILE_URL}`, 10_000)
    assert.equal(result.kind, 'error', JSON.stringify(result))
  })

  await t.test('wrong bytes keep the length and change the digest', async () => {
    proxy.setRules([{ match: (r) => r.path === FILE_URL, fault: { kind: 'wrong-bytes' } }])
    const wrong = await httpGet(`${proxy.url}${FILE_URL}`)
    assert.equal(wrong.body.length, WHEEL.bytes.length)
    assert.notEqual(sha256Hex(wrong.body), sha256Hex(WHEEL.bytes))
  })

  await t.test("rewrite changes a file's hash in the page; headers regress the serial", async () => {
    const other = 'f'.repeat(64)
    proxy.setRules([
      {
        match: (r) => r.path === '/simple/proxied/',
        fault: { kind: 'rewrite', from: sha256Hex(WHEEL.bytes), to: other },
      },
    ])
    const rewritten = await httpGet(`${proxy.url}/simple/proxied/`, { headers: { 'accept-encoding': 'gzip' } })
    assert.match(rewritten.body.toString(), new RegExp(other))
    proxy.setRules([{ match: () => true, fault: { kind: 'headers', headers: { 'x-pypi-last-serial': '7' } } }])
    assert.equal((await httpGet(`${proxy.url}/simple/proxied/`)).headers['x-pypi-last-serial'], '7')
  })

  await t.test('a blackhole accepts and never answers; a delay answers late', async () => {
    proxy.setRules([{ match: () => true, fault: { kind: 'blackhole' } }])
    assert.deepEqual(await outcome(`${proxy.url}/simple/proxied/`, 500), { kind: 'error', code: 'TIMEOUT' })
    proxy.setRules([{ match: () => true, fault: { kind: 'delay', ms: 300 } }])
    assert.deepEqual(await outcome(`${proxy.url}/simple/proxied/`, 50), { kind: 'error', code: 'TIMEOUT' })
    assert.equal((await outcome(`${proxy.url}/simple/proxied/`, 30_000)).kind, 'ok')
  })

  await t.test('refuse closes the port; accept opens it again', async () => {
    proxy.setRules([])
    await proxy.refuse()
    assert.deepEqual(await outcome(`${proxy.url}/simple/proxied/`, 5000), { kind: 'error', code: 'ECONNREFUSED' })
    await proxy.accept()
    assert.equal((await httpGet(`${proxy.url}/simple/proxied/`)).status, 200)
  })
})

await test('the static upstream is a PEP 503 tree under real nginx', async (t) => {
  const nginx = await startStaticUpstream(t, { proxied: [WHEEL] })
  if (nginx === undefined) return
  const proxy = await startUpstreamFaultProxy(t, nginx.url)
  const page = await httpGet(`${proxy.url}/simple/proxied/`)
  assert.equal(page.status, 200)
  assert.match(String(page.headers['content-type']), /^text\/html/)
  const href = /href="([^"#]+)#sha256=([0-9a-f]{64})"/.exec(page.body.toString())
  assert.ok(href?.[1] !== undefined)
  const file = await httpGet(`${proxy.url}${href[1]}`)
  assert.equal(sha256Hex(file.body), href[2])
  assert.equal(proxy.count(), 2)
})
