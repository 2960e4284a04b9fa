// Truncated and malformed upload bodies against the real daemon on a real socket: each one is
// answered (400) or dropped (a client that hangs up), nothing is written, and a download in
// flight meanwhile goes on to its last byte. Before the fix one such body ended the process.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { cutFormCases, ISSUE_BODY, MALFORMED_FORMS } from '../helpers/malformed-forms.js'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { httpGet, openRequest, pollUntil, startServer } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { noise } from '../helpers/test-bytes.js'
import { multipart, snapshot, tempFiles } from '../helpers/upload-form.js'

const WHEEL = buildWheel({ name: 'cut', version: '1.0' })
// Larger than the loopback socket buffers, so the download is really in flight throughout.
const BIG = { filename: 'big-1.0.tar.gz', bytes: noise(32 * 1024 * 1024, 11) }

/** POST `body` with a correct Content-Length; resolves with the status and body of the answer. */
async function post(url: string, body: Buffer, contentType: string): Promise<{ status: number; text: string }> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(
      `${url}/`,
      { method: 'POST', agent: false, headers: { 'content-type': contentType, 'content-length': body.length } },
      resolve,
    )
    req.once('error', reject)
    req.end(body)
  })
  const chunks: Buffer[] = []
  for await (const chunk of response) chunks.push(chunk as Buffer)
  return { status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }
}

/** Announce all of `body`, send only `sent` bytes of it, then hang up. */
async function postAndHangUp(url: string, body: Buffer, contentType: string, sent: number): Promise<void> {
  const req = httpRequest(`${url}/`, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': contentType, 'content-length': body.length },
  })
  req.on('error', () => undefined)
  await new Promise<void>((resolve) => {
    req.write(body.subarray(0, sent), () => {
      resolve()
    })
  })
  req.destroy()
}

await test('truncated and malformed bodies on a real socket: 400s, nothing written, the server and a download in flight go on', async (t) => {
  const eggdir = await tempDir(t, 'eggserve-malformed-')
  await writeTree(eggdir, { 'other/other-1.0.tar.gz': 'other' })
  await writeDist(join(eggdir, 'big'), BIG)
  const server = await startServer(t, { eggdir, args: ['--authenticate', '.'] })
  const before = await snapshot(eggdir)

  // A download that reads nothing until the end: it sits in flight the whole time.
  const download = await openRequest(`${server.url}/big/${BIG.filename}`)
  assert.equal(download.statusCode, 200)
  download.pause()
  const { body, contentType } = multipart([
    { name: ':action', value: 'file_upload' },
    { name: 'name', value: 'cut' },
    { name: 'version', value: '1.0' },
    { name: 'content', filename: WHEEL.filename, data: WHEEL.bytes, contentType: 'application/octet-stream' },
  ])

  // Should a check below fail, the paused download is dropped at once: the server's graceful stop
  // waits for responses in flight, and this one would never end (the test hung instead of failing).
  try {
    const issue = await post(server.url, ISSUE_BODY.body, ISSUE_BODY.contentType)
    assert.equal(issue.status, 400, issue.text)
    assert.match(issue.text, /^Malformed multipart form: /)

    for (const form of MALFORMED_FORMS) {
      const res = await post(server.url, form.body, form.contentType)
      assert.equal(res.status, 400, `${form.title}: ${res.text}`)
      assert.match(res.text.trim(), form.reason, form.title)
    }

    const { cuts, closed } = cutFormCases(body)
    for (const cut of cuts.filter((at) => at < closed)) {
      const res = await post(server.url, body.subarray(0, cut), contentType)
      assert.equal(res.status, 400, `cut at ${cut}/${body.length}: ${res.text}`)
    }
    // Clients that announce the whole body and hang up part-way: no answer is possible, nothing is kept.
    for (let sent = 0; sent < body.length; sent += 61) await postAndHangUp(server.url, body, contentType, sent)
    t.diagnostic(`${cuts.length} cut bodies answered, ${Math.ceil(body.length / 61)} hang-ups`)

    assert.ok(
      (await pollUntil(async () => (await tempFiles(eggdir)).length === 0, 5000)) !== undefined,
      `temporary files left: ${(await tempFiles(eggdir)).join(', ')}`,
    )
    assert.deepEqual(await snapshot(eggdir), before, 'nothing written')
    assert.equal((await httpGet(`${server.url}/simple/other/`)).status, 200, 'still serving')
  } catch (err) {
    download.destroy()
    throw err
  }

  const chunks: Buffer[] = []
  for await (const chunk of download) chunks.push(chunk as Buffer)
  const received = Buffer.concat(chunks)
  assert.equal(received.length, BIG.bytes.length, 'the download in flight completed')
  assert.equal(
    createHash('sha256').update(received).digest('hex'),
    createHash('sha256').update(BIG.bytes).digest('hex'),
  )

  // The complete form is still stored afterwards.
  const whole = await post(server.url, body, contentType)
  assert.equal(whole.status, 200, whole.text)
  assert.equal(server.stderr, '')
  assert.equal(await server.stop(), 0)
})
