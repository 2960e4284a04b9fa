// A small HTTP proxy between eggserve and a real upstream index (a second eggserve, or nginx
// serving a static PEP 503 tree) that misbehaves on request, the way real upstreams do: a
// delay, a refused port, a port that accepts and never answers (a blackhole), 500/503/404, a
// truncated body, wrong bytes under the right length, a page whose sha256 for a file changed,
// or a page that went back in time (a lower X-PyPI-Last-Serial). It counts every request by
// path, so tests assert exact upstream request counts.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { TestContext } from 'node:test'

/** A request as the proxy saw it. */
export interface SeenRequest {
  readonly method: string
  /** Path without the query, e.g. /simple/demo/ */
  readonly path: string
  readonly headers: IncomingMessage['headers']
}

/** What a rule does to the requests it matches. */
export type UpstreamFault =
  /** Wait this long, then forward. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Answer with this status and a short text body, without asking the upstream. */
  | { readonly kind: 'status'; readonly status: 500 | 503 | 404 | 403 | 502 }
  /** Accept the request and never answer (the socket stays open until the client gives up). */
  | { readonly kind: 'blackhole' }
  /** Forward, send the upstream's headers (Content-Length included) and only this many body bytes, then reset. */
  | { readonly kind: 'truncate'; readonly bytes: number }
  /** Forward, but flip one byte in the middle of the body: same length, wrong bytes. */
  | { readonly kind: 'wrong-bytes' }
  /** Forward a page, replacing every occurrence of `from` with `to` (e.g. a sha256 of a file). */
  | { readonly kind: 'rewrite'; readonly from: string; readonly to: string }
  /** Forward, setting these response headers (e.g. a lower X-PyPI-Last-Serial: a regressed page). */
  | { readonly kind: 'headers'; readonly headers: Readonly<Record<string, string>> }

/** A fault for matching requests, `times` times (default: always). */
export interface UpstreamRule {
  readonly match: (request: SeenRequest) => boolean
  readonly fault: UpstreamFault
  times?: number
}

/** A running proxy. */
export interface UpstreamFaultProxy {
  /** e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string
  /** Every request seen, in order. */
  readonly requests: SeenRequest[]
  /** Requests whose path equals `path`, or starts with it when it ends in "*" (all without an argument). */
  count(path?: string): number
  /** Requests whose path contains `text` (e.g. a project name). */
  countMatching(text: string): number
  /** Replace the rules (first match wins). */
  setRules(rules: UpstreamRule[]): void
  /** Stop listening: connections are refused (ECONNREFUSED) until accept(). */
  refuse(): Promise<void>
  /** Listen again on the same port. */
  accept(): Promise<void>
}

/** Start a proxy to `target` (e.g. http://127.0.0.1:40000); closed after the test. */
export async function startUpstreamFaultProxy(t: TestContext, target: string): Promise<UpstreamFaultProxy> {
  const upstream = new URL(target)
  let rules: UpstreamRule[] = []
  const requests: SeenRequest[] = []
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy')
    const seen: SeenRequest = { method: req.method ?? 'GET', path: url.pathname, headers: req.headers }
    requests.push(seen)
    const rule = rules.find((candidate) => (candidate.times ?? 1) > 0 && candidate.match(seen))
    if (rule?.times !== undefined) rule.times--
    handle(upstream, req, res, rule?.fault)
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
    })
  })
  const closeAll = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve()
      })
    })
  }
  t.after(async () => {
    if (server.listening) await closeAll()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo // listen() on a TCP port gives an AddressInfo

  return {
    url: `http://127.0.0.1:${String(port)}`,
    requests,
    count: (path) =>
      path === undefined
        ? requests.length
        : requests.filter((request) =>
            path.endsWith('*') ? request.path.startsWith(path.slice(0, -1)) : request.path === path,
          ).length,
    countMatching: (text) => requests.filter((request) => request.path.includes(text)).length,
    setRules: (next) => {
      rules = next
    },
    refuse: closeAll,
    accept: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject)
          resolve()
        })
      }),
  }
}

function handle(upstream: URL, req: IncomingMessage, res: ServerResponse, fault: UpstreamFault | undefined): void {
  switch (fault?.kind) {
    case undefined:
      forward(upstream, req, res, undefined)
      return
    case 'delay': {
      const timer = setTimeout(() => {
        forward(upstream, req, res, undefined)
      }, fault.ms)
      res.once('close', () => {
        clearTimeout(timer)
      })
      return
    }
    case 'status': {
      req.resume()
      const body = `proxy says ${String(fault.status)}\n`
      res.writeHead(fault.status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) })
      res.end(body)
      return
    }
    case 'blackhole':
      // Read the request and say nothing: the client must time out by itself.
      req.resume()
      return
    default:
      forward(upstream, req, res, fault)
  }
}

type BodyFault = Extract<UpstreamFault, { kind: 'truncate' | 'wrong-bytes' | 'rewrite' | 'headers' }>

function forward(upstream: URL, req: IncomingMessage, res: ServerResponse, fault: BodyFault | undefined): void {
  const headers = { ...req.headers, host: upstream.host }
  // A body the proxy changes must come uncompressed.
  if (fault !== undefined && fault.kind !== 'headers') delete headers['accept-encoding']
  // A page the proxy rewrites is another page: a 304 to the client's If-None-Match (the
  // original's ETag) would keep the old one and the rewrite would change nothing.
  if (fault?.kind === 'rewrite') delete headers['if-none-match']
  const out = httpRequest(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
    (back) => {
      if (fault === undefined || fault.kind === 'headers') {
        res.writeHead(back.statusCode ?? 502, { ...back.headers, ...fault?.headers })
        back.pipe(res)
        return
      }
      void readAll(back).then(
        (body) => {
          sendChanged(res, back, body, fault)
        },
        () => {
          res.destroy()
        },
      )
    },
  )
  out.once('error', () => {
    res.destroy()
  })
  res.once('close', () => {
    if (!res.writableFinished) out.destroy()
  })
  req.pipe(out)
}

function sendChanged(
  res: ServerResponse,
  back: IncomingMessage,
  body: Buffer,
  fault: Exclude<BodyFault, { kind: 'headers' }>,
): void {
  const headers = { ...back.headers }
  // The changed body gets its own length and no validators of the original.
  delete headers.etag
  switch (fault.kind) {
    case 'truncate':
      res.writeHead(back.statusCode ?? 200, { ...headers, 'content-length': String(body.length) })
      res.write(body.subarray(0, Math.min(fault.bytes, body.length)), () => {
        // Reset rather than end: the client sees fewer bytes than Content-Length announced.
        res.socket?.resetAndDestroy()
      })
      return
    case 'wrong-bytes': {
      const changed = Buffer.from(body)
      const middle = Math.floor(changed.length / 2)
      changed[middle] = (changed[middle] ?? 0) ^ 0xff
      res.writeHead(back.statusCode ?? 200, { ...headers, 'content-length': String(changed.length) })
      res.end(changed)
      return
    }
    case 'rewrite': {
      const changed = Buffer.from(body.toString('utf8').replaceAll(fault.from, fault.to), 'utf8')
      res.writeHead(back.statusCode ?? 200, { ...headers, 'content-length': String(changed.length) })
      res.end(changed)
    }
  }
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
