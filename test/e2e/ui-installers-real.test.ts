// Real pip sees the same bytes from a server with the browse UI as from one without it: every
// request pip makes through a recording proxy (pages of both trees, redirects, metadata, files)
// gets the same status, headers (but Date) and body from both servers over the same eggdir.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildSdist, buildWheel, writeDist } from '../helpers/distributions.js'
import { createVenv, output } from '../helpers/python.js'
import { startServer } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

interface Exchange {
  readonly request: string
  readonly status: number
  readonly headers: string
  readonly body: string
}

// A proxy that records each exchange as the client saw it (headers that name the moment, or the connection, aside).
async function recordingProxy(t: TestContext, upstream: string): Promise<{ url: string; exchanges: Exchange[] }> {
  const exchanges: Exchange[] = []
  const proxy = createServer((req, res) => {
    const forward = httpRequest(
      `${upstream}${req.url ?? '/'}`,
      { method: req.method ?? 'GET', headers: req.headers, agent: false },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk)
        })
        response.once('end', () => {
          const body = Buffer.concat(chunks)
          const headers = Object.entries(response.headers)
            .filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name))
            .map(([name, value]) => `${name}: ${String(value)}`)
            .sort()
            .join('\n')
          exchanges.push({
            request: `${req.method ?? ''} ${req.url ?? ''} accept=${req.headers.accept ?? ''}`,
            status: response.statusCode ?? 0,
            headers,
            body: createHash('sha256').update(body).digest('hex'),
          })
          res.writeHead(response.statusCode ?? 502, response.headers)
          res.end(body)
        })
      },
    )
    forward.once('error', () => {
      res.destroy()
    })
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => {
    proxy.listen(0, '127.0.0.1', resolve)
  })
  t.after(
    () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections()
        proxy.close(() => {
          resolve()
        })
      }),
  )
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, exchanges }
}

await test('pip gets the same bytes with and without the UI, through both trees', async (t) => {
  const venv = await createVenv(t)
  if (venv === undefined) return
  const root = await tempDir(t, 'eggserve-ui-pip-')
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'Same.Bytes'), buildWheel({ name: 'Same.Bytes', version: '1.0', requiresPython: '>=3' }))
  await writeDist(join(eggdir, 'Same.Bytes'), buildSdist({ name: 'Same.Bytes', version: '1.1' }))
  const withUi = await recordingProxy(t, (await startServer(t, { eggdir })).url)
  const withoutUi = await recordingProxy(t, (await startServer(t, { eggdir, args: ['--ui', 'off'] })).url)
  for (const [label, path] of [
    ['legacy tree', '/'],
    ['PEP 503 tree', '/simple/'],
  ] as const) {
    for (const proxy of [withUi, withoutUi]) {
      const result = await venv.pip([
        'download',
        '--no-deps',
        '--retries',
        '0',
        '--progress-bar',
        'off',
        '-d',
        join(root, `dl-${proxy.url.slice(-5)}-${label.length}`),
        '--index-url',
        `${proxy.url}${path}`,
        'same-bytes==1.0',
        'Same.Bytes',
      ])
      assert.equal(result.code, 0, `${label}: ${output(result)}`)
    }
  }
  t.diagnostic(withUi.exchanges.map((exchange) => `${exchange.request} → ${exchange.status}`).join('\n'))
  assert.ok(withUi.exchanges.length >= 6, `pip made ${withUi.exchanges.length} requests`)
  assert.deepEqual(withUi.exchanges, withoutUi.exchanges)
})
