// CrlfFraming: a bare-LF form (setuptools' upload_docs) comes out with CRLF framing that busboy
// reads, part contents byte for byte; a CRLF form passes untouched. Each body is also fed split
// at every byte, since a delimiter or a header line may straddle two chunks.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { Busboy } from '@fastify/busboy'
import { boundaryOf } from '../../src/upload/receive-form.js'
import { CrlfFraming } from '../../src/upload/crlf-framing.js'
import { noise } from '../helpers/test-bytes.js'
import { bareLfMultipart, multipart, type FormPart } from '../helpers/upload-form.js'

// Contents that end in CR, hold LFs and look like delimiters without being one.
const CONTENT = Buffer.concat([
  noise(3000, 5),
  Buffer.from('\n--not-the-boundary\n\r\n'),
  noise(50, 6),
  Buffer.from('\r'),
])
const PARTS: readonly FormPart[] = [
  { name: ':action', value: 'doc_upload' },
  { name: 'name', value: 'upl' },
  { name: 'content', filename: 'upl.zip', data: CONTENT },
]

async function framed(body: Buffer, contentType: string, split: number): Promise<Buffer> {
  const framing = new CrlfFraming(boundaryOf(contentType))
  const chunks: Buffer[] = []
  framing.on('data', (chunk: Buffer) => chunks.push(chunk))
  const done = new Promise((resolve) => framing.once('end', resolve))
  Readable.from([body.subarray(0, split), body.subarray(split)].filter((part) => part.length > 0)).pipe(framing)
  await done
  return Buffer.concat(chunks)
}

async function parse(
  body: Buffer,
  contentType: string,
): Promise<{ fields: Record<string, string>; files: Record<string, Buffer> }> {
  const fields: Record<string, string> = {}
  const files: Record<string, Buffer> = {}
  const busboy = Busboy({ headers: { 'content-type': contentType } })
  busboy.on('field', (name, value) => {
    fields[name] = value
  })
  busboy.on('file', (name, stream, filename) => {
    const parts: Buffer[] = []
    stream.on('data', (chunk: Buffer) => parts.push(chunk))
    stream.on('end', () => {
      files[`${name}:${filename}`] = Buffer.concat(parts)
    })
  })
  const finished = new Promise((resolve, reject) => {
    busboy.once('finish', resolve)
    busboy.once('error', reject)
  })
  busboy.end(body)
  await finished
  return { fields, files }
}

await test('a bare-LF form as setuptools sends it: busboy reads it after framing, contents unchanged, at every split', async () => {
  const { body, contentType } = bareLfMultipart(PARTS)
  await assert.rejects(parse(body, contentType), /Unexpected end of multipart data/, 'busboy cannot read it as it is')
  const expected = await parse(await framed(body, contentType, body.length), contentType)
  // setuptools sends a content ending in CR with an extra LF after it, which is part of the content then.
  assert.deepEqual(expected, {
    fields: { ':action': 'doc_upload', name: 'upl' },
    files: { 'content:upl.zip': Buffer.concat([CONTENT, Buffer.from('\n')]) },
  })
  const whole = await framed(body, contentType, body.length)
  for (let split = 0; split < body.length; split++) {
    assert.deepEqual(await framed(body, contentType, split), whole, `split at ${split}`)
  }
})

await test('a CRLF form passes byte for byte, at every split', async () => {
  const { body, contentType } = multipart(PARTS)
  for (let split = 0; split <= body.length; split += 7) {
    assert.deepEqual(await framed(body, contentType, split), body, `split at ${split}`)
  }
  const noBoundary = Buffer.from('not a form at all\n')
  assert.deepEqual(await framed(noBoundary, 'multipart/form-data; boundary=x', 3), noBoundary)
})

await test('boundaryOf reads quoted and plain boundaries', () => {
  assert.equal(boundaryOf('multipart/form-data; boundary=abc'), 'abc')
  assert.equal(boundaryOf('multipart/form-data; charset=utf-8; BOUNDARY="a b;c"'), 'a b;c')
  assert.equal(boundaryOf('multipart/form-data'), '')
})
