// `Expect: 100-continue` on a real socket (RFC 9110 §10.1.1): the client sends the headers of
// an upload and waits. Without (right) credentials the answer is 401 before any of the body is
// sent, and the connection is closed; with them, "100 Continue", then the upload as usual.
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { test } from 'node:test'
import { buildSdist } from '../helpers/distributions.js'
import { httpGet, startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { multipart, snapshot, uploadParts } from '../helpers/upload-form.js'
import { ALICE, basic, writePasswords } from '../helpers/users.js'

/** A raw HTTP/1.1 connection: what the server has sent so far, and whether it closed. */
interface RawClient {
  readonly socket: Socket
  /** Resolves once a complete response (head and Content-Length body) has arrived; returns it. */
  response(): Promise<RawResponse>
  /** Resolves when the server has closed its side. */
  readonly ended: Promise<void>
}

interface RawResponse {
  readonly statusLine: string
  readonly headers: Record<string, string>
  readonly body: string
}

async function open(server: ServerHandle): Promise<RawClient> {
  const socket = connect(server.port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve).once('error', reject)
  })
  let received = Buffer.alloc(0)
  let notify = (): void => undefined
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk])
    notify()
  })
  const ended = new Promise<void>((resolve) => {
    socket.once('end', resolve).once('close', resolve)
  })
  ended.catch(() => undefined)
  const take = (): RawResponse | undefined => {
    const end = received.indexOf('\r\n\r\n')
    if (end < 0) return undefined
    const [statusLine = '', ...lines] = received.subarray(0, end).toString('latin1').split('\r\n')
    const headers = Object.fromEntries(
      lines.map((line) => {
        const colon = line.indexOf(':')
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]
      }),
    )
    const length = Number(headers['content-length'] ?? 0)
    if (received.length < end + 4 + length) return undefined
    const body = received.subarray(end + 4, end + 4 + length).toString('utf8')
    received = received.subarray(end + 4 + length)
    return { statusLine, headers, body }
  }
  const response = (): Promise<RawResponse> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const taken = take()
        if (taken !== undefined) {
          notify = () => undefined
          resolve(taken)
        }
      }
      notify = check
      void ended.then(() => {
        reject(new Error(`the server closed the connection; unread: ${JSON.stringify(received.toString('latin1'))}`))
      })
      check()
    })
  return { socket, response, ended }
}

function head(options: { length: number; contentType: string; authorization?: string }): string {
  return [
    'POST /legacy/ HTTP/1.1',
    'Host: 127.0.0.1',
    'Expect: 100-continue',
    `Content-Type: ${options.contentType}`,
    `Content-Length: ${options.length}`,
    ...(options.authorization === undefined ? [] : [`Authorization: ${options.authorization}`]),
    '',
    '',
  ].join('\r\n')
}

async function setup(
  t: Parameters<typeof tempDir>[0],
): Promise<{ server: ServerHandle; eggdir: string; form: ReturnType<typeof multipart>; bytes: Buffer }> {
  const root = await tempDir(t, 'eggserve-continue-')
  await writeTree(root, { 'eggs/other/other-1.0.tar.gz': 'other' })
  const passwords = await writePasswords(root, [ALICE])
  const eggdir = `${root}/eggs`
  const server = await startServer(t, { eggdir, args: ['--passwords', passwords] })
  const dist = buildSdist({ name: 'late', version: '1.0' })
  const form = multipart(await uploadParts(dist, { name: 'late', version: '1.0' }))
  return { server, eggdir, form, bytes: dist.bytes }
}

await test('no or wrong credentials: 401 with the challenge before any body is sent, then the connection closes', async (t) => {
  const { server, eggdir, form } = await setup(t)
  const before = await snapshot(eggdir)
  for (const authorization of [
    undefined,
    basic({ user: 'alice', password: 'wrong' }),
    basic({ user: 'nobody', password: 'x' }),
  ]) {
    const client = await open(server)
    t.after(() => {
      client.socket.destroy()
    })
    client.socket.write(
      head({
        length: form.body.length,
        contentType: form.contentType,
        ...(authorization === undefined ? {} : { authorization }),
      }),
    )
    // Nothing of the body is ever written: the first thing back must be the final answer.
    const first = await client.response()
    assert.match(first.statusLine, /^HTTP\/1\.1 401 /, `${String(authorization)}: got ${first.statusLine}`)
    assert.equal(first.headers['www-authenticate'], 'Basic realm="eggserve"')
    assert.equal(first.headers.connection, 'close')
    assert.equal(first.body, authorization === undefined ? 'Authentication required\n' : 'Invalid credentials\n')
    await client.ended
  }
  assert.deepEqual(await snapshot(eggdir), before)
})

await test('right credentials: 100 Continue, then the body is read and the upload stored', async (t) => {
  const { server, form, bytes } = await setup(t)
  const client = await open(server)
  t.after(() => {
    client.socket.destroy()
  })
  client.socket.write(head({ length: form.body.length, contentType: form.contentType, authorization: basic(ALICE) }))
  const interim = await client.response()
  assert.equal(interim.statusLine, 'HTTP/1.1 100 Continue')
  assert.deepEqual(interim.headers, {})
  client.socket.write(form.body)
  const final = await client.response()
  assert.match(final.statusLine, /^HTTP\/1\.1 200 /)
  assert.equal(final.body, 'OK\n')
  assert.notEqual(final.headers.connection, 'close', 'the connection stays usable')
  const stored = await httpGet(`${server.url}/packages/late/late-1.0.tar.gz`)
  assert.equal(stored.status, 200)
  assert.deepEqual(stored.body, bytes)
})

await test('a download sent with the expectation: the file without a 100 (there is no body to wait for), then the connection closes', async (t) => {
  const { server } = await setup(t)
  const client = await open(server)
  t.after(() => {
    client.socket.destroy()
  })
  client.socket.write(
    ['GET /packages/other/other-1.0.tar.gz HTTP/1.1', 'Host: 127.0.0.1', 'Expect: 100-continue', '', ''].join('\r\n'),
  )
  const first = await client.response()
  assert.match(first.statusLine, /^HTTP\/1\.1 200 /, `got ${first.statusLine}`)
  assert.equal(first.body, 'other')
  assert.equal(first.headers.connection, 'close')
  await client.ended
})
