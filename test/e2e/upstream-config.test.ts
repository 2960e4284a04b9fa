// The upstream configuration file and the cooldown with the real daemon: two upstreams (real
// eggserves behind counting fault proxies) with different TTLs, credentials and offline
// switches, each applied to its own upstream as the request counts show; real pip under
// --min-release-age installing the older release while the young file's URL answers 403; and
// a bad configuration file stopping start-up with one clear line and exit code 2.
import assert from 'node:assert/strict'
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel } from '../helpers/distributions.js'
import { createVenv, output, pipRunFlags } from '../helpers/python.js'
import { httpGet, runCli, startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { startUpstreamEggserve, startWithUpstreams } from '../helpers/upstream-index.js'

const ALPHA_1 = buildWheel({ name: 'alpha', version: '1.0' })
const ALPHA_2 = buildWheel({ name: 'alpha', version: '2.0' })
const BETA = buildWheel({ name: 'beta', version: '1.0' })
const GAMMA = buildWheel({ name: 'gamma', version: '1.0' })
const PASSWORD = 'e2e-upstream-s3cret'

await test('a configuration file with two upstreams: each gets its own settings', async (t) => {
  const { server: first } = await startUpstreamEggserve(t, { alpha: [ALPHA_1, ALPHA_2], gamma: [GAMMA] })
  const { server: second } = await startUpstreamEggserve(t, { beta: [BETA] })
  const one = await startUpstreamFaultProxy(t, first.url)
  const two = await startUpstreamFaultProxy(t, second.url)
  const root = await tempDir(t, 'eggserve-config-e2e-')
  const cacheDir = join(root, 'cache')
  const configFile = join(root, 'eggserve.toml')
  const eggdir = join(root, 'eggs')
  await mkdir(eggdir)
  const start = async (text: string): Promise<ServerHandle> => {
    await writeFile(configFile, text)
    return startServer(t, {
      eggdir,
      args: ['--cache-dir', cacheDir, '--hash-workers', '0', '--config', configFile],
      env: { MIRROR_PASSWORD: PASSWORD },
    })
  }
  // The first upstream keeps pages an hour; the second revalidates every time and needs credentials.
  let server = await start(`
[[upstream]]
url = "${one.url}/simple/"
ttl = "1h"

[[upstream]]
url = "${two.url}/simple/"
ttl = 0
username = "ci"
password-env = "MIRROR_PASSWORD"
`)

  await t.test('different TTLs: one upstream request for three pages of one, three for the other', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await httpGet(`${server.url}/simple/alpha/`)).status, 200)
      assert.equal((await httpGet(`${server.url}/simple/beta/`)).status, 200)
    }
    assert.equal(one.count('/simple/alpha/'), 1, 'ttl = "1h": fresh for the next two')
    assert.equal(two.count('/simple/beta/'), 3, 'ttl = 0: revalidated each time')
    // beta is not on the first upstream: asked once, its 404 remembered (negative-ttl).
    assert.equal(one.count('/simple/beta/'), 1)
    assert.equal(two.count('/simple/alpha/'), 0, 'the first upstream owns alpha')
  })

  await t.test('credentials go to their own upstream only, and never into the log', () => {
    const basic = `Basic ${Buffer.from(`ci:${PASSWORD}`).toString('base64')}`
    assert.ok(two.requests.length > 0)
    assert.ok(two.requests.every((request) => request.headers.authorization === basic))
    assert.ok(one.requests.every((request) => request.headers.authorization === undefined))
    const log = JSON.stringify(server.lines) + server.stderr
    assert.ok(!log.includes(PASSWORD) && !log.includes(basic.slice(6)), 'no password in the log')
    const settings = server.lines.find((line) => line.msg === 'Upstream indexes')
    assert.deepEqual(
      (settings?.settings as { url: string; ttl: string; credentials: boolean }[]).map((upstream) => [
        upstream.url,
        upstream.ttl,
        upstream.credentials,
      ]),
      [
        [`${one.url}/simple/`, '1h', false],
        [`${two.url}/simple/`, '0s', true],
      ],
    )
  })

  await t.test(
    'one upstream offline after a restart: cached files only, never asked; its uncached names stop there',
    async () => {
      const cached = await httpGet(`${server.url}/files/upstream/alpha/${ALPHA_1.filename}`)
      assert.equal(cached.status, 200)
      await server.stop()
      server = await start(`
[[upstream]]
url = "${one.url}/simple/"
offline = true

[[upstream]]
url = "${two.url}/simple/"
ttl = 0
username = "ci"
password-env = "MIRROR_PASSWORD"
`)
      const before = { one: one.requests.length, two: two.count('/simple/beta/') }
      const page = await httpGet(`${server.url}/simple/alpha/`)
      assert.equal(page.status, 200)
      const body = page.body.toString()
      assert.ok(body.includes(ALPHA_1.filename), 'the cached file is listed')
      assert.ok(!body.includes(ALPHA_2.filename), 'the file not in the cache is not')
      assert.equal((await httpGet(`${server.url}/files/upstream/alpha/${ALPHA_1.filename}`)).status, 200)
      const notCached = await httpGet(`${server.url}/files/upstream/alpha/${ALPHA_2.filename}`)
      assert.equal(notCached.status, 503)
      assert.match(notCached.body.toString(), /Offline/)
      // A name the offline (first) upstream has no cached page of stops there, as if it were down:
      // it might own the name, so the second upstream never gets it.
      for (const name of ['beta', 'gamma']) {
        const reply = await httpGet(`${server.url}/simple/${name}/`)
        assert.equal(reply.status, 503, name)
        assert.match(reply.body.toString(), /Offline/)
      }
      assert.equal(two.count('/simple/beta/'), before.two, 'the second upstream is not asked for beta')
      assert.equal(two.count('/simple/gamma/'), 0, 'nor for gamma')
      assert.equal(one.requests.length, before.one, 'the offline upstream heard nothing')
    },
  )
})

await test('real pip under --min-release-age installs the older release; the young file is a 403', async (t) => {
  const venv = await createVenv(t)
  if (venv === undefined) return
  const OLD = buildWheel({ name: 'cooled', version: '1.0' })
  const NEW = buildWheel({ name: 'cooled', version: '2.0' })
  const { server: upstream, eggdir: upstreamDir } = await startUpstreamEggserve(t, { cooled: [OLD, NEW] })
  // eggserve's upload-time is the file's mtime: 1.0 is a month old, 2.0 was just published.
  const monthAgo = new Date(Date.now() - 30 * 86_400_000)
  await utimes(join(upstreamDir, 'cooled', OLD.filename), monthAgo, monthAgo)
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const root = await tempDir(t, 'eggserve-cooldown-e2e-')
  const server = await startWithUpstreams(t, {
    eggdir: join(root, 'eggs'),
    cacheDir: join(root, 'cache'),
    upstreams: [proxy.url],
    args: ['--min-release-age', '7d'],
  })
  const target = join(root, 'target')
  const result = await venv.pip([
    'install',
    ...pipRunFlags(30),
    '--target',
    target,
    '--index-url',
    `${server.url}/simple/`,
    'cooled',
  ])
  assert.equal(result.code, 0, output(result))
  const installed = await readdir(target)
  assert.ok(installed.includes('cooled-1.0.dist-info'), installed.join(', '))
  assert.equal(proxy.count(`/packages/cooled/${NEW.filename}`), 0, 'the young file was never fetched')
  const refused = await httpGet(`${server.url}/files/upstream/cooled/${NEW.filename}`)
  assert.equal(refused.status, 403)
  assert.match(refused.body.toString(), /becomes available at \d{4}-\d\d-\d\dT/)
  // pip asking for the young version by name finds nothing it may have.
  const pinned = await venv.pip([
    'download',
    ...pipRunFlags(30),
    '--no-deps',
    '-d',
    join(root, 'young'),
    '--index-url',
    `${server.url}/simple/`,
    'cooled==2.0',
  ])
  assert.notEqual(pinned.code, 0, output(pinned))
  assert.match(pinned.stderr, /No matching distribution found for cooled==2\.0/)
})

await test('a bad configuration file: one line naming the file, key and line; exit 2; no password', async (t) => {
  const root = await tempDir(t, 'eggserve-config-bad-')
  const cases: { text: string; env?: Record<string, string>; message: RegExp }[] = [
    { text: '[[upstream]]\nurl = "https://a.example/simple/"\nttl = "soon"\n', message: /key "ttl" \(line 3\)/ },
    {
      text: '[[upstream]]\nurl = "https://u:hunter2@a.example/simple/"\nusername = "ci"\n',
      message: /key "username" \(line 3\): the url has credentials in it already/,
    },
    {
      text: '[[upstream]]\nurl = "https://a.example/simple/"\nusername = "ci"\npassword-env = "ABSENT_PASSWORD"\n',
      message: /ABSENT_PASSWORD is not set/,
    },
    { text: '[[upstream]\nurl = "https://u:hunter2@a.example/"\n', message: /\(line 1, column \d+\)/ },
  ]
  await Promise.all(
    cases.map(async ({ text, env, message }, index) => {
      const file = join(root, `bad-${String(index)}.toml`)
      await writeFile(file, text)
      const result = await runCli(
        ['--eggdir', root, '--port', '0', '--host', '127.0.0.1', '--cache-dir', join(root, 'cache'), '--config', file],
        env,
      )
      const context = JSON.stringify(result)
      assert.equal(result.code, 2, context)
      assert.equal(result.stdout, '', context)
      assert.match(result.stderr, /^eggserve: Invalid configuration file "[^"]+": [^\n]+\n$/, context)
      assert.ok(result.stderr.includes(file), context)
      assert.match(result.stderr, message, context)
      assert.ok(!result.stderr.includes('hunter2'), context)
      assert.doesNotMatch(result.stderr, /\bat .+:\d+:\d+/, context)
    }),
  )
  const missing = await runCli(['--eggdir', root, '--port', '0'], { EGGSERVE_CONFIG: join(root, 'absent.toml') })
  assert.equal(missing.code, 2, JSON.stringify(missing))
  assert.match(
    missing.stderr,
    /^eggserve: Cannot read the configuration file ".*absent\.toml" \(EGGSERVE_CONFIG\): no such file\n$/,
  )
})
