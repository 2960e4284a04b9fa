// createRangeStream() piped to a real HTTP response over a real socket: with the response as its
// sink it reads into buffers it reuses, and every client still gets exactly the file's bytes,
// also one that reads slowly (the socket full, the response holding bytes).
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { openSync, closeSync, writeFileSync } from 'node:fs'
import { createServer, get, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createRangeStream } from '../../src/storage/range-stream.js'
import { tempDir } from '../helpers/temp-tree.js'

const SIZE = 24 * 1024 * 1024 + 12_345

/** Serve the file once per request; counts the distinct memory blocks the stream's chunks used. */
async function serve(
  t: test.TestContext,
  path: string,
  options: { sink: boolean; blocking: boolean },
): Promise<{ url: string; blocks: Set<ArrayBufferLike> }> {
  const blocks = new Set<ArrayBufferLike>()
  const server = createServer((_request, response) => {
    const fd = openSync(path, 'r')
    const stream = createRangeStream(fd, 0, SIZE - 1, options.blocking, options.sink ? response : undefined)
    stream.on('data', (chunk: Buffer) => blocks.add(chunk.buffer))
    stream.once('close', () => {
      closeSync(fd)
    })
    response.setHeader('content-length', SIZE)
    stream.pipe(response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, blocks }
}

/** Download `url`; a slow client stops reading for a moment every few chunks. */
async function download(url: string, slow: boolean): Promise<string> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => get(url, resolve).once('error', reject))
  const hash = createHash('sha256')
  let chunks = 0
  for await (const chunk of response) {
    hash.update(chunk as Buffer)
    if (slow && ++chunks % 8 === 0) await sleep(2)
  }
  return hash.digest('hex')
}

await test('a range stream with its response as sink', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'big.whl')
  const bytes = randomBytes(SIZE)
  writeFileSync(path, bytes)
  const expected = createHash('sha256').update(bytes).digest('hex')

  for (const blocking of [false, true])
    await t.test(
      `reuses its buffers, and every client gets the file's bytes (blocking reads: ${blocking})`,
      async (t) => {
        const { url, blocks } = await serve(t, path, { sink: true, blocking })
        assert.equal(await download(url, false), expected)
        assert.equal(await download(url, true), expected, 'a slow client')
        assert.deepEqual(await Promise.all([download(url, true), download(url, false)]), [expected, expected])
        // Four downloads of 25 chunks each: two buffers per download at most, taken from those
        // finished downloads gave back, and a one-off only when the response held more than the
        // last chunk at a read.
        assert.ok(blocks.size < 12, `${blocks.size} buffers for 4 downloads`)
      },
    )

  await t.test('without a sink, a buffer per read (what the sink saves)', async (t) => {
    const { url, blocks } = await serve(t, path, { sink: false, blocking: false })
    assert.equal(await download(url, false), expected)
    assert.ok(blocks.size >= 25, `${blocks.size} buffers for one download`)
  })
})
