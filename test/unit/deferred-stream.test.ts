// startedStream(): the source made before anyone reads, the stream handed over only once it is
// there; a source that cannot be made rejects the promise and leaves no stream failing unheard.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { test } from 'node:test'
import { startedStream } from '../../src/storage/deferred-stream.js'

const OPTIONS = { highWaterMark: 16, failure: (err: unknown) => new Error(`failed: ${String(err)}`) }

await test('the source is made at once, and its bytes are read after', async () => {
  let made = 0
  const stream = await startedStream(() => {
    made += 1
    return Promise.resolve(Readable.from([Buffer.from('abc'), Buffer.from('def')]))
  }, OPTIONS)
  assert.equal(made, 1, 'made before the first read')
  assert.equal(await text(stream), 'abcdef')
  assert.equal(made, 1, 'and only once')
})

await test('a source pushed into before the stream is read keeps its bytes and its backpressure', async () => {
  const pushed: boolean[] = []
  let resumed = 0
  const stream = await startedStream((target) => {
    for (const part of ['0123456789', '0123456789', 'end']) pushed.push(target.push(Buffer.from(part)))
    target.push(null)
    return Promise.resolve({
      resume: () => {
        resumed += 1
      },
      destroy: () => undefined,
    })
  }, OPTIONS)
  assert.deepEqual(pushed, [true, false, false], 'told to stop past the high-water mark')
  assert.equal(await text(stream), '01234567890123456789end')
  assert.ok(resumed >= 1)
})

await test('a source that cannot be made: the promise rejects with its own error, no error event', async () => {
  const refused = new Error('412')
  const errors: unknown[] = []
  const onUncaught = (err: unknown): void => {
    errors.push(err)
  }
  process.on('uncaughtException', onUncaught)
  try {
    await assert.rejects(
      startedStream(() => Promise.reject(refused), OPTIONS),
      (err) => err === refused,
    )
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('uncaughtException', onUncaught)
  }
  assert.deepEqual(errors, [])
})
