// SinkBuffers: the buffer not under the last chunk is read into again only when nothing can
// still be sending from it; BufferPool keeps what finished streams give back, up to its bound.
// (The streams that use them are tested with real sockets: range-stream, s3-plain-get.)
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BufferPool, SinkBuffers } from '../../src/storage/sink-buffers.js'

await test('the other buffer is used again only when the sink holds no more than the last chunk', () => {
  const pool = new BufferPool(1024, 4)
  const sink = { writableLength: 0 }
  const buffers = new SinkBuffers(pool, sink)
  const first = buffers.next(0)
  buffers.pushed(first, 1024)
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
  // A chunk still waiting in the stream makes the other buffer busy too, unless it is the last
  // one, whole, and the sink holds nothing.
  sink.writableLength = 0
  assert.ok(buffers.next(500).buffer !== first.buffer)
  assert.equal(buffers.next(1024).buffer, first.buffer)
  assert.equal(pool.allocated, 2, 'the buffer made when both were busy is not kept')
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
