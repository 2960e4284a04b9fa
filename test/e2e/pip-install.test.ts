// Real pip against the real daemon: installs through both URL trees, a wheel and an sdist
// that pip must build, and hash checks that fail when the bytes are not the ones expected.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildSdist, buildWheel, writeDist } from '../helpers/distributions.js'
import { createVenv, output, pipRunFlags } from '../helpers/python.js'
import { httpGet, pollUntil, startServer, type LogLine, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const WHEEL = buildWheel({ name: 'eggdemo-e2e', version: '1.0', moduleSource: "__version__ = '1.0'\nKIND = 'wheel'\n" })
// Sdist-only, in a folder spelled differently from the normalized name, so pip must follow
// the legacy tree's redirect and build the sdist with its in-tree backend.
const SDIST = buildSdist({
  name: 'Sdist_Only.E2E',
  version: '2.0',
  moduleSource: "__version__ = '2.0'\nKIND = 'sdist'\n",
})
const SDIST_FOLDER = 'Sdist_Only.E2E'
// Only for the tamper test, which changes its bytes on disk.
const TAMPER = buildWheel({ name: 'tamper-e2e', version: '1.0' })

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')
const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex')

/** Requests the server logged, as "METHOD URL STATUS". */
function requests(server: ServerHandle, since: number): string[] {
  return server.lines
    .slice(since)
    .filter((line: LogLine) => line.msg === 'request')
    .map((line) => `${String(line.method)} ${String(line.url)} ${String(line.statusCode)}`)
}

/**
 * Assert that every `expected` request was logged after line `since`. A request's line is
 * written when its response closes, which can be a moment after pip has exited: wait a little.
 */
async function assertRequested(server: ServerHandle, since: number, expected: readonly string[]): Promise<void> {
  await pollUntil(() => Promise.resolve(expected.every((entry) => requests(server, since).includes(entry))), 5000)
  const seen = requests(server, since)
  for (const entry of expected)
    assert.ok(seen.includes(entry), `"${entry}" not among the logged requests:\n${seen.join('\n')}`)
}

/** Pip's common install/download options: no retries (a refused connection fails at once), no progress bars. */
const PIP_RUN = pipRunFlags()

await test('pip installs from eggserve', async (t) => {
  const venv = await createVenv(t)
  if (venv === undefined) return
  const root = await tempDir(t, 'eggserve-pip-')
  const eggdir = join(root, 'eggdir')
  await writeDist(join(eggdir, 'eggdemo-e2e'), WHEEL)
  await writeDist(join(eggdir, SDIST_FOLDER), SDIST)
  const tamperPath = await writeDist(join(eggdir, 'tamper-e2e'), TAMPER)
  const server = await startServer(t, { eggdir })

  // Installs both projects with --target into a fresh folder and imports them from there.
  const installAndImport = async (st: TestContext, index: string, label: string): Promise<string> => {
    const target = join(root, `target-${label}`)
    const started = performance.now()
    const result = await venv.pip([
      'install',
      ...PIP_RUN,
      '--target',
      target,
      '--index-url',
      index,
      'eggdemo-e2e==1.0',
      'sdist-only-e2e==2.0',
    ])
    st.diagnostic(`${label}: pip install took ${Math.round(performance.now() - started)} ms`)
    assert.equal(result.code, 0, output(result))
    assert.match(
      result.stdout,
      /Successfully installed eggdemo-e2e-1\.0 sdist-only-e2e-2\.0|Successfully installed sdist-only-e2e-2\.0 eggdemo-e2e-1\.0/,
      output(result),
    )
    // The sdist really went through a build, not a wheel found elsewhere.
    assert.match(result.stdout, /Building wheel for sdist-only-e2e/, output(result))
    // 127.0.0.1 is a secure origin for pip: no --trusted-host needed, no warning.
    assert.doesNotMatch(`${result.stdout}${result.stderr}`, /not a trusted or secure host/)
    const probe = await venv.run(
      [
        '-c',
        [
          'import eggdemo_e2e, sdist_only_e2e',
          'print(eggdemo_e2e.__version__, eggdemo_e2e.KIND, eggdemo_e2e.__file__)',
          'print(sdist_only_e2e.__version__, sdist_only_e2e.KIND, sdist_only_e2e.__file__)',
        ].join('\n'),
      ],
      { env: { PYTHONPATH: target } },
    )
    assert.equal(probe.code, 0, output(probe))
    const [wheelLine = '', sdistLine = ''] = probe.stdout.trim().split('\n')
    assert.equal(wheelLine, `1.0 wheel ${join(target, 'eggdemo_e2e', '__init__.py')}`)
    assert.equal(sdistLine, `2.0 sdist ${join(target, 'sdist_only_e2e', '__init__.py')}`)
    return target
  }

  await t.test('through --index-url http://127.0.0.1:PORT/ (the legacy tree)', async (st) => {
    const since = server.lines.length
    await installAndImport(st, `${server.url}/`, 'legacy')
    await assertRequested(server, since, [
      'GET /eggdemo-e2e/ 200',
      `GET /eggdemo-e2e/${WHEEL.filename} 200`,
      // pip asks for the normalized name; the folder is spelled otherwise, so it is redirected.
      'GET /sdist-only-e2e/ 301',
      `GET /${SDIST_FOLDER}/ 200`,
      `GET /${SDIST_FOLDER}/${SDIST.filename} 200`,
    ])
  })

  await t.test('through --index-url http://127.0.0.1:PORT/simple/ (PEP 503)', async (st) => {
    const since = server.lines.length
    await installAndImport(st, `${server.url}/simple/`, 'simple')
    await assertRequested(server, since, [
      'GET /simple/eggdemo-e2e/ 200',
      `GET /packages/eggdemo-e2e/${WHEEL.filename} 200`,
      'GET /simple/sdist-only-e2e/ 200',
      `GET /packages/${SDIST_FOLDER}/${SDIST.filename} 200`,
    ])
  })

  await t.test("pip runs isolated from this machine's pip configuration", async () => {
    // Negative control of the helper itself: with the only index on a closed port, a project
    // that the machine's mirrors (PIP_FIND_LINKS, pip.conf find-links / extra-index-url) hold
    // must not be found. If it is, every other result here could come from those mirrors.
    const closed = await closedPort()
    const dest = join(root, 'isolation')
    const result = await venv.pip([
      'download',
      ...PIP_RUN,
      '--no-deps',
      '-d',
      dest,
      '--index-url',
      `http://127.0.0.1:${closed}/simple/`,
      'six',
    ])
    assert.notEqual(result.code, 0, `pip found "six" without an index: configuration leaked in\n${output(result)}`)
    assert.match(`${result.stdout}${result.stderr}`, /No matching distribution found for six/, output(result))
  })

  await t.test("--require-hashes with a wrong sha256 fails, and pip's own digest is the file's", async () => {
    const requirements = join(root, 'wrong-hash.txt')
    await writeFile(requirements, `eggdemo-e2e==1.0 --hash=sha256:${sha256(Buffer.from('not the wheel'))}\n`)
    const since = server.lines.length
    const result = await venv.pip([
      'install',
      ...PIP_RUN,
      '--target',
      join(root, 'target-wrong-hash'),
      '--require-hashes',
      '--no-deps',
      '--index-url',
      `${server.url}/simple/`,
      '-r',
      requirements,
    ])
    assert.notEqual(result.code, 0, output(result))
    assert.match(result.stderr, /THESE PACKAGES DO NOT MATCH THE HASHES/, output(result))
    // The file was served (so the failure is the hash check, not a 404) ...
    await assertRequested(server, since, [`GET /packages/eggdemo-e2e/${WHEEL.filename} 200`])
    // ... and the digest pip computed over the bytes it received is the digest of the file on disk.
    const got = /Got\s+([0-9a-f]{64})/.exec(result.stderr)?.[1]
    assert.equal(got, sha256(WHEEL.bytes), output(result))
  })

  await t.test("a file tampered with after pip read the page fails the page's #md5= check", async (t2) => {
    // What "tampered" can honestly mean against this server: eggserve re-hashes a file whose
    // identity (inode, size, mtime, ctime) changed, so a page served AFTER a change always
    // carries the new digest, and an in-place edit cannot be hidden from it (ctime cannot be
    // set back). The window that remains, and the one the #md5= fragment exists for, is
    // between pip reading the page and pip downloading the file: bytes changed on disk then
    // (or on the wire) no longer match the digest pip holds. A pass-through proxy in front of
    // eggserve opens that window deterministically: when pip asks for the file, it overwrites
    // the file on disk (same name, same size, one byte changed) and only then forwards the
    // request, so eggserve itself serves the tampered bytes. pip must refuse them because of
    // the page's fragment alone: no --require-hashes, no --hash.
    const tampered = Buffer.from(TAMPER.bytes)
    const middle = Math.floor(tampered.length / 2)
    tampered[middle] = (tampered[middle] ?? 0) ^ 0xff
    const proxy = await startTamperingProxy(t2, server, async (url) => {
      if (!url.endsWith(`/${TAMPER.filename}`)) return
      await writeFile(tamperPath, tampered)
    })
    const result = await venv.pip([
      'install',
      ...PIP_RUN,
      '--target',
      join(root, 'target-tampered'),
      '--no-deps',
      '--index-url',
      `${proxy}/simple/`,
      'tamper-e2e==1.0',
    ])
    assert.notEqual(result.code, 0, output(result))
    assert.match(result.stderr, /THESE PACKAGES DO NOT MATCH THE HASHES/, output(result))
    // Expected: the digest the page gave for the original bytes; Got: the tampered bytes' digest.
    assert.match(result.stderr, new RegExp(`Expected md5 ${md5(TAMPER.bytes)}`), output(result))
    assert.match(result.stderr, new RegExp(`Got\\s+${md5(tampered)}`), output(result))
    assert.deepEqual(await readFile(tamperPath), tampered)

    // The next page describes the bytes now on disk, so a fresh pip run accepts them.
    const page = await httpGet(`${server.url}/simple/tamper-e2e/`)
    assert.match(page.body.toString('utf8'), new RegExp(`#sha256=${sha256(tampered)}"`))
  })

  assert.deepEqual(server.badLines, [])
  assert.equal(await server.stop(), 0, server.stderr)
})

async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => {
    probe.listen(0, '127.0.0.1', resolve)
  })
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => {
    probe.close(() => {
      resolve()
    })
  })
  return port
}

/**
 * A pass-through HTTP proxy on 127.0.0.1 in front of `server`; `beforeForward` runs (and is
 * awaited) before each request is forwarded. Closed after the test. Resolves with its URL.
 */
async function startTamperingProxy(
  t: TestContext,
  server: ServerHandle,
  beforeForward: (url: string) => Promise<void>,
): Promise<string> {
  const proxy: Server = createServer((req, res) => {
    void beforeForward(req.url ?? '/').then(
      () => {
        const upstream = httpRequest(
          `${server.url}${req.url ?? '/'}`,
          { method: req.method ?? 'GET', headers: req.headers, agent: false },
          (response) => {
            res.writeHead(response.statusCode ?? 502, response.headers)
            response.pipe(res)
          },
        )
        upstream.once('error', () => {
          res.destroy()
        })
        req.pipe(upstream)
      },
      () => {
        res.destroy()
      },
    )
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
  const { port } = proxy.address() as AddressInfo
  return `http://127.0.0.1:${port}`
}
