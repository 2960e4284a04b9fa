// PartBlocks: the clients behind a download's bytes in memory share what is read back of the
// part file, a real file here: one read per block however many clients ask for it, even at once,
// and a bounded number of blocks kept.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, read, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { PART_BLOCK, PartBlocks, type ReadAt } from '../../src/upstream/part-blocks.js'
import { tempDir } from '../helpers/temp-tree.js'

await test('clients read each block of the part file once, and the blocks kept are bounded', async (t) => {
  const dir = await tempDir(t)
  const content = randomBytes(4 * PART_BLOCK + 1234)
  const path = join(dir, 'f.part')
  writeFileSync(path, content)
  const fd = openSync(path, 'r')
  t.after(() => {
    closeSync(fd)
  })
  const reads: number[] = []
  const readAt: ReadAt = (start, length, done) => {
    reads.push(start)
    const buffer = Buffer.allocUnsafe(length)
    read(fd, buffer, 0, length, start, (err, bytesRead) => {
      done(err, buffer.subarray(0, bytesRead))
    })
  }
  const blocks = new PartBlocks(2)
  const get = (position: number): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      blocks.get(position, content.length, readAt, (err, bytes) => {
        if (err !== null || bytes === undefined) reject(err ?? new Error('no bytes'))
        else resolve(bytes)
      })
    })
  // Three clients in step, each reading the whole file; the first two ask at once.
  const positions = [0, 0, 0]
  while (positions.some((p) => p < content.length)) {
    const got = await Promise.all(positions.map((p) => (p < content.length ? get(p) : Promise.resolve(undefined))))
    got.forEach((bytes, i) => {
      const at = positions[i] ?? 0
      if (bytes === undefined) return
      assert.ok(bytes.equals(content.subarray(at, at + bytes.length)), `client ${String(i)} at ${String(at)}`)
      positions[i] = at + bytes.length
    })
  }
  assert.deepEqual(
    reads,
    [0, 1, 2, 3, 4].map((i) => i * PART_BLOCK),
    'one read per block',
  )
  assert.ok(blocks.heldBytes <= 2 * PART_BLOCK, `${String(blocks.heldBytes)} bytes held`)
  // A client far behind the blocks kept reads its block again.
  assert.ok((await get(10)).equals(content.subarray(10, PART_BLOCK)))
  assert.equal(reads.at(-1), 0)
  // A block read short (the part file was written only that far) is read again further on.
  const partial = new PartBlocks(2)
  const first = await new Promise<Buffer | undefined>((resolve) => {
    partial.get(PART_BLOCK, PART_BLOCK + 100, readAt, (_err, bytes) => {
      resolve(bytes)
    })
  })
  assert.equal(first?.length, 100)
  const more = await new Promise<Buffer | undefined>((resolve) => {
    partial.get(PART_BLOCK + 100, content.length, readAt, (_err, bytes) => {
      resolve(bytes)
    })
  })
  assert.ok(more?.equals(content.subarray(PART_BLOCK + 100, 2 * PART_BLOCK)))
})
