// The real daemon with --metrics and with --metrics-listen: scraped over HTTP, the exposition
// checked by Prometheus's own `promtool check metrics` (Debian's prometheus package), and
// prom-client left unloaded when metrics are off.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { pathToFileURL } from 'node:url'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { parseSamples, promtoolCheck, sampleValue } from '../helpers/metrics-text.js'
import { childEnv, httpGet, repoRoot, runProcess, startServer } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'

const WHEEL = buildWheel({ name: 'hello', version: '1.0' })
const DURATION_COUNT = 'eggserve_http_request_duration_seconds_count'

async function tree(t: TestContext): Promise<string> {
  const root = await tempDir(t)
  await writeDist(join(root, 'hello'), WHEEL)
  return root
}

await describe('promtool check metrics accepts what eggserve serves', async () => {
  await test('--metrics: /metrics on the main listener, after pages, a download, a 404 and an unusual method', async (t) => {
    const promtool = needTool(t, 'promtool')
    if (promtool === undefined) return
    const server = await startServer(t, { eggdir: await tree(t), args: ['--metrics', '--cache-dir', 'none'] })
    assert.equal((await httpGet(`${server.url}/simple/hello/`)).status, 200)
    assert.equal((await httpGet(`${server.url}/packages/hello/${WHEEL.filename}`)).status, 200)
    assert.equal((await httpGet(`${server.url}/simple/no-such-project/`)).status, 404)
    assert.equal((await httpGet(`${server.url}/simple/`, { method: 'PROPFIND' })).status, 405)
    const res = await httpGet(`${server.url}/metrics`)
    assert.equal(res.status, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    const text = res.body.toString('utf8')
    const verdict = promtoolCheck(promtool, text)
    assert.equal(verdict.status, 0, verdict.output)
    assert.equal(verdict.output, '')
    const samples = parseSamples(text)
    assert.equal(
      sampleValue(samples, DURATION_COUNT, { route: '/simple/:project/', method: 'GET', status_class: '2xx' }),
      1,
    )
    assert.equal(
      sampleValue(samples, DURATION_COUNT, { route: '/simple/:project/', method: 'GET', status_class: '4xx' }),
      1,
    )
    assert.equal(sampleValue(samples, DURATION_COUNT, { route: 'unmatched', method: 'other', status_class: '4xx' }), 1)
    // Bytes are counted from the real socket: the download's body and headers at least.
    const download =
      sampleValue(samples, 'eggserve_http_response_bytes_total', {
        route: '/packages/:folder/:file',
        method: 'GET',
        status_class: '2xx',
      }) ?? 0
    assert.ok(
      download > WHEEL.bytes.length,
      `${String(download)} bytes counted for a ${String(WHEEL.bytes.length)}-byte file`,
    )
    assert.equal(sampleValue(samples, 'eggserve_index_projects'), 1)
    assert.equal(sampleValue(samples, 'eggserve_index_bytes'), WHEEL.bytes.length)
    // The Node process metrics, event-loop lag included, come with them.
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      assert.ok(
        samples.some((sample) => sample.name === name),
        `${name} is missing`,
      )
    }
  })

  await test('--metrics-listen: /metrics on its own address only', async (t) => {
    const promtool = needTool(t, 'promtool')
    if (promtool === undefined) return
    const server = await startServer(t, {
      eggdir: await tree(t),
      args: ['--metrics-listen', '127.0.0.1:0', '--cache-dir', 'none'],
    })
    const line = await server.waitForLine(
      (record) => typeof record.msg === 'string' && record.msg.startsWith('Metrics on '),
    )
    const url = String(line.msg).slice('Metrics on '.length)
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    assert.notEqual(new URL(url).port, String(server.port))
    assert.equal((await httpGet(`${server.url}/simple/hello/`)).status, 200)
    assert.equal((await httpGet(`${server.url}/metrics`)).status, 404)
    assert.equal((await httpGet(new URL('/simple/hello/', url).href)).status, 404)
    const res = await httpGet(url)
    assert.equal(res.status, 200)
    const text = res.body.toString('utf8')
    const verdict = promtoolCheck(promtool, text)
    assert.equal(verdict.status, 0, verdict.output)
    const samples = parseSamples(text)
    assert.equal(
      sampleValue(samples, DURATION_COUNT, { route: '/simple/:project/', method: 'GET', status_class: '2xx' }),
      1,
    )
    assert.equal(
      sampleValue(samples, DURATION_COUNT, { route: '/metrics', method: 'GET', status_class: '4xx' }),
      undefined,
    )
    assert.equal(await server.stop(), 0)
  })

  await test('--metrics-listen on an address in use: a clear message and exit code 1', async (t) => {
    const blocker = await startServer(t, { eggdir: await tree(t) })
    const result = await runProcess(
      process.execPath,
      [
        join(repoRoot, 'bin/eggserve.js'),
        await tree(t),
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--cache-dir',
        'none',
        '--metrics-listen',
        `127.0.0.1:${String(blocker.port)}`,
      ],
      { env: childEnv() },
    )
    assert.equal(result.code, 1, result.stderr)
    assert.match(
      result.stderr,
      new RegExp(
        `^eggserve: Cannot listen on 127\\.0\\.0\\.1:${String(blocker.port)} \\(--metrics-listen\\): .*in use`,
        'm',
      ),
    )
  })
})

// Start the daemon in a child process, then report whether prom-client was loaded (it is a
// CommonJS package: importing it fills the CommonJS module cache).
const PROBE = `
import { createRequire } from 'node:module'
const [daemonUrl, configUrl, eggdir, metrics] = process.argv.slice(1)
const { startDaemon } = await import(daemonUrl)
const { resolveConfig } = await import(configUrl)
const daemon = await startDaemon(resolveConfig({ eggdir, port: '0', host: '127.0.0.1', cacheDir: 'none', logLevel: 'warn', metrics: metrics === 'on' }, {}))
const loaded = Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('/node_modules/prom-client/'))
await daemon.close()
process.stdout.write('PROBE ' + JSON.stringify({ loaded }) + '\\n')
`

await test('prom-client is loaded only when metrics are on (start-up pays nothing for it otherwise)', async (t) => {
  const root = await tree(t)
  const daemonUrl = pathToFileURL(join(repoRoot, 'dist/daemon.js')).href
  const configUrl = pathToFileURL(join(repoRoot, 'dist/config.js')).href
  for (const [metrics, expected] of [
    ['off', false],
    ['on', true],
  ] as const) {
    const result = await runProcess(
      process.execPath,
      ['--input-type=module', '-e', PROBE, daemonUrl, configUrl, root, metrics],
      { env: childEnv() },
    )
    assert.equal(result.code, 0, result.stderr)
    const probe = /^PROBE (.*)$/m.exec(result.stdout)?.[1]
    assert.deepEqual(JSON.parse(probe ?? 'null'), { loaded: expected }, `metrics ${metrics}: ${result.stdout}`)
  }
})
