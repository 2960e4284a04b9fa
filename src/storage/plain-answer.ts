// A GET sent on a connection of its own, whose answer is read here only when it is plain: 200
// (or the status asked for) with a Content-Length and neither transfer nor content coding. Its
// body is then exactly that many bytes, taken straight from the socket's reads, with no HTTP
// parser copying each chunk into a new buffer as node:http's does (node_http_parser.cc,
// on_body: Buffer::Copy). Used by the S3 store's downloads (s3-plain-get.ts) and by first
// downloads of upstream files (src/upstream/plain-file-get.ts); anything else is left to the
// normal client, before a byte of the body is used.
import { connect as netConnect, isIP, type OnReadOpts, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { PushSource, PushTarget } from './deferred-stream.js'

// An answer's head larger than this is not a plain one: give up.
const MAX_HEAD = 64 * 1024

/**
 * A connection to `url`'s host: TLS (with SNI and the normal certificate checks) for https.
 * With `onread`, the socket reads into the buffer it gives and emits no 'data'.
 */
export function connectTo(url: URL, onread?: OnReadOpts): Socket {
  const https = url.protocol === 'https:'
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const port = url.port === '' ? (https ? 443 : 80) : Number(url.port)
  const read = onread === undefined ? {} : { onread }
  return https
    ? tlsConnect({
        host,
        port,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ALPNProtocols: ['http/1.1'],
        ...read,
      })
    : netConnect({ host, port, ...read })
}

/** Write a GET of `url` with Host, `headers` (lower-case names) and Connection: close. */
export function sendGet(socket: Socket, url: URL, headers: Readonly<Record<string, string>>): void {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`]
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  lines.push('Connection: close', '', '')
  socket.write(lines.join('\r\n'))
}

/** A plain answer's head: its Content-Length, and its fields (lower-case names). */
export interface PlainHead {
  readonly length: number
  readonly headers: Readonly<Record<string, string>>
}

/**
 * The head of an answer, gathered from the socket's first reads. They are copied: a socket
 * that reads into one buffer of its own reads the next bytes over them.
 */
export class HeadReader {
  #head: Buffer | undefined

  /**
   * Add a read. 'more': the head is not complete yet; 'too-large': it is not a plain answer's;
   * else the head (up to its blank line) and the body's first bytes (a copy too).
   */
  add(chunk: Buffer): 'more' | 'too-large' | { readonly head: string; readonly rest: Buffer } {
    const head = this.#head === undefined ? Buffer.from(chunk) : Buffer.concat([this.#head, chunk])
    this.#head = head
    const end = head.indexOf('\r\n\r\n')
    if (end < 0) return head.length > MAX_HEAD ? 'too-large' : 'more'
    return { head: head.toString('latin1', 0, end), rest: head.subarray(end + 4) }
  }
}

/** The status code of an answer's head, or undefined when its status line does not parse. */
export function answerStatus(head: string): number | undefined {
  const code = /^HTTP\/1\.[01] (\d{3})(?: |\r|$)/.exec(head)?.[1]
  return code === undefined ? undefined : Number(code)
}

/**
 * The head's Content-Length and fields when it answers `status` with nothing that changes how
 * the body is read (RFC 9112 §6: no Transfer-Encoding, one Content-Length; no Content-Encoding
 * but identity); else undefined.
 */
export function plainHead(head: string, status: number): PlainHead | undefined {
  if (answerStatus(head) !== status) return undefined
  const [, ...fields] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const field of fields) {
    const colon = field.indexOf(':')
    if (colon <= 0) return undefined
    const name = field.slice(0, colon).trim().toLowerCase()
    const value = field.slice(colon + 1).trim()
    if (name === 'transfer-encoding') return undefined
    if (name === 'content-encoding' && value.toLowerCase() !== 'identity') return undefined
    const seen = headers[name]
    if (name !== 'content-length') headers[name] = seen === undefined ? value : `${seen}, ${value}`
    else if (seen === undefined || seen === value) headers[name] = value
    else return undefined
  }
  const length = headers['content-length']
  return length !== undefined && /^\d{1,15}$/.test(length) ? { length: Number(length), headers } : undefined
}

/**
 * Exactly `length` bytes of a socket's reads pushed into `target`, then the connection is
 * closed; fewer is a failure (`cutShort`), never an end. A socket error fails the target.
 */
export class ExactBody implements PushSource {
  readonly #socket: Socket
  readonly #target: PushTarget
  readonly #length: number
  readonly #cutShort: (received: number, length: number) => Error
  #left: number

  constructor(
    socket: Socket,
    length: number,
    target: PushTarget,
    cutShort: (received: number, length: number) => Error,
  ) {
    this.#socket = socket
    this.#length = length
    this.#left = length
    this.#target = target
    this.#cutShort = cutShort
    socket.on('error', (err) => {
      target.fail(err)
    })
    socket.once('close', () => {
      if (this.#left > 0) target.fail(this.#cutShort(this.#length - this.#left, this.#length))
    })
    if (length === 0) {
      target.push(null)
      socket.destroy()
    }
  }

  /** Pass a chunk on; false: the target is full (the socket is paused until resume()). */
  take(chunk: Buffer): boolean {
    if (this.#left <= 0 || chunk.length === 0) return true
    const part = chunk.length > this.#left ? chunk.subarray(0, this.#left) : chunk
    this.#left -= part.length
    const more = this.#target.push(part)
    if (this.#left === 0) {
      this.#target.push(null)
      this.#socket.destroy()
    }
    return more
  }

  resume(): void {
    // With onread, a pause stopped the handle's reads: read(0) starts them again.
    this.#socket.resume()
    this.#socket.read(0)
  }

  destroy(): void {
    this.#socket.destroy()
  }
}
