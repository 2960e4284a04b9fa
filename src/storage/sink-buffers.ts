// Read buffers used again instead of a new one per read. A stream that reads a large body (a
// file, an object from the store) into a new buffer per read leaves thousands of dead buffers a
// second behind it, which V8 frees only when its external-memory trigger runs a collection:
// tens of MB of peak RSS under a few large downloads (docs/benchmarks.md, "Memory").

/**
 * Buffers of one size given back by finished streams, for the next ones. A stream's own buffers
 * would live as long as it does, long enough to be promoted with it and freed only by a full
 * collection, so a busy server would hold many dead ones; a pool keeps a few alive instead.
 */
export class BufferPool {
  readonly size: number
  readonly #max: number
  readonly #spares: Buffer[] = []
  /** Buffers allocated by take() so far (for tests: reused ones are not counted). */
  allocated = 0

  constructor(size: number, max: number) {
    this.size = size
    this.#max = max
  }

  /** A spare, or a new buffer of `size`. */
  take(): Buffer {
    const spare = this.#spares.pop()
    if (spare !== undefined) return spare
    this.allocated++
    // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared pool.
    return Buffer.allocUnsafeSlow(this.size)
  }

  /** Buffers nothing reads or sends any more; kept up to the pool's bound, the rest let go. */
  give(buffers: readonly Buffer[]): void {
    for (const buffer of buffers) if (this.#spares.length < this.#max) this.#spares.push(buffer)
  }
}

/** What a stream is piped to (a ServerResponse): the bytes written to it not sent yet. */
interface Sink {
  readonly writableLength: number
}

/**
 * Two buffers of a pool read into in turn by one stream piped to `sink`. A chunk pushed stays in
 * the stream (its readableLength) or in the sink, which keeps the buffers written to it (node:http
 * and the socket keep them, not copies) and counts their bytes in its writableLength until sent,
 * in order. So the buffer not under the chunk pushed last is free when no chunk waits in the
 * stream and the sink holds no more than that last chunk, or when that last chunk still waits in
 * the stream whole and the sink holds nothing. Otherwise a new buffer, not kept.
 */
export class SinkBuffers {
  readonly #pool: BufferPool
  readonly #sink: Sink
  readonly #kept: Buffer[] = []
  #last: { readonly block: ArrayBufferLike; readonly length: number } | undefined

  constructor(pool: BufferPool, sink: Sink) {
    this.#pool = pool
    this.#sink = sink
  }

  /** A buffer of the pool's size to read into; `queued`: the bytes waiting in the stream. */
  next(queued: number): Buffer {
    const last = this.#last
    const lastOnly =
      last !== undefined &&
      ((queued === 0 && this.#sink.writableLength <= last.length) ||
        (queued === last.length && this.#sink.writableLength === 0))
    if (lastOnly) {
      const free = this.#kept.find((buffer) => buffer.buffer !== last.block)
      if (free !== undefined) return free
    }
    if (this.#kept.length === 2) return Buffer.allocUnsafeSlow(this.#pool.size)
    const buffer = this.#pool.take()
    this.#kept.push(buffer)
    return buffer
  }

  /** `bytes` were just read into `buffer` and are being pushed (as it or a part of it). */
  pushed(buffer: Buffer, bytes: number): void {
    this.#last = { block: buffer.buffer, length: bytes }
  }

  /** Back to the pool: only once nothing reads into them or sends from them any more. */
  giveBack(): void {
    this.#pool.give(this.#kept.splice(0))
  }
}
