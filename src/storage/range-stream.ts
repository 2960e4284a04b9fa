// A readable stream of one byte range of an open file that never closes the file.
// Node's FileHandle.createReadStream closes the whole FileHandle when the stream is destroyed,
// whatever autoClose says, and leaves a 'close' listener on the handle per stream; random
// access (a zip's central directory, then a member) needs several streams on one file.
// Reads go through the callback fs.read on the descriptor: the promise API costs an extra
// allocation and promise per chunk, which shows on large downloads.
import { read } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { Readable } from 'node:stream'

// The chunk size of fs read streams.
const CHUNK = 64 * 1024

/** Stream bytes [start, end] (inclusive) of `handle`; stops early if the file is shorter. */
export function createRangeStream (handle: FileHandle, start: number, end: number): Readable {
  let position = start
  return new Readable({
    highWaterMark: CHUNK,
    read (size) {
      const length = Math.min(Math.max(size, CHUNK), end - position + 1)
      if (length <= 0) {
        this.push(null)
        return
      }
      const buffer = Buffer.allocUnsafeSlow(length)
      read(handle.fd, buffer, 0, length, position, (err, bytesRead) => {
        if (err !== null) {
          this.destroy(err)
        } else if (bytesRead === 0) {
          // The file is shorter than it was when opened (truncated in place): end here.
          this.push(null)
        } else {
          position += bytesRead
          this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))
        }
      })
    },
  })
}
