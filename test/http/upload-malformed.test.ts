// Malformed and truncated multipart bodies through inject: every one is a 400 with nothing
// written, the app keeps answering, and no 'error' goes unheard (busboy re-emits a part cut
// off early on its file stream; an unheard 'error' would end the process and this run).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildTestApp } from '../helpers/build-app.js'
import { buildWheel } from '../helpers/distributions.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { multipart, snapshot, tempFiles, type FormPart } from '../helpers/upload-form.js'
import { cutFormCases, ISSUE_BODY, MALFORMED_FORMS } from '../helpers/malformed-forms.js'

const WHEEL = buildWheel({ name: 'cut', version: '1.0' })
const PARTS: readonly FormPart[] = [
  { name: ':action', value: 'file_upload' },
  { name: 'name', value: 'cut' },
  { name: 'version', value: '1.0' },
  { name: 'content', filename: WHEEL.filename, data: WHEEL.bytes, contentType: 'application/octet-stream' },
]

async function uploadApp(t: Parameters<typeof tempDir>[0]): Promise<{ app: FastifyInstance; root: string }> {
  const root = await tempDir(t)
  await writeTree(root, { 'other/other-1.0.tar.gz': 'other' })
  const { app } = await buildTestApp(t, { root, uploads: {} })
  return { app, root }
}

function send(app: FastifyInstance, body: Buffer, contentType: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/', payload: body, headers: { 'content-type': contentType } })
}

await describe('truncated and malformed multipart bodies (inject)', async () => {
  await test("the issue's body (the file part never closed): 400, nothing written, still serving", async (t) => {
    const { app, root } = await uploadApp(t)
    const before = await snapshot(root)
    const res = await send(app, ISSUE_BODY.body, ISSUE_BODY.contentType)
    assert.equal(res.statusCode, 400, res.body)
    assert.match(res.body, /^Malformed multipart form: /)
    assert.deepEqual(await snapshot(root), before)
    assert.equal((await app.inject('/simple/other/')).statusCode, 200)
  })

  await test('a valid upload cut off at every byte: 400 and nothing written, until only the final CRLF is missing', async (t) => {
    const { app, root } = await uploadApp(t)
    const before = await snapshot(root)
    const { body, contentType } = multipart(PARTS)
    const { cuts, closed } = cutFormCases(body)
    const statuses = new Map<number, number>()
    for (const cut of cuts) {
      const res = await send(app, body.subarray(0, cut), contentType)
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      if (cut < closed) {
        assert.equal(res.statusCode, 400, `cut at ${cut}/${body.length}: ${res.body}`)
        assert.deepEqual(await tempFiles(root), [], `cut at ${cut}`)
      } else {
        assert.equal(res.statusCode, 200, `cut at ${cut}/${body.length} (after the closing delimiter): ${res.body}`)
      }
    }
    t.diagnostic(`${cuts.length} cuts: ${JSON.stringify(Object.fromEntries(statuses))}`)
    const after = await snapshot(root)
    after.delete(`cut/${WHEEL.filename}`)
    assert.deepEqual(after, before, 'only the complete upload was stored')
    assert.equal((await app.inject('/simple/other/')).statusCode, 200)
  })

  for (const form of MALFORMED_FORMS) {
    await test(`${form.title}: 400, nothing written`, async (t) => {
      const { app, root } = await uploadApp(t)
      const before = await snapshot(root)
      const res = await send(app, form.body, form.contentType)
      assert.equal(res.statusCode, 400, res.body)
      assert.match(res.body.trim(), form.reason)
      assert.deepEqual(await snapshot(root), before)
      assert.equal((await app.inject('/simple/other/')).statusCode, 200)
    })
  }
})
