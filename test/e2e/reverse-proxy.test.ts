// eggserve behind a real nginx at a path prefix, over plain HTTP and over TLS: the JSON API's
// absolute URLs (from trusted X-Forwarded-* headers, or from --public-url) lead back through
// nginx and download the exact bytes. Plus what only a raw socket can send: two Host lines
// (400, as nginx answers) and no Host at all.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { utimes } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { freePort, startNginx } from '../helpers/nginx.js'
import { httpGet, startServer, type HttpResult } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

interface FileDoc {
  url: string
  digests: { sha256: string }
}
interface ApiDoc {
  info: { package_url: string; release_url: string }
  urls: FileDoc[]
  releases: Record<string, FileDoc[]>
}

const PREFIX = '/pypi-prefix'
const DAY_MS = 24 * 60 * 60 * 1000

/** GET over http or https (trusting `ca` for the latter) on a fresh connection. */
async function get(url: string, ca: string | undefined): Promise<HttpResult> {
  if (url.startsWith('http:')) return httpGet(url)
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...(ca === undefined ? {} : { ca }), agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
      })
      res.once('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
      })
      res.once('error', reject)
    })
    req.once('error', reject)
    req.end()
  })
}

/** Everything a server answers to `text` written on a fresh TCP connection, until the server closes it. */
async function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.write(text)
    })
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
    })
    socket.once('error', reject)
    socket.once('close', () => {
      resolve(Buffer.concat(chunks).toString('latin1'))
    })
  })
}

/** Every absolute URL of a JSON API document, each followed through the proxy: all must work. */
async function followAll(
  doc: ApiDoc,
  base: string,
  wheel: { filename: string; bytes: Buffer },
  ca: string | undefined,
): Promise<void> {
  const urls = [
    doc.info.package_url,
    doc.info.release_url,
    ...doc.urls.map((f) => f.url),
    ...Object.values(doc.releases)
      .flat()
      .map((f) => f.url),
  ]
  for (const url of urls) assert.ok(url.startsWith(`${base}/`), `${url} does not start with ${base}/`)
  const files = [...doc.urls, ...Object.values(doc.releases).flat()]
  const file =
    files.find((f) => f.url.endsWith(`/${wheel.filename}`)) ??
    assert.fail(`no ${wheel.filename} in ${JSON.stringify(files)}`)
  const download = await get(file.url, ca)
  assert.equal(download.status, 200, file.url)
  assert.deepEqual(download.body, wheel.bytes, file.url)
  assert.equal(createHash('sha256').update(download.body).digest('hex'), file.digests.sha256)
  const page = await get(doc.info.package_url, ca)
  assert.equal(page.status, 200, doc.info.package_url)
  assert.match(page.body.toString(), new RegExp(wheel.filename.replaceAll('.', '\\.')))
  const release = await get(doc.info.release_url, ca)
  assert.equal(release.status, 200, doc.info.release_url)
}

await test('behind nginx at a path prefix', async (t) => {
  const eggdir = await tempDir(t, 'eggserve-proxy-')
  const wheel = buildWheel({ name: 'Demo', version: '1.0', summary: 'Behind a proxy' })
  await writeDist(join(eggdir, 'demo'), wheel)
  // A second file dated tomorrow, for the Date / Last-Modified check on the wire.
  const future = buildWheel({ name: 'Demo', version: '2.0', summary: 'From the future' })
  const futurePath = await writeDist(join(eggdir, 'demo'), future)
  const tomorrow = new Date(Date.now() + DAY_MS)
  await utimes(futurePath, tomorrow, tomorrow)

  // Trusts nginx (on loopback) for X-Forwarded-Proto, -Host and -Prefix.
  const trusting = await startServer(t, { eggdir, args: ['--trust-proxy', '127.0.0.1'] })
  // Told its public URL, so it believes no header; the URL needs nginx's port, chosen first.
  const nginxPort = await freePort()
  const publicBase = `http://127.0.0.1:${String(nginxPort)}/fixed`
  const fixed = await startServer(t, { eggdir, args: ['--public-url', `${publicBase}/`] })
  const nginx = await startNginx(t, {
    port: nginxPort,
    tls: true,
    server: `
    location ${PREFIX}/ {
      proxy_pass http://127.0.0.1:${String(trusting.port)}/;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Prefix ${PREFIX};
    }
    location /fixed/ {
      proxy_pass http://127.0.0.1:${String(fixed.port)}/;
    }`,
  })
  if (nginx === undefined) return

  await t.test('over HTTP: X-Forwarded-Prefix and -Host from a trusted nginx make URLs that download', async () => {
    const res = await get(`${nginx.url}${PREFIX}/pypi/demo/json`, undefined)
    assert.equal(res.status, 200, res.body.toString())
    await followAll(JSON.parse(res.body.toString()) as ApiDoc, `${nginx.url}${PREFIX}`, wheel, undefined)
  })

  await t.test('over TLS: https URLs (X-Forwarded-Proto) that download through nginx', async () => {
    const tlsUrl = nginx.tlsUrl ?? assert.fail('no TLS port')
    const res = await get(`${tlsUrl}${PREFIX}/pypi/demo/json`, nginx.certificate)
    assert.equal(res.status, 200, res.body.toString())
    await followAll(JSON.parse(res.body.toString()) as ApiDoc, `${tlsUrl}${PREFIX}`, wheel, nginx.certificate)
  })

  await t.test('--public-url: the URLs are the configured ones, whoever asks', async () => {
    for (const url of [`${nginx.url}/fixed/pypi/demo/json`, `${fixed.url}/pypi/demo/json`]) {
      const res = await get(url, undefined)
      assert.equal(res.status, 200, url)
      await followAll(JSON.parse(res.body.toString()) as ApiDoc, publicBase, wheel, undefined)
    }
  })

  await t.test('X-Forwarded-* from a peer that is not a trusted proxy are ignored', async () => {
    const untrusting = await startServer(t, { eggdir, args: ['--trust-proxy', '192.0.2.1'] })
    const res = await httpGet(`${untrusting.url}/pypi/demo/json`, {
      headers: {
        host: 'direct.example:1234',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-prefix': '/evil',
      },
    })
    assert.equal(res.status, 200)
    for (const file of (JSON.parse(res.body.toString()) as ApiDoc).urls)
      assert.ok(file.url.startsWith('http://direct.example:1234/packages/'), file.url)
  })

  await t.test('two Host lines: 400 from nginx and from eggserve, which closes the connection', async () => {
    const twoHosts = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n`
    const fromNginx = await raw(nginxPort, twoHosts(`${PREFIX}/pypi/demo/json`))
    assert.match(fromNginx, /^HTTP\/1\.1 400 /)
    for (const path of ['/pypi/demo/json', '/simple/demo/', `/packages/demo/${wheel.filename}`, '/health']) {
      const answer = await raw(trusting.port, twoHosts(path))
      assert.match(answer, /^HTTP\/1\.1 400 /, path)
      assert.match(answer, /\r\nconnection: close\r\n/i, path)
      assert.match(answer, /Bad Request: more than one Host header\n$/, path)
    }
    // One Host line is fine, in any case.
    assert.match(
      await raw(trusting.port, 'GET /health HTTP/1.1\r\nhOsT: a.example\r\nConnection: close\r\n\r\n'),
      /^HTTP\/1\.1 200 /,
    )
  })

  await t.test('no Host at all (HTTP/1.0): 400 for the JSON API without --public-url, 200 with it', async () => {
    const noHost = 'GET /pypi/demo/json HTTP/1.0\r\n\r\n'
    assert.match(await raw(trusting.port, noHost), /^HTTP\/1\.1 400 [^]*no Host to build absolute URLs from/)
    const fixedAnswer = await raw(fixed.port, noHost)
    assert.match(fixedAnswer, /^HTTP\/1\.1 200 /)
    assert.ok(fixedAnswer.includes(`"${publicBase}/packages/demo/${wheel.filename}"`))
  })

  await t.test('a file dated tomorrow: one Date line, and Last-Modified equal to it', async () => {
    const answer = await raw(
      trusting.port,
      `HEAD /packages/demo/${future.filename} HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n`,
    )
    const dates = [...answer.matchAll(/\r\ndate: ([^\r]*)/gi)].map((m) => m[1])
    assert.equal(dates.length, 1, JSON.stringify(answer))
    assert.match(answer, new RegExp(`\\r\\nlast-modified: ${dates[0] ?? 'none'}\\r\\n`, 'i'))
  })
})
