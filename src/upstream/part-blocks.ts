// Blocks of a part file read back for the clients that fell behind the bytes in memory, shared
// between them. The clients of one download move at about the same pace (they share the event
// loop and, usually, the network), so a block read for the first serves the next ones: no
// second read and no second buffer. With a buffer per client and read, 50 clients of one
// 200 MB file made 10 GB of garbage, and the process grew by the tens of MB the garbage
// collector lets such buffers pile up to before it runs (docs/benchmarks.md).

/** The bytes one read of the part file takes, from a multiple of this. */
export const PART_BLOCK = 256 * 1024

type Done = (err: Error | null, bytes: Buffer | undefined) => void

/** Reads `length` bytes at `start` into a new buffer (fewer at the end of what is written). */
export type ReadAt = (start: number, length: number, done: (err: Error | null, bytes: Buffer) => void) => void

export class PartBlocks {
  /** Blocks by index, least recently used first (a Map keeps insertion order). */
  readonly #blocks = new Map<number, Buffer>()
  /** Blocks being read, and who waits for them. */
  readonly #reading = new Map<number, (() => void)[]>()
  readonly #max: number

  constructor(maxBlocks: number) {
    this.#max = maxBlocks
  }

  /** Bytes held now (for tests). */
  get heldBytes(): number {
    let bytes = 0
    for (const block of this.#blocks.values()) bytes += block.length
    return bytes
  }

  /** The bytes from `position` (before `limit`, up to the end of its block), read once for everyone. */
  get(position: number, limit: number, read: ReadAt, done: Done): void {
    const index = Math.floor(position / PART_BLOCK)
    const start = index * PART_BLOCK
    const block = this.#blocks.get(index)
    if (block !== undefined && position < start + block.length) {
      // Most recently used now.
      this.#blocks.delete(index)
      this.#blocks.set(index, block)
      done(null, block.subarray(position - start))
      return
    }
    const waiting = this.#reading.get(index)
    if (waiting !== undefined) {
      waiting.push(() => {
        this.get(position, limit, read, done)
      })
      return
    }
    this.#reading.set(index, [])
    read(start, Math.min(PART_BLOCK, limit - start), (err, bytes) => {
      const waiters = this.#reading.get(index) ?? []
      this.#reading.delete(index)
      if (err !== null) {
        done(err, undefined)
      } else {
        this.#keep(index, bytes)
        if (position < start + bytes.length) done(null, bytes.subarray(position - start))
        else done(new Error('the part file ended before its written bytes'), undefined)
      }
      for (const retry of waiters) retry()
    })
  }

  /** Forget every block. */
  clear(): void {
    this.#blocks.clear()
  }

  #keep(index: number, bytes: Buffer): void {
    this.#blocks.delete(index)
    this.#blocks.set(index, bytes)
    for (const oldest of this.#blocks.keys()) {
      if (this.#blocks.size <= this.#max) break
      this.#blocks.delete(oldest)
    }
  }
}
