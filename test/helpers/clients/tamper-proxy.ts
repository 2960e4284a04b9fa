// A pass-through HTTP proxy in front of eggserve that records what each client received and
// can change one byte of a file on the wire. What "tampered" can honestly mean against eggserve: the server re-hashes a file whose
// identity changed, so a page served after a change on disk always carries the new digest.
// The window a client's hash check exists for is between reading the page (or writing the
// lock file) and downloading the file. This proxy opens it deterministically without touching
// the shared fixture on disk: the client reads genuine pages (with eggserve's genuine digests),
// and, once armed, the body of the named file arrives with one byte flipped, same length.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'

/** One response that passed through, as the client received it. */
export interface ProxiedResponse {
  readonly method: string
  readonly url: string
  readonly status: number
  readonly contentType: string
}

/** A running proxy. */
export interface TamperProxy {
  /** e.g. http://127.0.0.1:40124 (no trailing slash). */
  readonly url: string
  /** Flip a byte in every later 200 response whose URL path ends with `/<filename>`. */
  arm(filenames: readonly string[]): void
  /** Pass everything through unchanged again. */
  disarm(): void
  /** Paths whose bodies were changed so far. */
  readonly tampered: readonly string[]
  /** Every response so far, in the order their headers arrived. */
  readonly responses: readonly ProxiedResponse[]
}

/** Copy of `body` with the middle byte inverted: same length, different digest. */
export function tamperBytes(body: Buffer): Buffer {
  const copy = Buffer.from(body)
  const middle = Math.floor(copy.length / 2)
  copy[middle] = (copy[middle] ?? 0) ^ 0xff
  return copy
}

/** Start a proxy to `upstream` on 127.0.0.1; closed after the test. */
export async function startTamperProxy(t: TestContext, upstream: string): Promise<TamperProxy> {
  let armed: readonly string[] = []
  const tampered: string[] = []
  const responses: ProxiedResponse[] = []
  const shouldTamper = (url: string): boolean => {
    const path = url.split('?')[0] ?? url
    return armed.some((filename) => path.endsWith(`/${filename}`))
  }
  const proxy: Server = createServer((req, res) => {
    const url = req.url ?? '/'
    const upstreamRequest = httpRequest(
      `${upstream}${url}`,
      { method: req.method ?? 'GET', headers: req.headers, agent: false },
      (response) => {
        const status = response.statusCode ?? 502
        responses.push({
          method: req.method ?? 'GET',
          url,
          status,
          contentType: response.headers['content-type'] ?? '',
        })
        if (!(shouldTamper(url) && status === 200 && req.method === 'GET')) {
          res.writeHead(status, response.headers)
          response.pipe(res)
          return
        }
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk)
        })
        response.once('end', () => {
          tampered.push(url)
          res.writeHead(status, withoutValidators(response.headers))
          res.end(tamperBytes(Buffer.concat(chunks)))
        })
        response.once('error', () => {
          res.destroy()
        })
      },
    )
    upstreamRequest.once('error', () => {
      res.destroy()
    })
    req.pipe(upstreamRequest)
  })
  await new Promise<void>((resolve) => {
    proxy.listen(0, '127.0.0.1', resolve)
  })
  t.after(
    () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections()
        proxy.close(() => {
          resolve()
        })
      }),
  )
  const { port } = proxy.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    arm(filenames) {
      armed = [...filenames]
    },
    disarm() {
      armed = []
    },
    get tampered() {
      return tampered
    },
    get responses() {
      return responses
    },
  }
}

// The changed body no longer matches the server's validators; a client must not be able to
// revalidate it against a cached copy of the genuine file.
function withoutValidators(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const copy = { ...headers }
  delete copy.etag
  delete copy['last-modified']
  return copy
}
