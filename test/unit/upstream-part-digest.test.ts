// DigestWorker: the digests of a part file computed in a worker thread as its writes come in,
// equal to node:crypto's over the same bytes; the thread goes when idle and comes back with
// the next file.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { appendFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { DigestWorker } from '../../src/upstream/part-digest.js'
import { tempDir } from '../helpers/temp-tree.js'

await test('digests of a file hashed as it is written; the idle thread stops and starts again', async (t) => {
  const dir = await tempDir(t)
  const workers = new DigestWorker({ idleMs: 20 })
  t.after(() => workers.close())
  const content = randomBytes(5 * 1024 * 1024 + 17)
  const path = join(dir, '.x.part')
  await writeFile(path, '')
  const digest = workers.hash(path, ['sha256', 'md5'])
  // Written in uneven steps, each announced once it is on the file.
  for (let at = 0; at < content.length; at += 700_001) {
    const end = Math.min(content.length, at + 700_001)
    await appendFile(path, content.subarray(at, end))
    digest.written(end)
  }
  assert.deepEqual(await digest.finish(content.length), [
    createHash('sha256').update(content).digest('hex'),
    createHash('md5').update(content).digest('hex'),
  ])
  for (let i = 0; i < 200 && workers.running; i++) await new Promise((resolve) => setTimeout(resolve, 25))
  assert.equal(workers.running, false, 'an idle thread goes')
  const again = workers.hash(path, ['sha256'])
  assert.ok(workers.running)
  assert.deepEqual(await again.finish(content.length), [createHash('sha256').update(content).digest('hex')])
  // A file shorter than announced fails instead of giving a digest.
  const short = workers.hash(path, ['sha256'])
  await assert.rejects(short.finish(content.length + 1), /shorter than the bytes written/)
})
