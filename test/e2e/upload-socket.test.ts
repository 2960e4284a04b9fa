// Uploads on a real socket: a client that goes away mid-upload leaves nothing behind, a refusal
// sent while the body is still arriving reaches the client, and a 200 MB upload streams to disk
// (measured: throughput and the daemon's peak memory).
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { coreMetadata } from '../helpers/distributions.js'
import { writeTar } from '../helpers/dist-archives.js'
import { httpGet, pollUntil, startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { clientDigests, multipart, snapshot, tempFiles, type FormPart } from '../helpers/upload-form.js'
import { ALICE, writePasswords } from '../helpers/users.js'

/** A form split around its file: head (fields and the file part's headers), the file, tail. */
async function splitForm(
  filename: string,
  data: Buffer,
  name: string,
  version: string,
): Promise<{ head: Buffer; tail: Buffer; contentType: string }> {
  const digests = await clientDigests(data)
  const marker = Buffer.from('\u0000FILE\u0000')
  const fields: FormPart[] = Object.entries({
    ':action': 'file_upload',
    protocol_version: '1',
    name,
    version,
    filetype: 'sdist',
    pyversion: 'source',
    sha256_digest: digests.sha256,
    blake2_256_digest: digests.blake2,
  }).map(([field, value]) => ({ name: field, value }))
  const { body, contentType } = multipart([
    ...fields,
    { name: 'content', filename, data: marker, contentType: 'application/octet-stream' },
  ])
  const at = body.indexOf(marker)
  return { head: body.subarray(0, at), tail: body.subarray(at + marker.length), contentType }
}

/** POST head + `length` bytes produced by `body` + tail; resolves with the response (which may come before the body is sent). */
function sendUpload(
  url: string,
  options: {
    head: Buffer
    tail: Buffer
    contentType: string
    length: number
    headers?: Record<string, string>
    body: (write: (chunk: Buffer) => Promise<void>) => Promise<void>
  },
): { response: Promise<IncomingMessage>; sent: Promise<void>; destroy: () => void } {
  const req = httpRequest(`${url}/`, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': options.contentType,
      'content-length': options.head.length + options.length + options.tail.length,
      ...options.headers,
    },
  })
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve)
    req.once('error', reject)
  })
  response.catch(() => undefined)
  const write = (chunk: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      if (req.destroyed) {
        reject(new Error('request destroyed'))
        return
      }
      if (req.write(chunk)) resolve()
      else req.once('drain', resolve)
    })
  const sent = (async () => {
    await write(options.head)
    await options.body(write)
    await write(options.tail)
    req.end()
  })()
  sent.catch(() => undefined)
  return {
    response,
    sent,
    destroy: () => {
      req.destroy()
    },
  }
}

async function readBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of response) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function openServer(
  t: Parameters<typeof tempDir>[0],
  args: readonly string[] = ['--authenticate', '.'],
): Promise<{ server: ServerHandle; eggdir: string }> {
  const eggdir = await tempDir(t, 'eggserve-socket-')
  await writeTree(eggdir, { 'other/other-1.0.tar.gz': 'other' })
  return { server: await startServer(t, { eggdir, args }), eggdir }
}

await test('a client that disconnects mid-upload leaves no file behind, and the server keeps serving', async (t) => {
  const { server, eggdir } = await openServer(t)
  const before = await snapshot(eggdir)
  const { head, tail, contentType } = await splitForm('gone-1.0.tar', Buffer.alloc(0), 'gone', '1.0')
  const upload = sendUpload(server.url, {
    head,
    tail,
    contentType,
    length: 50 * 1024 * 1024,
    body: async (write) => {
      await write(randomBytes(4 * 1024 * 1024))
    },
  })
  // The temporary file exists while the upload is in flight...
  assert.ok(
    (await pollUntil(async () => (await tempFiles(eggdir)).length === 1, 5000)) !== undefined,
    'a temporary file while uploading',
  )
  upload.destroy()
  // ...and is gone once the client has gone.
  const elapsed = await pollUntil(async () => (await tempFiles(eggdir)).length === 0, 5000)
  assert.ok(elapsed !== undefined, `temporary files left: ${(await tempFiles(eggdir)).join(', ')}`)
  t.diagnostic(`temporary file removed ${Math.round(elapsed)} ms after the disconnect`)
  assert.deepEqual(await snapshot(eggdir), before)
  assert.equal((await httpGet(`${server.url}/health`)).status, 200)
  assert.equal((await httpGet(`${server.url}/other/other-1.0.tar.gz`)).body.toString(), 'other')
  await server.waitForLine((line) => line.msg === 'request' && line.method === 'POST')
})

await test('refusals sent while the body is still arriving reach the client (413 over the limit, 401 without credentials)', async (t) => {
  const passwords = await writePasswords(await tempDir(t, 'eggserve-users-'), [ALICE])
  for (const [args, status, message] of [
    [['--authenticate', '.', '--max-upload-size', '1M'], 413, 'File too large. Limit is 1 MiB\n'],
    [['--passwords', passwords], 401, 'Authentication required\n'],
  ] as const) {
    const { server, eggdir } = await openServer(t, args)
    const before = await snapshot(eggdir)
    const { head, tail, contentType } = await splitForm('big-1.0.tar', Buffer.alloc(0), 'big', '1.0')
    const length = 16 * 1024 * 1024
    const block = randomBytes(256 * 1024)
    const upload = sendUpload(server.url, {
      head,
      tail,
      contentType,
      length,
      body: async (write) => {
        for (let sent = 0; sent < length; sent += block.length) await write(block)
      },
    })
    const response = await upload.response
    assert.equal(response.statusCode, status)
    assert.equal(response.headers.connection, 'close')
    assert.equal(await readBody(response), message)
    // The server read and dropped the rest instead of resetting the connection.
    await upload.sent
    assert.deepEqual(await snapshot(eggdir), before)
    assert.equal((await httpGet(`${server.url}/health`)).status, 200)
  }
})

await test("a 200 MB upload streams to disk: throughput, and the daemon's memory stays far below the file size", async (t) => {
  const { server, eggdir } = await openServer(t)
  const size = 200 * 1024 * 1024
  const blob = randomBytes(size)
  // A real (uncompressed) sdist: PKG-INFO first, then the big member.
  const tar = writeTar([
    { path: 'big-1.0/PKG-INFO', data: coreMetadata({ name: 'big', version: '1.0' }) },
    { path: 'big-1.0/blob.bin', data: blob },
  ])
  const { head, tail, contentType } = await splitForm('big-1.0.tar', tar, 'big', '1.0')
  const pid = server.process.pid ?? 0
  const memory = async (field: 'VmRSS' | 'VmHWM'): Promise<number> => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  }
  const rssBefore = await memory('VmRSS')
  const started = performance.now()
  const chunk = 1024 * 1024
  const upload = sendUpload(server.url, {
    head,
    tail,
    contentType,
    length: tar.length,
    body: async (write) => {
      for (let at = 0; at < tar.length; at += chunk) await write(tar.subarray(at, at + chunk))
    },
  })
  const response = await upload.response
  const body = await readBody(response)
  const seconds = (performance.now() - started) / 1000
  assert.equal(response.statusCode, 200, body)
  const peak = await memory('VmHWM')
  const mb = tar.length / 1024 / 1024
  t.diagnostic(
    `${mb.toFixed(0)} MB in ${seconds.toFixed(2)} s: ${(mb / seconds).toFixed(0)} MB/s over loopback, hashed (md5, sha256, blake2b-256), fsynced`,
  )
  t.diagnostic(
    `daemon RSS before ${(rssBefore / 2 ** 20).toFixed(0)} MB, peak ${(peak / 2 ** 20).toFixed(0)} MB (+${((peak - rssBefore) / 2 ** 20).toFixed(0)} MB for a ${mb.toFixed(0)} MB file)`,
  )
  assert.ok(peak - rssBefore < 100 * 2 ** 20, 'the upload was not held in memory')
  const stored = await readFile(join(eggdir, 'big', 'big-1.0.tar'))
  assert.equal(createHash('sha256').update(stored).digest('hex'), createHash('sha256').update(tar).digest('hex'))
  assert.deepEqual(await tempFiles(eggdir), [])
})

await test('an upload cut off by shutdown is logged as aborted with no status, and leaves no file behind', async (t) => {
  const { server, eggdir } = await openServer(t, ['--authenticate', '.', '--shutdown-timeout', '1'])
  const before = await snapshot(eggdir)
  const { head, tail, contentType } = await splitForm('late-1.0.tar', Buffer.alloc(0), 'late', '1.0')
  const upload = sendUpload(server.url, {
    head,
    tail,
    contentType,
    length: 50 * 1024 * 1024,
    // A slow client: part of the file, then nothing until the server gives up on it.
    body: async (write) => {
      await write(randomBytes(1024 * 1024))
    },
  })
  assert.ok(
    (await pollUntil(async () => (await tempFiles(eggdir)).length === 1, 5000)) !== undefined,
    'a temporary file while uploading',
  )
  assert.equal(await server.stop('SIGTERM'), 0, server.stderr)
  upload.destroy()
  const line = server.lines.find((entry) => entry.msg === 'request' && entry.method === 'POST')
  assert.ok(line !== undefined, `a request line for the upload: ${JSON.stringify(server.lines.slice(-5))}`)
  assert.equal(line.statusCode, undefined, `no answer was sent, so no status: ${JSON.stringify(line)}`)
  assert.equal(line.aborted, true, JSON.stringify(line))
  assert.equal(line.bytesSent, 0)
  assert.deepEqual(await tempFiles(eggdir), [])
  assert.deepEqual(await snapshot(eggdir), before)
})
