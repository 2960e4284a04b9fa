// The buffers one reader of a download reads the part file back into. A client that fell behind
// the bytes in memory reads the whole file from the part file; with a new 64 KiB buffer per read,
// 50 clients of a 200 MB file leave 10 GB of dead buffers behind them, and V8 collects those
// only after tens of MB of them have piled up (its external-memory trigger): about 30 MB of the
// peak RSS of that bench row (docs/benchmarks.md). Here each reader keeps two buffers and fills
// one again only when nothing can still be sending it.
//
// When may a buffer be filled again? The reader's stream is a Readable.from() with a
// highWaterMark of one chunk, piped to the response: of the chunks it handed out, only the last
// one can still wait in the stream's buffer; every earlier one went to the response's write().
// A write keeps its buffer (not a copy) until the socket took all of it, and until then the
// bytes count in the response's writableLength (node:http OutgoingMessage: its own queue plus
// the socket's). So with writableLength 0, every buffer but the last handed out is free.
// When the response still holds bytes and waits for 'drain' (the pipe paused), the read waits
// for that 'drain' too; when it holds bytes without waiting, a new buffer is taken (not kept).

import type { StreamSink } from '../storage/storage.js'

/** What a reader's stream is piped to (a ServerResponse), as for a local file's stream, and its 'drain'. */
export interface ReaderSink extends StreamSink {
  readonly writableNeedDrain: boolean
  once(event: 'drain' | 'close' | 'finish', listener: () => void): unknown
  off(event: 'drain' | 'close', listener: () => void): unknown
}

/** Two buffers of `size` bytes, lent in turn (see above); without a sink, a new one each time. */
export class ReadBuffers {
  readonly #size: number
  readonly #sink: ReaderSink | undefined
  readonly #kept: Buffer[] = []
  /** The buffer under the chunk handed out last (undefined when it came from elsewhere). */
  #last: ArrayBufferLike | undefined

  constructor(size: number, sink: ReaderSink | undefined) {
    this.#size = size
    this.#sink = sink
  }

  /** A buffer to read into; `fresh` when it had to be allocated. */
  async take(): Promise<{ buffer: Buffer; fresh: boolean }> {
    // The pipe waits for this 'drain' too before it asks for more, so waiting costs no time.
    if (this.#sink?.writableNeedDrain === true && this.#sink.writableLength > 0) await drained(this.#sink)
    if (this.#sink !== undefined && this.#sink.writableLength === 0) {
      const free = this.#kept.find((buffer) => buffer.buffer !== this.#last)
      if (free !== undefined) return { buffer: free, fresh: false }
    }
    // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared pool.
    const buffer = Buffer.allocUnsafeSlow(this.#size)
    if (this.#sink !== undefined && this.#kept.length < 2) this.#kept.push(buffer)
    return { buffer, fresh: true }
  }

  /** `chunk` is being handed to the stream: it is the one that may still wait there. */
  handOut(chunk: Buffer): void {
    this.#last = chunk.buffer
  }
}

function drained(sink: ReaderSink): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sink.off('drain', done)
      sink.off('close', done)
      resolve()
    }
    sink.once('drain', done)
    sink.once('close', done)
  })
}
