// The body of a streamed download read straight off the socket. Node's HTTP client copies every
// body chunk out of the socket's buffer into a new one (node_http_parser.cc, on_body), so a
// 100 MB object relayed through the SDK's GetObject made some 1,600 allocations of 64 KiB that
// the external-memory trigger of V8 collects with full collections (about 9 per 100 MB), and the
// parser and those collections were half of eggserve's CPU time per download (docs/s3.md,
// "Downloads"). Here the GET is a presigned URL, signed locally by the SDK with the same client
// (credentials, region, endpoint), sent on a connection of its own; the answer's head is parsed
// here, and the body's bytes are the socket's own chunks, pushed straight into the stream the
// route pipes. Over plain HTTP with a sink (the response), the socket reads into two buffers
// reused once the sink has sent them (sink-buffers.ts, as local downloads do): no allocation
// per chunk at all.
//
// Only the plain case is taken: 200 (206 for a range) with the Content-Length expected and no
// transfer or content coding. Anything else (an error status, a failure to connect, chunked
// framing) gives up before a byte is passed on, and the caller asks the SDK instead, which
// retries and reads errors as it does for every other request.
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { PushSource, PushTarget } from './deferred-stream.js'
import { BufferPool, SinkBuffers } from './sink-buffers.js'
import type { StreamSink } from './storage.js'

/** A GET to send as it is: every header the signature covers, and what a plain answer must say. */
export interface PlainGetRequest {
  readonly url: URL
  /** Besides Host, the headers to send (the signed ones among them), lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  /** 200 for the whole object, 206 for a range. */
  readonly status: 200 | 206
  /** The Content-Length the answer must have. */
  readonly length: number
  /** Milliseconds without a byte before the connection is given up (the SDK's socketTimeout). */
  readonly timeoutMs: number
}

// Socket reads into buffers of this size, used again once the sink has sent them
// (sink-buffers.ts), and given back by finished downloads for the next ones.
const pool = new BufferPool(64 * 1024, 16)

// An answer's head larger than this is not one of S3's: give up.
const MAX_HEAD = 64 * 1024

/**
 * Push the body of `request`'s answer into `target`, or undefined when the answer is not the
 * plain case (or never came): ask another way, nothing was pushed. Destroying the source, or
 * aborting `signal`, closes the connection; a body cut short fails the target.
 */
export function plainGet(
  request: PlainGetRequest,
  signal: AbortSignal,
  target: PushTarget,
  sink?: StreamSink,
): Promise<PushSource | undefined> {
  return new Promise((resolve) => {
    const { url } = request
    const https = url.protocol === 'https:'
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    const port = url.port === '' ? (https ? 443 : 80) : Number(url.port)
    let head: Buffer | undefined
    let body: Body | undefined
    let settled = false
    // Chunks: the head's, copied (the buffer is reused), then the body's as they are.
    const received = (chunk: Buffer): boolean => {
      if (body !== undefined) return body.take(chunk)
      head = head === undefined ? Buffer.from(chunk) : Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) {
        if (head.length > MAX_HEAD) giveUp()
        return true
      }
      if (!isPlainAnswer(head.toString('latin1', 0, end), request)) {
        giveUp()
        return false
      }
      socket.removeListener('error', giveUp)
      socket.removeListener('end', giveUp)
      settled = true
      body = new Body(socket, request.length, target)
      resolve(body)
      return body.take(head.subarray(end + 4))
    }
    const buffers = https || sink === undefined ? undefined : new SinkBuffers(pool, sink)
    const socket: Socket = https
      ? tlsConnect({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}), ALPNProtocols: ['http/1.1'] })
      : netConnect({
          host,
          port,
          ...(buffers === undefined
            ? {}
            : {
                onread: {
                  buffer: () => buffers.next(target.queued),
                  callback: (bytes: number, buffer: Uint8Array) => {
                    buffers.pushed(buffer as Buffer, bytes)
                    return received((buffer as Buffer).subarray(0, bytes))
                  },
                },
              }),
        })
    if (buffers === undefined)
      socket.on('data', (chunk: Buffer) => {
        if (!received(chunk)) socket.pause()
      })
    // In flowing mode, so that the end of the answer is seen (no data flows this way with onread).
    else socket.resume()
    // Given back once the sink has sent everything after the connection closed (no read is
    // filling one then). A download cut short keeps them: they go with it.
    if (buffers !== undefined && sink !== undefined)
      sink.once('finish', () => {
        if (socket.destroyed) buffers.giveBack()
      })
    socket.setNoDelay(true)
    socket.setTimeout(request.timeoutMs, () => {
      socket.destroy(Object.assign(new Error('the store sent nothing for too long'), { name: 'TimeoutError' }))
    })
    function giveUp(): void {
      socket.destroy()
      if (!settled) {
        settled = true
        resolve(undefined)
      }
    }
    const onAbort = (): void => {
      giveUp()
    }
    if (signal.aborted) {
      giveUp()
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('close', () => {
      signal.removeEventListener('abort', onAbort)
      body?.closed()
    })
    socket.on('error', giveUp)
    socket.once('end', giveUp)
    const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`]
    for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`)
    lines.push('Connection: close', 'User-Agent: eggserve', '', '')
    socket.write(lines.join('\r\n'))
  })
}

/** Whether the head says what `request` expects, and nothing that changes how the body is read. */
function isPlainAnswer(head: string, request: PlainGetRequest): boolean {
  const [statusLine = '', ...fields] = head.split('\r\n')
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine)?.[1]
  if (status !== String(request.status)) return false
  let length: string | undefined
  for (const field of fields) {
    const colon = field.indexOf(':')
    if (colon <= 0) return false
    const name = field.slice(0, colon).trim().toLowerCase()
    const value = field.slice(colon + 1).trim()
    if (name === 'content-length') {
      if (length !== undefined && length !== value) return false
      length = value
    } else if (name === 'transfer-encoding') return false
    else if (name === 'content-encoding' && value.toLowerCase() !== 'identity') return false
  }
  return length === String(request.length)
}

// Exactly `length` bytes, then the connection is closed; fewer is a failure, never an end.
class Body implements PushSource {
  readonly #socket: Socket
  readonly #target: PushTarget
  #left: number

  constructor(socket: Socket, length: number, target: PushTarget) {
    this.#socket = socket
    this.#left = length
    this.#target = target
    socket.on('error', (err) => {
      target.fail(err)
    })
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

  closed(): void {
    if (this.#left > 0)
      this.#target.fail(
        Object.assign(new Error('the store closed the connection before the end'), { code: 'ECONNRESET' }),
      )
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
