// A readable stream of one byte range of an open file that never closes the file.
// Node's FileHandle.createReadStream closes the whole FileHandle when the stream is destroyed,
// whatever autoClose says, and leaves a 'close' listener on the handle per stream; random
// access (a zip's central directory, then a member) needs several streams on one file.
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
      const length = Math.min(Math.max(size, 1), CHUNK, end - position + 1)
      if (length <= 0) {
        this.push(null)
        return
      }
      const buffer = Buffer.allocUnsafe(length)
      handle.read(buffer, 0, length, position).then(({ bytesRead }) => {
        if (bytesRead === 0) {
          // The file is shorter than it was when opened (truncated in place): end here.
          this.push(null)
          return
        }
        position += bytesRead
        this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))
      }, (err: unknown) => {
        this.destroy(err instanceof Error ? err : new Error(String(err)))
      })
    },
  })
}
