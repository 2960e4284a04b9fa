// Real pip of several versions (the pip bundled with pyenv's Pythons 2.7, 3.6, 3.8, 3.12 and
// 3.13) installs an upstream project through eggserve on both trees, `--index-url .../simple/`
// and the original `--index-url .../`, with --require-hashes; easy_install takes it from the
// original tree too. The upstream is a static PEP 503
// tree under nginx that gives sha256 alone, as PyPI does, so the original tree's links carry
// #sha256= (docs/upstream.md, "Pages"); the counting fault proxy in front of it shows that a
// local project installed from the original tree sends the upstream nothing.
import assert from 'node:assert/strict'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { installHashed, output, pyenvPip } from '../helpers/python.js'
import { httpGet } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { sha256Hex, startStaticUpstream, startWithUpstreams } from '../helpers/upstream-index.js'

// py2.py3 wheels, so Python 2.7's pip takes them too.
const UPSTREAM = buildWheel({ name: 'updemo', version: '2.0' }, { pythonTag: 'py2.py3' })
const LOCAL = buildWheel({ name: 'localpkg', version: '1.0' }, { pythonTag: 'py2.py3' })
const LOCAL_PUBLIC = buildWheel({ name: 'localpkg', version: '99.0' }, { pythonTag: 'py2.py3' })
const PYTHONS = ['2.7', '3.6', '3.8', '3.12', '3.13'] as const

await test('real pip of several versions installs an upstream project through both trees with --require-hashes', async (t) => {
  const nginx = await startStaticUpstream(t, { updemo: [UPSTREAM], localpkg: [LOCAL_PUBLIC] })
  if (nginx === undefined) return
  const proxy = await startUpstreamFaultProxy(t, nginx.url)
  const root = await tempDir(t, 'eggserve-up-trees-')
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'localpkg'), LOCAL)
  const server = await startWithUpstreams(t, { eggdir, cacheDir: join(root, 'cache'), upstreams: [proxy.url] })
  const upstreamRequirements = join(root, 'updemo.txt')
  await writeFile(upstreamRequirements, `updemo==2.0 --hash=sha256:${sha256Hex(UPSTREAM.bytes)}\n`)
  const localRequirements = join(root, 'localpkg.txt')
  await writeFile(localRequirements, `localpkg==1.0 --hash=sha256:${sha256Hex(LOCAL.bytes)}\n`)

  await t.test(
    'the original tree lists the upstream file by its bare name with the sha256 the upstream gave',
    async () => {
      const page = await httpGet(`${server.url}/updemo/`)
      assert.equal(page.status, 200)
      const body = page.body.toString()
      assert.ok(body.includes(`<a href="${UPSTREAM.filename}#sha256=${sha256Hex(UPSTREAM.bytes)}"`), body)
      assert.ok(body.includes('data-eggserve-origin="upstream"'), body)
      assert.ok(!body.includes(new URL(proxy.url).host) && !body.includes(new URL(nginx.url).host), body)
    },
  )

  const trees = [
    ['original', `${server.url}/`],
    ['simple', `${server.url}/simple/`],
  ] as const
  let ran = 0
  for (const prefix of PYTHONS) {
    await t.test(`pip of Python ${prefix}`, async (st) => {
      const pip = await pyenvPip(st, prefix)
      if (pip === undefined) return
      ran++
      const version = await pip.pip(['--version'])
      st.diagnostic(`${version.stdout.trim()} (CPython ${pip.version})`)
      for (const [tree, index] of trees) {
        const target = join(pip.dir, `target-${tree}`)
        const result = await installHashed(pip, { index, requirements: upstreamRequirements, target, timeoutS: 60 })
        assert.equal(result.code, 0, `${tree} tree: ${output(result)}`)
        assert.ok((await readdir(target)).includes('updemo-2.0.dist-info'), tree)
      }
      const before = proxy.count()
      const target = join(pip.dir, 'target-local')
      const result = await installHashed(pip, {
        index: `${server.url}/`,
        requirements: localRequirements,
        target,
        timeoutS: 60,
      })
      assert.equal(result.code, 0, output(result))
      assert.ok((await readdir(target)).includes('localpkg-1.0.dist-info'))
      assert.equal(proxy.count(), before, JSON.stringify(proxy.requests.slice(before)))
    })
  }

  await t.test(
    "easy_install (Python 3.7's setuptools) installs it from the original tree, checking the #sha256= anchor",
    async (st) => {
      const python = await pyenvPip(st, '3.7')
      if (python === undefined) return
      const site = join(python.dir, 'site')
      await mkdir(site, { recursive: true })
      const env = { PYTHONPATH: site }
      // setuptools' HashChecker (package_index.py) validates the download against the anchor.
      const result = await python.run(
        [
          '-m',
          'easy_install',
          // Verbose: distutils' debug level shows HashChecker's "Validating sha256 checksum".
          '--verbose',
          '--index-url',
          `${server.url}/`,
          '--allow-hosts',
          new URL(server.url).host,
          '--install-dir',
          site,
          '--script-dir',
          join(site, 'bin'),
          'updemo==2.0',
        ],
        { env },
      )
      assert.equal(result.code, 0, output(result))
      assert.match(
        `${result.stdout}${result.stderr}`,
        new RegExp(`Validating sha256 checksum for .*${UPSTREAM.filename}`),
      )
      const imported = await python.run(['-c', 'import updemo; print(updemo.__file__)'], { env })
      assert.equal(imported.code, 0, output(imported))
      assert.ok(imported.stdout.trim().startsWith(site), imported.stdout)
    },
  )

  await t.test('the upstream heard nothing of the local project and sent its file once', () => {
    assert.equal(proxy.countMatching('localpkg'), 0, JSON.stringify(proxy.requests))
    assert.equal(proxy.count(`/files/updemo/${UPSTREAM.filename}`), ran > 0 ? 1 : 0, JSON.stringify(proxy.requests))
  })
})
