// The first download of an upstream file read straight off the socket, as the S3 store's
// downloads are (src/storage/plain-answer.ts). node:http's client copies every body chunk out
// of the socket's read buffer into a new one (node_http_parser.cc, on_body: Buffer::Copy): a
// 200 MB download made 200 MB of garbage, and the collections it set off were most of the CPU
// eggserve spent relaying it (docs/upstream.md, "Files"). Here the GET goes out on a connection
// of its own (Connection: close: one per download, no keep-alive), whose socket reads into one
// 256 KiB buffer of the pool socket-reads.ts keeps, and the body's chunks are views of it.
//
// Only a plain answer is read this way: 200, a Content-Length, no Transfer-Encoding, no
// Content-Encoding. A redirect, or a 200 of another kind (chunked framing, gzip), or a head that
// does not parse, is closed before a byte of its body is used, and the caller asks upstreamGet()
// instead, which follows redirects and decodes. Any other status is answered as it is, with no
// body (file-download.ts reads only the status then: asking again would ask twice). A failure to
// connect or a timeout is not asked again that way (it would wait out the timeouts twice): it
// fails with the same UpstreamFetchError as upstreamGet() (http-client.ts makes both).
//
// Why a view of a buffer read into again is safe: the body stream has a highWaterMark of 0 and
// its push() answers true only when the chunk went straight to a 'data' listener (flowing, with
// nothing queued). Otherwise the socket stops reading (onread's callback returns false) until
// the stream's read() asks again, which it does only once its queue is empty. So the buffer is
// read into again only once every view of it was handed out, and file-download.ts, the one
// reader, hashes and copies each chunk inside its 'data' callback and keeps none.
import type { Socket } from 'node:net'
import { Readable } from 'node:stream'
import type { PushTarget } from '../storage/deferred-stream.js'
import { answerStatus, connectTo, ExactBody, HeadReader, plainHead, sendGet } from '../storage/plain-answer.js'
import {
  describeUrl,
  networkError,
  REDIRECTS,
  stalledError,
  timeoutError,
  type UpstreamRequest,
  type UpstreamResponse,
} from './http-client.js'
import { socketReadPool } from './socket-reads.js'
import { UpstreamFetchError } from './upstream-errors.js'

/**
 * GET `request.url` on a connection of its own: the response when the answer is plain (its
 * body: views of the socket's read buffer, each valid only during its 'data' event) or an error
 * status (its body left unread: an empty one), undefined when it is neither (nothing of it was
 * used: ask upstreamGet()). Rejects as upstreamGet() does when
 * the connection fails or a timeout runs out before the answer's head.
 */
export function plainFileGet(request: UpstreamRequest): Promise<UpstreamResponse | undefined> {
  const url = new URL(request.url)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.resolve(undefined)
  const { timeouts } = request
  return new Promise((resolve, reject) => {
    const heads = new HeadReader()
    let body: ExactBody | undefined
    let stream: Readable | undefined
    let settled = false
    let timer: NodeJS.Timeout | undefined
    const arm = (ms: number, kind: 'connect-timeout' | 'first-byte-timeout'): void => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        fail(timeoutError(url, kind, ms))
      }, ms)
    }
    const received = (chunk: Buffer): boolean => {
      if (body !== undefined) return body.take(chunk)
      const read = heads.add(chunk)
      if (read === 'more') return true
      const status = read === 'too-large' ? undefined : answerStatus(read.head)
      const plain = read === 'too-large' ? undefined : plainHead(read.head, 200)
      if (status !== undefined && status !== 200 && !REDIRECTS.has(status)) {
        // An error status: all the caller reads is the status (asking again would ask twice).
        answered(status)
        return false
      }
      if (read === 'too-large' || plain === undefined) {
        refuse()
        return false
      }
      clearTimeout(timer)
      settled = true
      socket.off('error', failed)
      socket.off('end', hungUp)
      socket.off('close', hungUp)
      const made = bodyStream(socket, url, plain.length, timeouts.idleMs)
      ;({ stream, body } = made)
      stream.once('close', giveBack)
      resolve({ status: 200, headers: plain.headers, url: url.href, body: stream })
      // The body's first bytes came with the head (HeadReader's copy, not the read buffer).
      return body.take(read.rest)
    }
    const buffer = socketReadPool.take()
    const socket = connectTo(url, {
      buffer,
      callback: (bytes: number) => received(buffer.subarray(0, bytes)),
    })
    // The buffer goes back to the pool once the socket reads no more into it and the body
    // stream holds no view of it.
    let given = false
    function giveBack(): void {
      if (given || !socket.closed || (stream !== undefined && !stream.closed)) return
      given = true
      socketReadPool.give([buffer])
    }
    socket.once('close', giveBack)
    function fail(err: UpstreamFetchError): void {
      clearTimeout(timer)
      socket.destroy()
      if (settled) return
      settled = true
      reject(err)
    }
    function answered(status: number): void {
      clearTimeout(timer)
      socket.destroy()
      settled = true
      resolve({ status, headers: {}, url: url.href, body: Readable.from([]) })
    }
    function refuse(): void {
      clearTimeout(timer)
      socket.destroy()
      settled = true
      resolve(undefined)
    }
    function failed(err: Error): void {
      fail(networkError(url, err))
    }
    function hungUp(): void {
      // As node:http says it when the connection closes before the answer's head.
      fail(networkError(url, Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })))
    }
    arm(timeouts.connectMs, 'connect-timeout')
    socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      arm(timeouts.firstByteMs, 'first-byte-timeout')
    })
    socket.on('error', failed)
    socket.once('end', hungUp)
    socket.once('close', hungUp)
    // In flowing mode, so that the end of the connection is seen (no data flows this way with onread).
    socket.resume()
    socket.setNoDelay(true)
    const authorization =
      request.authorization !== undefined && url.origin === request.credentialOrigin ? request.authorization : undefined
    sendGet(socket, url, {
      ...request.headers,
      ...(authorization === undefined ? {} : { authorization }),
      // A body read as it is sent: anything else is not the plain case.
      'accept-encoding': 'identity',
    })
  })
}

/** The body of a plain answer of `length` bytes on `socket`: a stream fed by an ExactBody (see above). */
function bodyStream(socket: Socket, url: URL, length: number, idleMs: number): { stream: Readable; body: ExactBody } {
  const stream = new Readable({
    // 0: read() is called only with nothing queued (see the top of this file).
    highWaterMark: 0,
    read() {
      body.resume()
    },
    destroy(err, callback) {
      socket.destroy()
      callback(err)
    },
  })
  const target: PushTarget = {
    push: (chunk) => {
      if (stream.destroyed) return false
      stream.push(chunk)
      return stream.readableFlowing === true && stream.readableLength === 0
    },
    fail: (err) => {
      if (stream.destroyed) return
      stream.destroy(
        err instanceof UpstreamFetchError
          ? err
          : networkError(url, err instanceof Error ? err : new Error(String(err))),
      )
    },
    get queued() {
      return stream.readableLength
    },
  }
  const body = new ExactBody(
    socket,
    length,
    target,
    (received, expected) =>
      new UpstreamFetchError(
        'length',
        `${describeUrl(url.href)}: the connection closed after ${String(received)} of the ${String(expected)} bytes announced`,
        { cause: Object.assign(new Error('connection closed'), { code: 'ECONNRESET' }) },
      ),
  )
  socket.setTimeout(idleMs, () => {
    target.fail(stalledError(url, idleMs))
  })
  return { stream, body }
}
