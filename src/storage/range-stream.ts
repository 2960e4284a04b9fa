// A readable stream of one byte range of an open file that never closes the file.
// Node's FileHandle.createReadStream closes the whole FileHandle when the stream is destroyed,
// whatever autoClose says, and leaves a 'close' listener on the handle per stream; random
// access (a zip's central directory, then a member) needs several streams on one file.
// Reads go through the callback fs.read on the descriptor (the promise API costs an extra
// allocation and promise per chunk), or fs.readSync in a worker thread, where blocking costs
// nobody anything and saves the round trips through libuv's thread pool.
import { read, readSync } from 'node:fs'
import { Readable } from 'node:stream'

// The first read is the size of an fs read stream's; each next one doubles, up to 1 MiB: small
// files and zip lookups read little, and a large download makes few, big reads and writes
// (with 64 KiB chunks a large download ran at 0.45 of nginx's sendfile, with 1 MiB at 0.8).
const FIRST_CHUNK = 64 * 1024
const MAX_CHUNK = 1024 * 1024

/** Stream bytes [start, end] (inclusive) of descriptor `fd`; stops early if the file is shorter. */
export function createRangeStream(fd: number, start: number, end: number, blocking = false): Readable {
  let position = start
  let chunk = FIRST_CHUNK
  return new Readable({
    highWaterMark: FIRST_CHUNK,
    read() {
      const length = Math.min(chunk, end - position + 1)
      chunk = Math.min(chunk * 2, MAX_CHUNK)
      if (length <= 0) {
        this.push(null)
        return
      }
      const buffer = Buffer.allocUnsafeSlow(length)
      const done = (err: Error | null, bytesRead: number): void => {
        if (err !== null) {
          this.destroy(err)
        } else if (bytesRead === 0) {
          // The file is shorter than it was when opened (truncated in place): end here.
          this.push(null)
        } else {
          position += bytesRead
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
