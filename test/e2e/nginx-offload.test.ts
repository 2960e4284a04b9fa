// The shipped contrib/nginx/eggserve.conf, run by Debian's nginx in front of a real eggserve
// started with --x-accel-redirect: every download request of the table gets the same status,
// headers and bytes as from an eggserve without offload; eggserve still decides (credentials,
// only files the index knows, 304/412/416); the internal location is unreachable; and pip
// installs through it with --require-hashes. Only the listen port, eggserve's address and the
// eggdir are changed in the file, so a broken shipped config fails here.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { freePort, startNginx } from '../helpers/nginx.js'
import { createVenv, installHashed, output } from '../helpers/python.js'
import { repoRoot, startServer, type HttpResult } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { ALICE, basic, writePasswords } from '../helpers/users.js'

const PREFIX = '/_eggfiles'
const SMALL = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 13) % 256))
const LARGE = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 8)) % 256))
// Headers that must agree between the two paths (Date, Server and connection headers differ by nature).
const COMPARED = [
  'content-length',
  'content-range',
  'content-type',
  'content-encoding',
  'etag',
  'last-modified',
  'accept-ranges',
  'cache-control',
  'x-content-type-options',
  'access-control-allow-origin',
  'x-accel-redirect',
]

interface Validators {
  readonly etag: string
  readonly lastModified: string
}
interface Row {
  readonly name: string
  readonly method?: 'GET' | 'HEAD'
  readonly headers: (v: Validators) => Record<string, string>
  /** The status eggserve answers with (the same on both paths). */
  readonly status: number
}

// RFC 9110 §13 (conditionals) and §14 (ranges), the requests of test/http/downloads.test.ts.
const TABLE: readonly Row[] = [
  { name: 'plain GET', headers: () => ({}), status: 200 },
  { name: 'HEAD', method: 'HEAD', headers: () => ({}), status: 200 },
  { name: 'HEAD with a range', method: 'HEAD', headers: () => ({ range: 'bytes=-10' }), status: 206 },
  { name: 'first byte', headers: () => ({ range: 'bytes=0-0' }), status: 206 },
  { name: 'suffix', headers: () => ({ range: 'bytes=-10' }), status: 206 },
  { name: 'open end', headers: () => ({ range: 'bytes=100-' }), status: 206 },
  { name: 'end beyond the size', headers: () => ({ range: 'bytes=5-99999999' }), status: 206 },
  { name: 'suffix longer than the file', headers: () => ({ range: 'bytes=-99999999' }), status: 206 },
  { name: 'unsatisfiable', headers: () => ({ range: 'bytes=99999999-' }), status: 416 },
  { name: 'several ranges', headers: () => ({ range: 'bytes=0-1,5-6' }), status: 200 },
  { name: 'bad syntax', headers: () => ({ range: 'bytes=abc' }), status: 200 },
  { name: 'last below first', headers: () => ({ range: 'bytes=9-1' }), status: 200 },
  { name: 'other unit', headers: () => ({ range: 'items=0-1' }), status: 200 },
  { name: 'If-None-Match match', headers: (v) => ({ 'if-none-match': v.etag }), status: 304 },
  { name: 'If-None-Match in a list', headers: (v) => ({ 'if-none-match': `"other", ${v.etag}` }), status: 304 },
  { name: 'If-None-Match weak form', headers: (v) => ({ 'if-none-match': `W/${v.etag}` }), status: 304 },
  { name: 'If-None-Match other', headers: () => ({ 'if-none-match': '"other"' }), status: 200 },
  { name: 'If-Modified-Since equal', headers: (v) => ({ 'if-modified-since': v.lastModified }), status: 304 },
  {
    name: 'If-Modified-Since old',
    headers: () => ({ 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }),
    status: 200,
  },
  { name: 'If-Match match', headers: (v) => ({ 'if-match': v.etag }), status: 200 },
  { name: 'If-Match other', headers: () => ({ 'if-match': '"other"' }), status: 412 },
  {
    name: 'If-Unmodified-Since old',
    headers: () => ({ 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }),
    status: 412,
  },
  { name: 'If-Unmodified-Since equal', headers: (v) => ({ 'if-unmodified-since': v.lastModified }), status: 200 },
  { name: 'If-Range strong match', headers: (v) => ({ range: 'bytes=0-9', 'if-range': v.etag }), status: 206 },
  { name: 'If-Range stale', headers: () => ({ range: 'bytes=0-9', 'if-range': '"stale"' }), status: 200 },
  { name: 'If-Range weak', headers: (v) => ({ range: 'bytes=0-9', 'if-range': `W/${v.etag}` }), status: 200 },
  { name: 'If-Range date match', headers: (v) => ({ range: 'bytes=0-9', 'if-range': v.lastModified }), status: 206 },
  {
    name: 'If-Range old date',
    headers: () => ({ range: 'bytes=0-9', 'if-range': 'Thu, 01 Jan 1970 00:00:00 GMT' }),
    status: 200,
  },
  {
    name: 'If-None-Match stale with a range',
    headers: () => ({ range: 'bytes=0-9', 'if-none-match': '"other"' }),
    status: 206,
  },
  { name: 'CORS (Origin)', headers: () => ({ origin: 'https://app.example' }), status: 200 },
]

/** A request sent exactly as given (the path is not normalized, unlike a URL's). */
async function send(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk)
        })
        res.once('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
        })
        res.once('error', reject)
      },
    )
    req.once('error', reject)
    req.end()
  })
}

function picked(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  return Object.fromEntries(
    COMPARED.map((name) => [name, headers[name] === undefined ? undefined : String(headers[name])]),
  )
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** `text` with `from` replaced by `to`; fails unless `from` occurs exactly once. */
function replaceOnce(text: string, from: string, to: string): string {
  const parts = text.split(from)
  assert.equal(parts.length, 2, `contrib/nginx/eggserve.conf should contain ${JSON.stringify(from)} exactly once`)
  return parts.join(to)
}

await test("downloads offloaded to nginx with the shipped config keep eggserve's semantics", async (t) => {
  const eggdir = await tempDir(t, 'eggserve-offload-')
  const wheel = buildWheel({ name: 'offload-demo', version: '1.0', summary: 'Sent by nginx' })
  await writeDist(join(eggdir, 'offload-demo'), wheel)
  await writeTree(eggdir, {
    'demo/demo-1.0.tar.gz': LARGE,
    // A local version: "+" is encoded in the X-Accel-Redirect URI and decoded by nginx.
    'demo/demo-1.0+local.zip': SMALL,
    'demo/demo-1.0.tar.gz.asc': '-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n',
    // On disk but never served: not a distribution, or hidden.
    'demo/notes.txt': 'not a distribution',
    'demo/.secret.tar.gz': 'hidden',
  })
  const dir = await tempDir(t, 'eggserve-offload-users-')
  const passwords = await writePasswords(dir, [ALICE])
  // Both protect downloads, so credentials are checked before any offload, and files carry
  // Cache-Control: private, a header that must cross nginx's internal redirect.
  const auth = ['--passwords', passwords, '--authenticate', 'update,download', '--cache-dir', 'none']
  const direct = await startServer(t, { eggdir, args: auth })
  const offloading = await startServer(t, { eggdir, args: [...auth, '--x-accel-redirect', PREFIX] })
  const port = await freePort()
  let conf = await readFile(join(repoRoot, 'contrib', 'nginx', 'eggserve.conf'), 'utf8')
  conf = replaceOnce(conf, 'server 127.0.0.1:31001;', `server 127.0.0.1:${String(offloading.port)};`)
  conf = replaceOnce(conf, 'listen 80;', `listen 127.0.0.1:${String(port)};`)
  conf = replaceOnce(conf, 'alias /srv/eggs/;', `alias ${eggdir}/;`)
  assert.ok(conf.includes(`location ${PREFIX}/ {`), `the shipped config's internal location is ${PREFIX}/`)
  const nginx = await startNginx(t, { http: conf, port })
  if (nginx === undefined) return
  const authorization = basic(ALICE)

  const files = [
    { name: 'large file', path: '/packages/demo/demo-1.0.tar.gz', bytes: LARGE },
    { name: 'small file', path: '/packages/demo/demo-1.0%2Blocal.zip', bytes: SMALL },
    { name: 'small file, original tree', path: '/demo/demo-1.0%2Blocal.zip', bytes: SMALL },
  ]
  for (const file of files) {
    await t.test(`${file.name}: every request of the table agrees between nginx and eggserve alone`, async () => {
      const first = await send(direct.url, file.path, { headers: { authorization } })
      assert.equal(first.status, 200)
      assert.deepEqual(first.body, file.bytes)
      const validators = { etag: String(first.headers.etag), lastModified: String(first.headers['last-modified']) }
      for (const row of TABLE) {
        const options = { method: row.method ?? 'GET', headers: { authorization, ...row.headers(validators) } }
        const alone = await send(direct.url, file.path, options)
        const proxied = await send(nginx.url, file.path, options)
        const label = `${file.name}, ${row.name}`
        assert.equal(alone.status, row.status, label)
        assert.equal(proxied.status, alone.status, label)
        assert.deepEqual(picked(proxied.headers), picked(alone.headers), label)
        assert.equal(sha256(proxied.body), sha256(alone.body), label)
        if (row.status === 200 && options.method === 'GET') assert.deepEqual(proxied.body, file.bytes, label)
      }
    })
  }

  await t.test('eggserve itself answers downloads with X-Accel-Redirect and no bytes, nginx sends them', async () => {
    for (const [path, target] of [
      ['/packages/demo/demo-1.0.tar.gz', `${PREFIX}/demo/demo-1.0.tar.gz`],
      ['/packages/demo/demo-1.0%2Blocal.zip', `${PREFIX}/demo/demo-1.0%2Blocal.zip`],
      ['/packages/demo/demo-1.0.tar.gz.asc', `${PREFIX}/demo/demo-1.0.tar.gz.asc`],
      [`/packages/offload-demo/${wheel.filename}`, `${PREFIX}/offload-demo/${encodeURIComponent(wheel.filename)}`],
    ] as const) {
      for (const headers of [{}, { range: 'bytes=0-9' }]) {
        const res = await send(offloading.url, path, { headers: { authorization, ...headers } })
        assert.equal(res.status, 200, path)
        assert.equal(res.headers['x-accel-redirect'], target, path)
        assert.equal(res.body.length, 0, path)
      }
    }
    const asc = await send(nginx.url, '/packages/demo/demo-1.0.tar.gz.asc', { headers: { authorization } })
    assert.equal(asc.status, 200)
    assert.match(asc.body.toString(), /BEGIN PGP SIGNATURE/)
    // Requests nginx would judge differently are answered by eggserve, bytes included.
    const ifMatch = await send(offloading.url, '/packages/demo/demo-1.0.tar.gz', {
      headers: { authorization, 'if-match': '*' },
    })
    assert.equal(ifMatch.headers['x-accel-redirect'], undefined)
    assert.deepEqual(ifMatch.body, LARGE)
  })

  await t.test('no credentials: 401 from eggserve through nginx, with none of the file', async () => {
    for (const path of ['/packages/demo/demo-1.0.tar.gz', '/packages/demo/demo-1.0%2Blocal.zip']) {
      for (const headers of [
        {},
        { authorization: basic({ user: 'alice', password: 'wrong' }) },
        { range: 'bytes=0-9' },
      ]) {
        const res = await send(nginx.url, path, { headers })
        assert.equal(res.status, 401, path)
        assert.equal(res.headers['x-accel-redirect'], undefined)
        assert.ok(!res.body.includes(SMALL.subarray(0, 64)) && !res.body.includes(LARGE.subarray(0, 64)), path)
      }
    }
  })

  await t.test(
    'unknown files, files the index does not serve and traversal: refused on both paths, never the bytes',
    async () => {
      for (const path of [
        '/packages/demo/demo-9.9.tar.gz',
        '/packages/nope/nope-1.0.tar.gz',
        '/packages/demo/notes.txt',
        '/packages/demo/.secret.tar.gz',
      ]) {
        const alone = await send(direct.url, path, { headers: { authorization } })
        const proxied = await send(nginx.url, path, { headers: { authorization } })
        assert.equal(alone.status, 404, path)
        assert.equal(proxied.status, 404, path)
        assert.equal(proxied.body.toString(), alone.body.toString(), path)
      }
      const attempts = [
        '/packages/demo/..%2fnotes.txt',
        '/packages/demo/%2e%2e/%2e%2e/etc/passwd',
        '/packages/demo/..%2f..%2f..%2fetc%2fpasswd',
        '/packages/../../etc/passwd',
        '/demo/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
        '/packages/demo/demo-1.0.tar.gz%00.zip',
        // The internal location, asked for directly, plain or encoded.
        `${PREFIX}/demo/demo-1.0.tar.gz`,
        `${PREFIX}/../etc/passwd`,
        `/%5F${PREFIX.slice(2)}/demo/demo-1.0.tar.gz`,
        `${PREFIX}%2fdemo%2fdemo-1.0.tar.gz`,
      ]
      const passwd = await readFile('/etc/passwd').catch(() => Buffer.from('root:'))
      for (const path of attempts) {
        for (const base of [direct.url, nginx.url]) {
          const res = await send(base, path, { headers: { authorization } })
          assert.ok(res.status === 400 || res.status === 404, `${base}${path}: ${String(res.status)}`)
          for (const secret of [
            LARGE.subarray(0, 64),
            SMALL.subarray(0, 64),
            Buffer.from('not a distribution'),
            passwd.subarray(0, 16),
          ]) {
            assert.ok(!res.body.includes(secret), `${base}${path} leaked bytes`)
          }
        }
      }
    },
  )

  await t.test(
    'a replaced file: the next download through nginx has the new bytes and the new validators',
    async () => {
      const path = '/packages/demo/demo-1.0.tar.gz'
      const before = await send(nginx.url, path, { headers: { authorization } })
      const changed = Buffer.from(LARGE)
      changed[0] = (changed[0] ?? 0) ^ 0xff
      // Atomically, as an rsync or an upload would: same size, same name.
      await writeFile(join(eggdir, 'demo', 'next.tmp'), changed)
      await rename(join(eggdir, 'demo', 'next.tmp'), join(eggdir, 'demo', 'demo-1.0.tar.gz'))
      const after = await send(nginx.url, path, { headers: { authorization } })
      assert.deepEqual(after.body, changed)
      assert.notEqual(after.headers.etag, before.headers.etag)
      // The old validator is stale now: the whole new file, not a mix.
      const resumed = await send(nginx.url, path, {
        headers: { authorization, range: 'bytes=0-9', 'if-range': String(before.headers.etag) },
      })
      assert.equal(resumed.status, 200)
      assert.deepEqual(resumed.body, changed)
      const alone = await send(direct.url, path, { headers: { authorization } })
      assert.deepEqual(picked(after.headers), picked(alone.headers))
    },
  )

  await t.test('pip installs through nginx with --require-hashes', async (t2) => {
    const venv = await createVenv(t2)
    if (venv === undefined) return
    const requirements = join(dir, 'requirements.txt')
    await writeFile(requirements, `offload-demo==1.0 --hash=sha256:${sha256(wheel.bytes)}\n`)
    const index = `http://${ALICE.user}:${ALICE.password}@127.0.0.1:${String(port)}/simple/`
    const target = join(dir, 'target')
    const result = await installHashed(venv, { index: index, requirements, target })
    assert.equal(result.code, 0, output(result))
    const installed = await readFile(join(target, 'offload_demo', '__init__.py'), 'utf8').catch(() => undefined)
    assert.notEqual(installed, undefined, `nothing installed into ${target}\n${output(result)}`)
    // pip's download went through nginx, which sent the whole wheel.
    assert.match(
      await nginx.accessLog(),
      new RegExp(
        `"GET /packages/offload-demo/${wheel.filename.replaceAll('.', '\\.')} HTTP/1\\.1" 200 ${String(wheel.bytes.length)} `,
      ),
    )
  })
})
