// One GET to an upstream, with what a proxy needs and fetch() does not give: separate connect
// and first-byte timeouts (a port that accepts and never answers fails like a refused one),
// an idle timeout on the body, redirects followed only to http(s) and only a few times,
// credentials sent only to the upstream's own origin, and bounded bodies. node:http is used
// directly because Node's fetch exposes neither timeout separately without undici's Agent,
// which is not a public API of Node 20.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { readingAgent } from './socket-reads.js'
import { UpstreamFetchError } from './upstream-errors.js'

/** Timeouts of one request, in milliseconds. */
export interface Timeouts {
  /** From the start until the TCP (and TLS) connection is up. */
  readonly connectMs: number
  /** From the connection until the response's status line and headers. */
  readonly firstByteMs: number
  /** Longest pause between two pieces of the body. */
  readonly idleMs: number
}

/** What a request needs. */
export interface UpstreamRequest {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  /** Sent as Authorization, only to `credentialOrigin` (never after a redirect to another origin). */
  readonly authorization?: string | undefined
  readonly credentialOrigin?: string | undefined
  readonly timeouts: Timeouts
  readonly maxRedirects: number
}

/** A response whose headers arrived; its body is still to be read (or destroyed). */
export interface UpstreamResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** The URL that answered (after redirects). */
  readonly url: string
  /** The body, gunzipped when the upstream sent gzip. */
  readonly body: Readable
}

/** The statuses followed to their Location. */
export const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** GET `url`, following redirects; resolves once an answer's headers are in. */
export async function upstreamGet(request: UpstreamRequest): Promise<UpstreamResponse> {
  let url = new URL(request.url)
  for (let redirects = 0; ; redirects++) {
    const authorization =
      request.authorization !== undefined && url.origin === request.credentialOrigin ? request.authorization : undefined
    const response = await getOnce(url, request.headers, authorization, request.timeouts)
    const location = response.headers.location
    if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) return wrap(response, url, request.timeouts)
    response.resume()
    if (redirects >= request.maxRedirects)
      throw new UpstreamFetchError(
        'redirect',
        `${describeUrl(request.url)} redirected more than ${String(request.maxRedirects)} times`,
      )
    let next: URL
    try {
      next = new URL(location, url)
    } catch {
      throw new UpstreamFetchError('redirect', `${describeUrl(url.href)} redirected to an invalid URL`)
    }
    // Only http(s): never file:, data: or anything a redirect could point the server at.
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      throw new UpstreamFetchError('redirect', `${describeUrl(url.href)} redirected to a ${next.protocol} URL`)
    url = next
  }
}

/** Read a whole body, failing once it exceeds `maxBytes`. */
export async function readBounded(response: UpstreamResponse, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of response.body) {
    const bytes = chunk as Buffer
    size += bytes.length
    if (size > maxBytes) {
      response.body.destroy()
      throw new UpstreamFetchError('too-large', `${describeUrl(response.url)} sent more than ${String(maxBytes)} bytes`)
    }
    chunks.push(bytes)
  }
  return Buffer.concat(chunks)
}

/** An upstream URL as it may appear in logs and errors: no credentials, no query. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.origin}${parsed.pathname}`
  } catch {
    return '(invalid URL)'
  }
}

function getOnce(
  url: URL,
  headers: Readonly<Record<string, string>>,
  authorization: string | undefined,
  timeouts: Timeouts,
): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(url, {
      method: 'GET',
      headers: authorization === undefined ? headers : { ...headers, authorization },
      // Sockets that read into one buffer each, used again (socket-reads.ts).
      agent: readingAgent(url.protocol),
    })
    let timer: NodeJS.Timeout | undefined
    const fail = (err: UpstreamFetchError): void => {
      clearTimeout(timer)
      req.destroy(err)
    }
    const arm = (ms: number, kind: 'connect-timeout' | 'first-byte-timeout'): void => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        fail(timeoutError(url, kind, ms))
      }, ms)
    }
    arm(timeouts.connectMs, 'connect-timeout')
    req.once('socket', (socket) => {
      // A reused keep-alive socket is connected already.
      const connected = (): void => {
        arm(timeouts.firstByteMs, 'first-byte-timeout')
      }
      if (socket.connecting) socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected)
      else connected()
    })
    req.once('response', (response) => {
      clearTimeout(timer)
      resolve(response)
    })
    req.once('error', (err) => {
      clearTimeout(timer)
      reject(err instanceof UpstreamFetchError ? err : networkError(url, err))
    })
    req.end()
  })
}

function wrap(response: IncomingMessage, url: URL, timeouts: Timeouts): UpstreamResponse {
  // A body that stops coming fails like any other network error. The listener is removed
  // when the body is over: a keep-alive socket goes on to serve other requests.
  const socket = response.socket
  const stalled = (): void => {
    response.destroy(stalledError(url, timeouts.idleMs))
  }
  socket.setTimeout(timeouts.idleMs)
  socket.on('timeout', stalled)
  const over = (): void => {
    socket.off('timeout', stalled)
    socket.setTimeout(0)
  }
  response.once('close', over)
  let body: Readable = response
  if (response.headers['content-encoding']?.toLowerCase() === 'gzip') {
    const gunzip = createGunzip()
    response.once('error', (err) => {
      gunzip.destroy(err)
    })
    body = response.pipe(gunzip)
  }
  return { status: response.statusCode ?? 0, headers: response.headers, url: url.href, body }
}

// The errors of one GET, in the same words whichever way it was read (plain-file-get.ts too).

/** No connection (`connect-timeout`) or no answer's head (`first-byte-timeout`) within `ms`. */
export function timeoutError(url: URL, kind: 'connect-timeout' | 'first-byte-timeout', ms: number): UpstreamFetchError {
  return new UpstreamFetchError(
    kind,
    `${describeUrl(url.href)}: no ${kind === 'connect-timeout' ? 'connection' : 'answer'} within ${String(ms)} ms`,
  )
}

/** No byte of the body for `ms`. */
export function stalledError(url: URL, ms: number): UpstreamFetchError {
  return new UpstreamFetchError('idle-timeout', `${describeUrl(url.href)}: the body stalled for ${String(ms)} ms`)
}

/** The connection failed (`err`: the socket's error). */
export function networkError(url: URL, err: Error): UpstreamFetchError {
  return new UpstreamFetchError('network', `${describeUrl(url.href)}: ${networkWords(err)}`, { cause: err })
}

function networkWords(err: Error): string {
  const code = 'code' in err && typeof err.code === 'string' ? err.code : undefined
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ECONNRESET':
      return 'connection reset'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable'
    default:
      return code === undefined ? 'network error' : `network error (${code})`
  }
}
