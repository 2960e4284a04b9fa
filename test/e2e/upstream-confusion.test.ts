// Dependency confusion, with real pip, a real upstream eggserve behind the counting fault
// proxy, and the real daemon: a local project is never looked up upstream, a never-upstream
// name never leaves the server, the merge list shows both with origins, pages carry no
// upstream URL, and credentials go only where they belong (docs/upstream.md, "The name rule").
import assert from 'node:assert/strict'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { createVenv, output, pipRunFlags } from '../helpers/python.js'
import { httpGet } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { sha256Hex, startStaticUpstream, startUpstreamEggserve, startWithUpstreams } from '../helpers/upstream-index.js'

const PIP_RUN = pipRunFlags(30)
const LOCAL_ACME = buildWheel({ name: 'acme-utils', version: '1.0' })
const PUBLIC_ACME = buildWheel({ name: 'acme-utils', version: '99.0' })
const PUBLIC_SECRET = buildWheel({ name: 'acme-secret', version: '99.0' })
const DEMO = buildWheel({ name: 'updemo', version: '2.0', requiresPython: '>=3.6' })
const SHARED_LOCAL = buildWheel({ name: 'shared', version: '1.0' })
const SHARED_PUBLIC = buildWheel({ name: 'shared', version: '2.0' })

await test('dependency confusion: local first, never-upstream names stay home, merges show origins', async (t) => {
  const venv = await createVenv(t)
  if (venv === undefined) return
  const { server: upstream } = await startUpstreamEggserve(t, {
    'acme-utils': [PUBLIC_ACME],
    'acme-secret': [PUBLIC_SECRET],
    updemo: [DEMO],
    shared: [SHARED_PUBLIC],
  })
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const root = await tempDir(t, 'eggserve-confusion-')
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'acme-utils'), LOCAL_ACME)
  await writeDist(join(eggdir, 'shared'), SHARED_LOCAL)
  // Credentials for the upstream: sent to it, never logged.
  const withCredentials = proxy.url.replace('http://', 'http://deploy:hunter2secret@')
  const server = await startWithUpstreams(t, {
    eggdir,
    cacheDir: join(root, 'cache'),
    upstreams: [withCredentials],
    args: ['--never-upstream', 'acme-*', '--merge-upstream', 'shared'],
  })
  const index = `${server.url}/simple/`

  await t.test(
    'pip installs the local acme-utils 1.0 over the upstream 99.0; the upstream hears nothing of it',
    async () => {
      const target = join(root, 'target-acme')
      const result = await venv.pip(['install', ...PIP_RUN, '--target', target, '--index-url', index, 'acme-utils'])
      assert.equal(result.code, 0, output(result))
      const installed = await readdir(target)
      assert.ok(installed.includes('acme_utils-1.0.dist-info'), installed.join(', '))
      assert.equal(proxy.countMatching('acme'), 0, JSON.stringify(proxy.requests))
    },
  )

  await t.test('a never-upstream name that is not local is a 404, and the upstream hears nothing of it', async () => {
    const result = await venv.pip([
      'install',
      ...PIP_RUN,
      '--target',
      join(root, 'target-secret'),
      '--index-url',
      index,
      'acme-secret',
    ])
    assert.notEqual(result.code, 0, output(result))
    assert.match(result.stderr, /No matching distribution found for acme-secret/)
    assert.equal((await httpGet(`${index}acme-secret/`)).status, 404)
    assert.equal((await httpGet(`${server.url}/files/upstream/acme-secret/${PUBLIC_SECRET.filename}`)).status, 404)
    assert.equal(proxy.countMatching('acme'), 0, JSON.stringify(proxy.requests))
  })

  await t.test("any other name comes from the upstream, with local file URLs and the upstream's hashes", async () => {
    const before = proxy.count()
    const target = join(root, 'target-demo')
    const requirements = join(root, 'requirements.txt')
    await writeFile(requirements, `updemo==2.0 --hash=sha256:${sha256Hex(DEMO.bytes)}\n`)
    const result = await venv.pip([
      'install',
      ...PIP_RUN,
      '--require-hashes',
      '--target',
      target,
      '--index-url',
      index,
      '-r',
      requirements,
    ])
    assert.equal(result.code, 0, output(result))
    assert.ok((await readdir(target)).includes('updemo-2.0.dist-info'))
    assert.equal(proxy.count('/simple/updemo/'), 1)
    assert.equal(proxy.count(`/packages/updemo/${DEMO.filename}`), 1)
    assert.ok(proxy.count() > before)
    // The upstream's credentials went along; a client's own Authorization never does.
    const seen = proxy.requests.filter((request) => request.path.includes('updemo'))
    assert.ok(
      seen.every(
        (request) =>
          request.headers.authorization === `Basic ${Buffer.from('deploy:hunter2secret').toString('base64')}`,
      ),
    )
  })

  await t.test('pages name no upstream URL; requires-python and hashes pass through; JSON too', async () => {
    const html = await httpGet(`${index}updemo/`)
    assert.equal(html.status, 200)
    assert.equal(html.headers['eggserve-origin'], 'upstream')
    const body = html.body.toString()
    assert.ok(!body.includes(new URL(proxy.url).host) && !body.includes(new URL(upstream.url).host), body)
    assert.ok(
      body.includes(`href="../../files/upstream/updemo/${DEMO.filename}#sha256=${sha256Hex(DEMO.bytes)}"`),
      body,
    )
    assert.ok(body.includes('data-requires-python="&gt;=3.6"'), body)
    const json = await httpGet(`${index}updemo/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })
    const doc = JSON.parse(json.body.toString()) as {
      files: {
        url: string
        hashes: Record<string, string>
        'requires-python'?: string
        size?: number
        '_eggserve-origin': string
      }[]
    }
    const [first] = doc.files
    assert.ok(first !== undefined)
    assert.equal(first.url, `../../files/upstream/updemo/${DEMO.filename}`)
    assert.equal(first.hashes.sha256, sha256Hex(DEMO.bytes))
    assert.equal(first['requires-python'], '>=3.6')
    assert.equal(first.size, DEMO.bytes.length)
    assert.equal(first['_eggserve-origin'], 'upstream')
  })

  await t.test("a client's Authorization is never forwarded", async () => {
    proxy.setRules([])
    const before = proxy.requests.length
    await httpGet(`${index}never-cached-name/`, { headers: { authorization: 'Basic Y2xpZW50OmNsaWVudHNlY3JldA==' } })
    const sent = proxy.requests.slice(before)
    assert.equal(sent.length, 1)
    assert.notEqual(sent[0]?.headers.authorization, 'Basic Y2xpZW50OmNsaWVudHNlY3JldA==')
  })

  await t.test('the merge list shows the local and the upstream files, each with its origin', async () => {
    const html = (await httpGet(`${index}shared/`)).body.toString()
    assert.match(
      html,
      new RegExp(
        `href="../../packages/shared/${SHARED_LOCAL.filename}#sha256=[0-9a-f]{64}"[^>]*data-eggserve-origin="local"`,
      ),
    )
    assert.match(
      html,
      new RegExp(
        `href="../../files/upstream/shared/${SHARED_PUBLIC.filename}#sha256=${sha256Hex(SHARED_PUBLIC.bytes)}"[^>]*data-eggserve-origin="upstream"`,
      ),
    )
    const json = JSON.parse(
      (
        await httpGet(`${index}shared/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })
      ).body.toString(),
    ) as { files: { filename: string; '_eggserve-origin': string }[] }
    assert.deepEqual(
      json.files.map((file) => [file.filename, file['_eggserve-origin']]),
      [
        [SHARED_LOCAL.filename, 'local'],
        [SHARED_PUBLIC.filename, 'upstream'],
      ],
    )
    const download = await venv.pip([
      'download',
      ...PIP_RUN,
      '--no-deps',
      '-d',
      join(root, 'dl-shared'),
      '--index-url',
      index,
      'shared',
    ])
    assert.equal(download.code, 0, output(download))
    assert.deepEqual(await readdir(join(root, 'dl-shared')), [SHARED_PUBLIC.filename])
  })

  await t.test('a file added to the eggdir makes the name local at once: the upstream is not asked again', async () => {
    const local = buildWheel({ name: 'updemo', version: '0.5' })
    await writeDist(join(eggdir, 'updemo'), local)
    const before = proxy.count()
    let page = ''
    for (let attempt = 0; attempt < 50 && !page.includes(local.filename); attempt++) {
      page = (await httpGet(`${index}updemo/`)).body.toString()
      if (!page.includes(local.filename)) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.ok(page.includes(local.filename) && !page.includes(DEMO.filename), page)
    assert.equal((await httpGet(`${server.url}/files/upstream/updemo/${DEMO.filename}`)).status, 404)
    assert.equal(proxy.count(), before)
  })

  await t.test('the upstream credentials appear in no log line', () => {
    const log = JSON.stringify(server.lines) + server.stderr
    assert.ok(!log.includes('hunter2secret'))
    assert.ok(!log.includes(Buffer.from('deploy:hunter2secret').toString('base64')))
  })
})

await test('a static PEP 503 tree under nginx as the upstream: HTML is read, pip installs through eggserve', async (t) => {
  const venv = await createVenv(t)
  if (venv === undefined) return
  const nginx = await startStaticUpstream(t, { updemo: [DEMO] }, { requiresPython: '>=3.6' })
  if (nginx === undefined) return
  const proxy = await startUpstreamFaultProxy(t, nginx.url)
  const root = await tempDir(t, 'eggserve-static-up-')
  const server = await startWithUpstreams(t, {
    eggdir: join(root, 'eggs'),
    cacheDir: join(root, 'cache'),
    upstreams: [proxy.url],
  })
  const page = (await httpGet(`${server.url}/simple/updemo/`)).body.toString()
  assert.ok(page.includes(`href="../../files/upstream/updemo/${DEMO.filename}#sha256=${sha256Hex(DEMO.bytes)}"`), page)
  assert.ok(page.includes('data-requires-python="&gt;=3.6"'), page)
  // The page came as HTML although JSON was asked for first.
  assert.match(String(proxy.requests[0]?.headers.accept), /^application\/vnd\.pypi\.simple\.v1\+json/)
  const target = join(root, 'target')
  const result = await venv.pip([
    'install',
    ...PIP_RUN,
    '--target',
    target,
    '--index-url',
    `${server.url}/simple/`,
    'updemo',
  ])
  assert.equal(result.code, 0, output(result))
  assert.ok((await readdir(target)).includes('updemo-2.0.dist-info'))
  assert.equal(proxy.count(`/files/updemo/${DEMO.filename}`), 1)
})
