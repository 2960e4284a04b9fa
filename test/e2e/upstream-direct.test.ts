// Direct downloads (--upstream-direct-downloads; docs/upstream.md, "Direct downloads") with real
// pip, the real daemon and two real upstreams behind the counting fault proxy: a second
// eggserve (PEP 691 JSON, relative file URLs) and a static PEP 503 tree under nginx (HTML,
// absolute-path hrefs). pip gets its pages from eggserve and its files from the upstream:
// every file request the proxy sees is pip's, and eggserve's cache keeps no file.
import assert from 'node:assert/strict'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel } from '../helpers/distributions.js'
import { createVenv, installHashed, output, pipRunFlags } from '../helpers/python.js'
import { httpGet } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy, type SeenRequest } from '../helpers/upstream-fault-proxy.js'
import {
  filesUnder,
  sha256Hex,
  startStaticUpstream,
  startUpstreamEggserve,
  startWithUpstreams,
} from '../helpers/upstream-index.js'

const PIP_RUN = pipRunFlags(30)
const FROM_EGGSERVE = { name: 'directdemo', version: '1.5', ...buildWheel({ name: 'directdemo', version: '1.5' }) }
const FROM_STATIC = { name: 'staticdemo', version: '3.0', ...buildWheel({ name: 'staticdemo', version: '3.0' }) }

const fromPip = (request: SeenRequest): boolean => (request.headers['user-agent'] ?? '').startsWith('pip/')

await test('pip installs through eggserve while the files come from the upstreams directly', async (t) => {
  const venv = await createVenv(t)
  if (venv === undefined) return
  const { server: upstream } = await startUpstreamEggserve(t, { directdemo: [FROM_EGGSERVE] })
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const nginx = await startStaticUpstream(t, { staticdemo: [FROM_STATIC] })
  if (nginx === undefined) return
  const staticProxy = await startUpstreamFaultProxy(t, nginx.url)
  const root = await tempDir(t, 'eggserve-direct-e2e-')
  const cacheDir = join(root, 'cache')
  const server = await startWithUpstreams(t, {
    eggdir: join(root, 'eggs'),
    cacheDir,
    upstreams: [proxy.url, staticProxy.url],
    args: ['--upstream-direct-downloads'],
  })
  const index = `${server.url}/simple/`

  for (const [dist, via] of [
    [FROM_EGGSERVE, proxy],
    [FROM_STATIC, staticProxy],
  ] as const) {
    await t.test(`${dist.filename}: the page from eggserve, the bytes from the upstream`, async () => {
      const target = join(root, `target-${dist.name}`)
      const requirements = join(root, `requirements-${dist.name}.txt`)
      await writeFile(requirements, `${dist.name}==${dist.version} --hash=sha256:${sha256Hex(dist.bytes)}\n`)
      const result = await installHashed(venv, { index, requirements, target, timeoutS: 30 })
      assert.equal(result.code, 0, output(result))
      assert.ok((await readdir(target)).includes(`${dist.name}-${dist.version}.dist-info`))
      const files = via.requests.filter((request) => !request.path.startsWith('/simple/'))
      assert.ok(
        files.some((request) => request.method === 'GET' && request.path.endsWith(`/${dist.filename}`)),
        JSON.stringify(via.requests.map((request) => request.path)),
      )
      // eggserve asked the upstream for the page alone; every file request came from pip.
      assert.ok(
        files.every(fromPip),
        JSON.stringify(files.map((request) => [request.path, request.headers['user-agent']])),
      )
      assert.equal(via.requests.filter((request) => !fromPip(request)).length, 1, 'one page request, from eggserve')
      assert.deepEqual(await filesUnder(join(cacheDir, 'upstream', 'files', dist.name)), [])
    })
  }

  await t.test('the pages name the upstream, never eggserve, for the files', async () => {
    const html = (await httpGet(`${index}directdemo/`)).body.toString()
    assert.ok(html.includes(`href="${proxy.url}/packages/directdemo/${FROM_EGGSERVE.filename}#sha256=`), html)
    assert.ok(!html.includes('files/upstream'), html)
    // The static tree's absolute-path href, resolved against its page's URL.
    const staticHtml = (await httpGet(`${index}staticdemo/`)).body.toString()
    assert.ok(
      staticHtml.includes(
        `href="${staticProxy.url}/files/staticdemo/${FROM_STATIC.filename}#sha256=${sha256Hex(FROM_STATIC.bytes)}"`,
      ),
      staticHtml,
    )
  })

  await t.test('the upstream down: eggserve still serves the page, and pip fails to download the file', async () => {
    await proxy.refuse()
    const page = await httpGet(`${index}directdemo/`)
    assert.equal(page.status, 200, 'the cached page, within its TTL')
    const result = await venv.pip([
      'install',
      ...PIP_RUN,
      '--no-deps',
      '--target',
      join(root, 'target-down'),
      '--index-url',
      index,
      `directdemo==${FROM_EGGSERVE.version}`,
    ])
    assert.notEqual(result.code, 0, output(result))
    assert.match(result.stderr, /Connection refused|Failed to establish a new connection/, output(result))
  })
})
