// SinkBuffers: a buffer is read into again only when nothing can still be sending from it; BufferPool keeps what finished streams give back, up to its bound.
// (The streams that use them are tested with real sockets: range-stream, s3-plain-get.)
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BufferPool, SinkBuffers } from '../../src/storage/sink-buffers.js'

await test('the other buffer is used again only when the sink and the stream hold no more than the last chunk', () => {
  const pool = new BufferPool(1024, 4)
  const sink = { writableLength: 0 }
  const buffers = new SinkBuffers(pool, sink)
  const first = buffers.next(0)
  buffers.pushed(first, 1024)
  // Written to the sink, not sent yet.
  sink.writableLength = 1024
  const second = buffers.next(0)
  assert.notEqual(second.buffer, first.buffer, 'the first is under the last chunk')
  buffers.pushed(second, 1024)
  // The sink still holds more than the last chunk: the first may still be sent from.
  sink.writableLength = 1500
  const third = buffers.next(0)
  assert.ok(third.buffer !== first.buffer && third.buffer !== second.buffer, 'a new buffer')
  // No more than the last chunk: every earlier one has been sent.
  sink.writableLength = 1024
  assert.equal(buffers.next(0).buffer, first.buffer)
  // What waits in the stream counts as unsent too: the last chunk whole, or more than it.
  sink.writableLength = 0
  assert.equal(buffers.next(1024).buffer, first.buffer)
  assert.ok(buffers.next(1025).buffer !== first.buffer)
  sink.writableLength = 600
  assert.ok(buffers.next(500).buffer !== first.buffer, '1,100 bytes unsent: the first is busy')
  assert.equal(pool.allocated, 2, 'the buffers made when both were busy are not kept')
})

await test('with more buffers, reads that outrun the sink go on into kept ones, each freed once sent', () => {
  const pool = new BufferPool(100, 8)
  const sink = { writableLength: 0 }
  const buffers = new SinkBuffers(pool, sink, 4)
  // Four chunks of 100 pushed while the sink sends nothing: four kept buffers, all busy.
  const kept: Buffer[] = []
  for (let i = 0; i < 4; i++) {
    const buffer = buffers.next(0)
    assert.ok(!kept.some((k) => k.buffer === buffer.buffer), 'a buffer under no unsent chunk')
    kept.push(buffer)
    buffers.pushed(buffer, 100)
    sink.writableLength += 100
  }
  assert.equal(pool.allocated, 4)
  assert.ok(!kept.some((k) => k.buffer === buffers.next(0).buffer), 'all four busy: a new one')
  assert.equal(pool.allocated, 4, 'not kept')
  // The sink sends the first two chunks: their buffers are read into again, in any order.
  sink.writableLength = 200
  const again = buffers.next(0)
  assert.ok(again.buffer === kept[0]?.buffer || again.buffer === kept[1]?.buffer)
  buffers.pushed(again, 50)
  sink.writableLength += 50
  const other = buffers.next(0)
  assert.ok(other.buffer !== again.buffer && (other.buffer === kept[0]?.buffer || other.buffer === kept[1]?.buffer))
  // A read that pushed less than a buffer: only its bytes count.
  sink.writableLength = 50
  const afterAll = buffers.next(0)
  assert.ok(afterAll.buffer !== again.buffer, 'the last chunk is still being sent')
  assert.equal(pool.allocated, 4)
  buffers.giveBack()
  assert.equal(new SinkBuffers(pool, sink, 4).next(0).buffer, kept[3]?.buffer, 'given back to the pool')
})

await test('a pool gives back what it kept, up to its bound, and makes new ones past it', () => {
  const pool = new BufferPool(16, 2)
  const made = [pool.take(), pool.take(), pool.take()]
  assert.equal(pool.allocated, 3)
  pool.give(made)
  const again = [pool.take(), pool.take(), pool.take()]
  assert.equal(pool.allocated, 4, 'two came back, the third was let go')
  assert.equal(new Set([...made, ...again].map((b) => b.buffer)).size, 4)
  const buffers = new SinkBuffers(pool, { writableLength: 0 })
  pool.give(again.slice(0, 1))
  assert.equal(buffers.next(0).buffer, again[0]?.buffer, 'a stream takes its buffers from the pool')
})
