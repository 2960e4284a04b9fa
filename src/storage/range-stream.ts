// A readable stream of one byte range of an open file that never closes the file.
// Node's FileHandle.createReadStream closes the whole FileHandle when the stream is destroyed,
// whatever autoClose says, and leaves a 'close' listener on the handle per stream; random
// access (a zip's central directory, then a member) needs several streams on one file.
// Reads go through the callback fs.read on the descriptor (the promise API costs an extra
// allocation and promise per chunk), or fs.readSync in a worker thread, where blocking costs
// nobody anything and saves the round trips through libuv's thread pool.
import { read, readSync } from 'node:fs'
import { Readable } from 'node:stream'
import { BufferPool, SinkBuffers } from './sink-buffers.js'
import type { StreamSink } from './storage.js'

// The first read is the size of an fs read stream's; each next one doubles, up to 1 MiB: small
// files and zip lookups read little, and a large download makes few, big reads and writes
// (with 64 KiB chunks a large download ran at 0.45 of nginx's sendfile, with 1 MiB at 0.8).
const FIRST_CHUNK = 64 * 1024
const MAX_CHUNK = 1024 * 1024
// 1 MiB read buffers given back by finished downloads (createRangeStream with a sink).
const pool = new BufferPool(MAX_CHUNK, 16)

/**
 * Stream bytes [start, end] (inclusive) of descriptor `fd`; stops early if the file is shorter.
 * With `sink`, what the stream is piped to: see below.
 */
export function createRangeStream(
  fd: number,
  start: number,
  end: number,
  blocking = false,
  sink?: StreamSink,
): Readable {
  let position = start
  let chunk = FIRST_CHUNK
  // A new buffer per read makes a large download leave some 2,000 dead 1 MiB buffers a second
  // behind it (about 40 MB of the peak RSS of 4 such downloads). With a sink, two 1 MiB buffers
  // are read into in turn (sink-buffers.ts says when one is free). The Readable reads one chunk
  // ahead while the sink sends the last; with blocking reads the last chunk may still wait in
  // this stream instead (Readable.read() asks for the next chunk before it takes the one it
  // returns out of its buffer; chunks leave it whole).
  const buffers = sink === undefined ? undefined : new SinkBuffers(pool, sink)
  let reading = false
  const take = (length: number, queued: number): Buffer =>
    buffers === undefined ? Buffer.allocUnsafeSlow(length) : buffers.next(queued).subarray(0, length)
  const stream = new Readable({
    highWaterMark: FIRST_CHUNK,
    read() {
      const length = Math.min(chunk, end - position + 1)
      chunk = Math.min(chunk * 2, MAX_CHUNK)
      if (length <= 0) {
        this.push(null)
        return
      }
      const buffer = take(length, this.readableLength)
      reading = true
      const done = (err: Error | null, bytesRead: number): void => {
        reading = false
        if (err !== null) {
          this.destroy(err)
        } else if (bytesRead === 0) {
          // The file is shorter than it was when opened (truncated in place): end here.
          this.push(null)
        } else {
          position += bytesRead
          buffers?.pushed(buffer, bytesRead)
          this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))
        }
      }
      if (!blocking) {
        read(fd, buffer, 0, length, position, done)
        return
      }
      let bytesRead: number
      try {
        bytesRead = readSync(fd, buffer, 0, length, position)
      } catch (err) {
        done(err instanceof Error ? err : new Error(String(err)), 0)
        return
      }
      done(null, bytesRead)
    },
  })
  // Given back once the sink has sent everything ('finish': its last write is done, and with
  // it every earlier one) after this stream ended, so no read is still filling one. A download
  // cut short keeps them: they go with it.
  sink?.once('finish', () => {
    if (!stream.readableEnded || reading) return
    buffers?.giveBack()
  })
  return stream
}

/** Bytes [start, end] (inclusive) of descriptor `fd` in one buffer (fewer if the file is shorter). */
export function readRange(fd: number, start: number, end: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(Math.max(0, end - start + 1))
  if (buffer.length === 0) return Promise.resolve(buffer)
  return new Promise((resolve, reject) => {
    read(fd, buffer, 0, buffer.length, start, (err, bytesRead) => {
      if (err !== null) reject(err)
      else resolve(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead))
    })
  })
}

/**
 * Read up to `buffer.length` bytes of descriptor `fd` from `position` into `buffer`: the count
 * read, 0 at the end of the file. `blocking` as for createRangeStream().
 */
export function readInto(fd: number, buffer: Buffer, position: number, blocking = false): Promise<number> {
  if (blocking) {
    try {
      return Promise.resolve(readSync(fd, buffer, 0, buffer.length, position))
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }
  return new Promise((resolve, reject) => {
    read(fd, buffer, 0, buffer.length, position, (err, bytesRead) => {
      if (err !== null) reject(err)
      else resolve(bytesRead)
    })
  })
}
