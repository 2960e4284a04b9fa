// The body of a streamed download read straight off the socket. Node's HTTP client copies every
// body chunk out of the socket's buffer into a new one (node_http_parser.cc, on_body), so a
// 100 MB object relayed through the SDK's GetObject made some 1,600 allocations of 64 KiB that
// the external-memory trigger of V8 collects with full collections (about 9 per 100 MB), and the
// parser and those collections were half of eggserve's CPU time per download (docs/s3.md,
// "Downloads"). Here the GET is a presigned URL, signed locally by the SDK with the same client
// (credentials, region, endpoint), sent on a connection of its own; the answer's head is parsed
// here, and the body's bytes are the socket's own chunks, pushed straight into the stream the
// route pipes. With a sink (the response), the socket reads into two buffers reused once the
// sink has sent them (sink-buffers.ts, as local downloads do): no allocation per chunk at all.
// Over https too: a TLS socket decrypts into the onread buffer as a TCP one reads into it (it
// made a new buffer per TLS record of up to 16 KiB before).
//
// Only the plain case is taken: 200 (206 for a range) with the Content-Length expected and no
// transfer or content coding. Anything else (an error status, a failure to connect, chunked
// framing) gives up before a byte is passed on, and the caller asks the SDK instead, which
// retries and reads errors as it does for every other request.
import type { Socket } from 'node:net'
import type { PushSource, PushTarget } from './deferred-stream.js'
import { connectTo, ExactBody, HeadReader, plainHead, sendGet } from './plain-answer.js'
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
  /**
   * Milliseconds to connect (the TLS handshake included) before giving up, as the SDK's
   * connectionTimeout: without it, a store that accepts no connection held the download for the
   * whole idle timeout above before GetObject was asked.
   */
  readonly connectTimeoutMs: number
}

// Socket reads into buffers of this size, used again once the sink has sent them
// (sink-buffers.ts), and given back by finished downloads for the next ones.
const pool = new BufferPool(64 * 1024, 16)

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
    const heads = new HeadReader()
    let body: ExactBody | undefined
    let settled = false
    // Chunks: the head's (HeadReader copies them: the buffer is reused), then the body's as they are.
    const received = (chunk: Buffer): boolean => {
      if (body !== undefined) return body.take(chunk)
      const read = heads.add(chunk)
      if (read === 'more') return true
      if (read === 'too-large' || plainHead(read.head, request.status)?.length !== request.length) {
        giveUp()
        return false
      }
      socket.removeListener('error', giveUp)
      socket.removeListener('end', giveUp)
      settled = true
      body = new ExactBody(socket, request.length, target, () =>
        Object.assign(new Error('the store closed the connection before the end'), { code: 'ECONNRESET' }),
      )
      resolve(body)
      return body.take(read.rest)
    }
    const buffers = sink === undefined ? undefined : new SinkBuffers(pool, sink)
    const socket: Socket = connectTo(
      url,
      buffers === undefined
        ? undefined
        : {
            buffer: () => buffers.next(target.queued),
            callback: (bytes: number, buffer: Uint8Array) => {
              buffers.pushed(buffer as Buffer, bytes)
              return received((buffer as Buffer).subarray(0, bytes))
            },
          },
    )
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
    const connecting = setTimeout(giveUp, request.connectTimeoutMs)
    socket.once(https ? 'secureConnect' : 'connect', () => {
      clearTimeout(connecting)
    })
    socket.once('close', () => {
      clearTimeout(connecting)
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
    })
    socket.on('error', giveUp)
    socket.once('end', giveUp)
    sendGet(socket, url, { ...request.headers, 'user-agent': 'eggserve' })
  })
}
