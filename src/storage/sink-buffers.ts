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
 * Buffers of a pool read into in turn by one stream piped to `sink`: two by default, more for a
 * source whose reads may outrun what the sink has sent (s3-plain-get.ts). A chunk pushed stays
 * in the stream (its readableLength) or in the sink, which keeps the buffers written to it
 * (node:http and the socket keep them, not copies) and counts their bytes in its writableLength
 * until sent, in order. So, counting every byte pushed, the bytes sent are at least those pushed
 * minus what the stream and the sink still hold (the sink may count bytes of its own too, such
 * as the response's head: that only makes the count smaller), and a buffer is free once every
 * byte pushed up to its last chunk has been sent. None free and all `count` kept: a new buffer,
 * not kept.
 */
export class SinkBuffers {
  readonly #pool: BufferPool
  readonly #sink: Sink
  readonly #count: number
  readonly #kept: Buffer[] = []
  // Per kept buffer (same index): the bytes pushed up to and including its last chunk.
  readonly #ends: number[] = []
  #pushed = 0

  constructor(pool: BufferPool, sink: Sink, count = 2) {
    this.#pool = pool
    this.#sink = sink
    this.#count = count
  }

  /** A buffer of the pool's size to read into; `queued`: the bytes waiting in the stream. */
  next(queued: number): Buffer {
    const sent = this.#pushed - queued - this.#sink.writableLength
    const free = this.#ends.findIndex((end) => end <= sent)
    const buffer = free < 0 ? undefined : this.#kept[free]
    if (buffer !== undefined) return buffer
    if (this.#kept.length === this.#count) return Buffer.allocUnsafeSlow(this.#pool.size)
    const taken = this.#pool.take()
    this.#kept.push(taken)
    // Free until a chunk of it is pushed (a read into it may come to nothing).
    this.#ends.push(0)
    return taken
  }

  /**
   * `bytes` were just read into `buffer` and are being pushed (as it or a part of it). A source
   * may count bytes it read but did not push (an answer's head), as long as it counts them
   * before a chunk it pushes: every later end and the sent count are then larger by the same.
   */
  pushed(buffer: Buffer, bytes: number): void {
    this.#pushed += bytes
    const index = this.#kept.findIndex((kept) => kept.buffer === buffer.buffer)
    if (index >= 0) this.#ends[index] = this.#pushed
  }

  /** Back to the pool: only once nothing reads into them or sends from them any more. */
  giveBack(): void {
    this.#ends.splice(0)
    this.#pool.give(this.#kept.splice(0))
  }
}
