// ReadBuffers: when a reader's buffer may be filled again. A buffer still being sent must never
// be lent: the one handed out last (it may wait in the reader's stream), and any while the sink
// holds bytes. The sink here is a real Writable whose writes complete when the test says so.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Writable } from 'node:stream'
import { ReadBuffers } from '../../src/upstream/read-buffers.js'

/** A Writable whose writes complete only when `release()` is called. */
function slowSink(highWaterMark = 1): { sink: Writable; release: () => void } {
  const pending: (() => void)[] = []
  const sink = new Writable({
    highWaterMark,
    write(_chunk, _encoding, callback) {
      pending.push(callback)
    },
  })
  return {
    sink,
    release: () => {
      for (const callback of pending.splice(0)) callback()
    },
  }
}

/** Take two buffers and hand each out, as a reader does with the chunks it reads into them. */
async function handOutTwo(buffers: ReadBuffers): Promise<[Buffer, Buffer]> {
  const handOut = async (): Promise<Buffer> => {
    const { buffer } = await buffers.take()
    buffers.handOut(buffer)
    return buffer
  }
  return [await handOut(), await handOut()]
}

await test('without a sink every read gets a new buffer', async () => {
  const buffers = new ReadBuffers(16, undefined)
  const a = await buffers.take()
  buffers.handOut(a.buffer)
  const b = await buffers.take()
  assert.equal(a.fresh && b.fresh, true)
  assert.notEqual(a.buffer.buffer, b.buffer.buffer)
})

await test('with an idle sink two buffers take turns, never the one handed out last', async () => {
  const { sink } = slowSink()
  const buffers = new ReadBuffers(16, sink)
  const seen = new Set<ArrayBufferLike>()
  let last: ArrayBufferLike | undefined
  for (let i = 0; i < 6; i++) {
    const { buffer } = await buffers.take()
    assert.notEqual(buffer.buffer, last, 'the chunk handed out last may still wait in the stream')
    buffers.handOut(buffer.subarray(0, 8))
    last = buffer.buffer
    seen.add(buffer.buffer)
  }
  assert.equal(seen.size, 2)
})

await test('while the sink holds bytes and waits for drain, the read waits; then a kept buffer is lent', async () => {
  const { sink, release } = slowSink()
  const buffers = new ReadBuffers(16, sink)
  const [first] = await handOutTwo(buffers)
  // The first buffer goes to the sink and stays there until released.
  assert.equal(sink.write(first), false)
  let lent: Buffer | undefined
  const taking = buffers.take().then(({ buffer }) => {
    lent = buffer
  })
  // Read through a function: the assertions below must not narrow what the promise sets later.
  const lentNow = (): Buffer | undefined => lent
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(lentNow(), undefined, 'not lent while the sink still sends it')
  release()
  await taking
  assert.equal(lentNow()?.buffer, first.buffer, 'lent again once sent')
})

await test('while the sink holds bytes without waiting for drain, a new buffer is taken', async () => {
  // Below its highWaterMark: a write that is still under way asks for no 'drain'.
  const { sink } = slowSink(1024)
  const buffers = new ReadBuffers(16, sink)
  const [first, second] = await handOutTwo(buffers)
  assert.equal(sink.write(first), true)
  assert.equal(sink.writableLength, 16)
  const third = await buffers.take()
  assert.equal(third.fresh, true)
  assert.notEqual(third.buffer.buffer, first.buffer, 'the buffer being sent is not lent')
  assert.notEqual(third.buffer.buffer, second.buffer)
})
