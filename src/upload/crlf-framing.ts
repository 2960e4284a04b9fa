// setuptools' upload_docs writes its multipart form with bare LF line ends
// (setuptools/command/upload_docs.py, _build_multipart: b"\n--" + boundary, b"\n\n").
// RFC 2046 §5.1.1 (which RFC 7578 §4.1 builds on) requires CRLF there, and busboy finds no
// part in such a body. This stream rewrites the framing of a bare-LF form (delimiter lines
// and part headers, never a part's content) to CRLF, and passes any other body untouched.
import { Transform, type TransformCallback } from 'node:stream'

type State = 'detect' | 'pass' | 'delimiter' | 'headers' | 'body'

const LF = 0x0a
const CR = 0x0d
const CRLF = Buffer.from('\r\n')
// The first delimiter comes at once in every client's body; past this, leave it to busboy.
const DETECT_BYTES = 4096
// busboy refuses part headers over 80 KiB itself; a longer line is left to it unchanged.
const MAX_HEADER_LINE = 128 * 1024

/**
 * A pass-through for multipart bodies with `boundary` that turns a bare-LF form (first
 * delimiter line ending in LF alone) into a CRLF one. The LF before each later delimiter
 * becomes CRLF, which busboy takes as part of the delimiter, so part contents come out
 * byte for byte as sent.
 */
export class CrlfFraming extends Transform {
  readonly #delimiter: Buffer
  readonly #bodyDelimiter: Buffer
  #state: State = 'detect'
  #pending: Buffer = Buffer.alloc(0)

  constructor(boundary: string) {
    super()
    this.#delimiter = Buffer.from(`--${boundary}`, 'latin1')
    this.#bodyDelimiter = Buffer.from(`\n--${boundary}`, 'latin1')
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#state === 'pass') {
      callback(null, chunk)
      return
    }
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    this.#advance()
    callback()
  }

  override _flush(callback: TransformCallback): void {
    if (this.#pending.length > 0) this.push(this.#pending)
    this.#pending = Buffer.alloc(0)
    callback()
  }

  /** Consume as much of #pending as can be decided on now. */
  #advance(): void {
    for (;;) {
      const before = this.#pending.length
      const state = this.#state
      switch (state) {
        case 'detect':
          this.#detect()
          break
        case 'delimiter':
          this.#afterDelimiter()
          break
        case 'headers':
          this.#headerLine()
          break
        case 'body':
          this.#body()
          break
        case 'pass':
          if (this.#pending.length > 0) this.push(this.#pending)
          this.#pending = Buffer.alloc(0)
          return
      }
      if (this.#pending.length === before && this.#state === state) return
    }
  }

  #take(length: number): Buffer {
    const taken = this.#pending.subarray(0, length)
    this.#pending = this.#pending.subarray(length)
    return taken
  }

  #detect(): void {
    const at = this.#pending.indexOf(this.#delimiter)
    const after = at + this.#delimiter.length
    if (at < 0 || this.#pending.length < after + 2) {
      if (this.#pending.length > DETECT_BYTES) this.#state = 'pass'
      return
    }
    if (this.#pending[after] !== LF) {
      this.#state = 'pass'
      return
    }
    // The preamble is dropped (busboy ignores it anyway), so the first delimiter starts the
    // body, where busboy needs no line end before it.
    this.#take(after)
    this.push(this.#delimiter)
    this.#state = 'delimiter'
  }

  // Just after a delimiter: "--" closes the form (the rest is epilogue), a line end starts headers.
  #afterDelimiter(): void {
    const [first, second] = this.#pending
    if (first === undefined || second === undefined) return
    if (first === 0x2d && second === 0x2d) {
      // The epilogue after it is passed on as it is: busboy ignores it.
      this.push(this.#take(2))
      this.#state = 'pass'
      return
    }
    this.#take(first === CR && second === LF ? 2 : first === LF ? 1 : 0)
    this.push(CRLF)
    this.#state = 'headers'
  }

  #headerLine(): void {
    const end = this.#pending.indexOf(LF)
    if (end < 0) {
      if (this.#pending.length > MAX_HEADER_LINE) this.#state = 'pass'
      return
    }
    const line = this.#take(end + 1).subarray(0, end)
    const text = line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, -1) : line
    if (text.length > 0) this.push(text)
    this.push(CRLF)
    if (text.length === 0) this.#state = 'body'
  }

  #body(): void {
    const at = this.#pending.indexOf(this.#bodyDelimiter)
    if (at < 0) {
      // Keep what could be the start of a delimiter split across chunks.
      const keep = Math.min(this.#pending.length, this.#bodyDelimiter.length - 1)
      if (this.#pending.length > keep) this.push(this.#take(this.#pending.length - keep))
      return
    }
    if (at > 0) this.push(this.#take(at))
    this.#take(this.#bodyDelimiter.length)
    this.push(CRLF)
    this.push(this.#delimiter)
    this.#state = 'delimiter'
  }
}
