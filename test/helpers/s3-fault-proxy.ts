// A small HTTP proxy between eggserve and moto that misbehaves on request, the way real
// stores do and moto does not: 503 SlowDown, 409 ConditionalRequestConflict, 412, 403
// AccessDenied, stalls, a store that ignores If-None-Match (some S3-compatible servers do),
// and strict authentication (the access key must be the expected one; a presigned request
// must not also carry an Authorization header, as S3 answers "Only one auth mechanism
// allowed"). It counts every request by operation.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'

/** A request as the proxy saw it. */
export interface ProxiedRequest {
  readonly method: string
  /** Path without the query, e.g. /bucket/prefix/demo/demo-1.0.tar.gz */
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingMessage['headers']
  /** ListObjectsV2, GetObject, PutObject, CompleteMultipartUpload... */
  readonly operation: string
}

/** What a rule does to the requests it matches. */
export type FaultAction =
  | { readonly kind: 'slow-down' }
  | { readonly kind: 'conflict' }
  | { readonly kind: 'precondition-failed' }
  | { readonly kind: 'access-denied' }
  | { readonly kind: 'internal-error' }
  /** Hold the request this long before forwarding it (the client may give up first). */
  | { readonly kind: 'stall'; readonly ms: number }

/** A fault for matching requests, `times` times (default: always). */
export interface FaultRule {
  readonly match: (request: ProxiedRequest) => boolean
  readonly action: FaultAction
  times?: number
}

/** A running proxy. */
export interface FaultProxy {
  /** Point eggserve here (path-style). */
  readonly url: string
  /** Every request seen, in order. */
  readonly requests: ProxiedRequest[]
  /** How many requests of `operation` were seen (all of them without an argument). */
  count(operation?: string): number
  /** The most requests of `operation` that were in progress at the same time. */
  peak(operation: string): number
  /** Requests of `operation` in progress now. */
  inFlight(operation: string): number
  /** Answers to `operation` closed before their last byte was sent (the client went away). */
  cut(operation: string): number
  /** Replace the rules (first match wins). */
  setRules(rules: FaultRule[]): void
  /** Forward without If-None-Match: the store then overwrites instead of answering 412. */
  ignoreIfNoneMatch: boolean
  /** Refuse requests not signed with this access key (403 InvalidAccessKeyId); undefined: accept all. */
  strictAuth: { readonly accessKeyId: string } | undefined
}

/** Start a proxy to `target` (e.g. moto's endpoint); closed after the test. */
export async function startFaultProxy(t: TestContext, target: string): Promise<FaultProxy> {
  const upstream = new URL(target)
  let rules: FaultRule[] = []
  const requests: ProxiedRequest[] = []
  const inFlight = new Map<string, number>()
  const peaks = new Map<string, number>()
  const cuts = new Map<string, number>()
  const state: Pick<FaultProxy, 'ignoreIfNoneMatch' | 'strictAuth'> = {
    ignoreIfNoneMatch: false,
    strictAuth: undefined,
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy')
    const seen: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      operation: operationOf(req.method ?? 'GET', url, req.headers),
    }
    requests.push(seen)
    const now = (inFlight.get(seen.operation) ?? 0) + 1
    inFlight.set(seen.operation, now)
    peaks.set(seen.operation, Math.max(now, peaks.get(seen.operation) ?? 0))
    res.once('close', () => {
      inFlight.set(seen.operation, (inFlight.get(seen.operation) ?? 1) - 1)
      if (!res.writableFinished) cuts.set(seen.operation, (cuts.get(seen.operation) ?? 0) + 1)
    })
    const refusal = authRefusal(seen, state.strictAuth)
    if (refusal !== undefined) {
      answer(req, res, refusal)
      return
    }
    const rule = rules.find((candidate) => (candidate.times ?? 1) > 0 && candidate.match(seen))
    if (rule?.times !== undefined) rule.times--
    const action = rule?.action
    if (action === undefined || action.kind === 'stall') {
      const forward = (): void => {
        forwardTo(upstream, req, res, state.ignoreIfNoneMatch)
      }
      if (action === undefined) forward()
      else {
        const timer = setTimeout(forward, action.ms)
        res.once('close', () => {
          clearTimeout(timer)
        })
      }
      return
    }
    answer(req, res, ERRORS[action.kind])
  })
  // Keep-alive sockets of the SDK must not hold the test open.
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo // listen() on a TCP port gives an AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    count: (operation) =>
      operation === undefined ? requests.length : requests.filter((request) => request.operation === operation).length,
    peak: (operation) => peaks.get(operation) ?? 0,
    inFlight: (operation) => inFlight.get(operation) ?? 0,
    cut: (operation) => cuts.get(operation) ?? 0,
    setRules: (next) => {
      rules = next
    },
    get ignoreIfNoneMatch() {
      return state.ignoreIfNoneMatch
    },
    set ignoreIfNoneMatch(value) {
      state.ignoreIfNoneMatch = value
    },
    get strictAuth() {
      return state.strictAuth
    },
    set strictAuth(value) {
      state.strictAuth = value
    },
  }
}

interface ErrorAnswer {
  readonly status: number
  readonly code: string
  readonly message: string
}

const ERRORS: Readonly<Record<Exclude<FaultAction['kind'], 'stall'>, ErrorAnswer>> = {
  'slow-down': { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
  conflict: {
    status: 409,
    code: 'ConditionalRequestConflict',
    message: 'A conflicting conditional operation is currently in progress against this resource. Please try again.',
  },
  'precondition-failed': {
    status: 412,
    code: 'PreconditionFailed',
    message: 'At least one of the pre-conditions you specified did not hold',
  },
  'access-denied': { status: 403, code: 'AccessDenied', message: 'Access Denied' },
  'internal-error': {
    status: 500,
    code: 'InternalError',
    message: 'We encountered an internal error. Please try again.',
  },
}

// S3's error document (API reference, "Error responses"); HEAD answers carry no body.
function answer(req: IncomingMessage, res: ServerResponse, error: ErrorAnswer): void {
  req.resume()
  const body =
    req.method === 'HEAD'
      ? ''
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${error.message}</Message><RequestId>proxy</RequestId></Error>`
  res.writeHead(error.status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': 'proxy',
  })
  res.end(body)
}

function authRefusal(request: ProxiedRequest, strict: FaultProxy['strictAuth']): ErrorAnswer | undefined {
  if (strict === undefined) return undefined
  const authorization = request.headers.authorization
  const presigned = request.query.has('X-Amz-Signature')
  if (presigned && authorization !== undefined)
    return {
      status: 400,
      code: 'InvalidArgument',
      message:
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    }
  const credential = presigned
    ? (request.query.get('X-Amz-Credential') ?? '')
    : (/Credential=([^,]+)/.exec(authorization ?? '')?.[1] ?? '')
  const accessKeyId = credential.split('/')[0] ?? ''
  if (accessKeyId === '') return ERRORS['access-denied']
  if (accessKeyId !== strict.accessKeyId)
    return {
      status: 403,
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
    }
  return undefined
}

function forwardTo(upstream: URL, req: IncomingMessage, res: ServerResponse, ignoreIfNoneMatch: boolean): void {
  const headers = { ...req.headers, host: upstream.host }
  if (ignoreIfNoneMatch) delete headers['if-none-match']
  const out = httpRequest(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
    (back) => {
      res.writeHead(back.statusCode ?? 502, back.headers)
      back.pipe(res)
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

/** The S3 operation of a path-style request, enough to count and match. */
export function operationOf(method: string, url: URL, headers: IncomingMessage['headers'] = {}): string {
  const segments = url.pathname.split('/').filter((segment) => segment !== '')
  const onBucket = segments.length <= 1
  const query = url.searchParams
  if (onBucket) {
    if (method === 'GET' && query.has('uploads')) return 'ListMultipartUploads'
    if (method === 'GET') return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects'
    if (method === 'PUT') return 'CreateBucket'
    if (method === 'HEAD') return 'HeadBucket'
    if (method === 'POST' && query.has('delete')) return 'DeleteObjects'
    return `${method} bucket`
  }
  if (method === 'HEAD') return 'HeadObject'
  if (method === 'GET') return query.has('uploadId') ? 'ListParts' : 'GetObject'
  if (method === 'DELETE') return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject'
  if (method === 'POST') return query.has('uploads') ? 'CreateMultipartUpload' : 'CompleteMultipartUpload'
  const copy = headers['x-amz-copy-source'] !== undefined
  if (method === 'PUT' && query.has('partNumber')) return copy ? 'UploadPartCopy' : 'UploadPart'
  if (method === 'PUT') return copy ? 'CopyObject' : 'PutObject'
  return `${method} object`
}
