// Sending index pages and API documents: content negotiation (PEP 691), caching headers and
// gzip (checklist §3, §8), over the page cache. This is the hottest path of the server, so the
// work that does not depend on the request is done once per page (see RenderedPage), and the
// answers for a given Accept / Accept-Encoding header are remembered.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { evaluatePreconditions } from '../core/conditional.js'
import { acceptsGzip, negotiateSimple, V1_JSON, type Negotiated, type SimpleMediaType } from '../core/negotiation.js'
import { GZIP_TAG_SUFFIX, type PageCache, type RenderedPage } from './page-cache.js'

/** What every cached response needs from the app. */
export interface PageOptions {
  readonly cache: PageCache
  /** The Cache-Control value of pages (`--cache-control`). */
  readonly cacheControl: string
}

/** A cached document to send. */
export interface Representation {
  /** Identifies what the document shows, e.g. "simple|foo". */
  readonly key: string
  /** Index generation the document reflects; a new one means render again. */
  readonly version: number
  /** Newest modification among what the document shows (0 when unknown). */
  readonly lastModifiedMs: number
  readonly contentType: string
  readonly render: () => Promise<string>
}

/** A negotiated index page: rendered per media type. */
export interface PageRequest extends Omit<Representation, 'contentType' | 'render'> {
  readonly render: (type: SimpleMediaType) => Promise<string>
}

// Clients send a handful of distinct header values; a small memo avoids parsing them per request.
const MEMO_LIMIT = 512
const negotiatedMemo = new Map<string, Negotiated>()
const gzipMemo = new Map<string, boolean>()

function memo<T> (map: Map<string, T>, key: string, compute: () => T): T {
  let value = map.get(key)
  if (value === undefined) {
    if (map.size >= MEMO_LIMIT) map.clear()
    value = compute()
    map.set(key, value)
  }
  return value
}

/** Negotiate the media type (Accept, ?format=), then send the page; 406 when nothing fits. */
export function sendPage (request: FastifyRequest, reply: FastifyReply, options: PageOptions, page: PageRequest): Promise<FastifyReply> | FastifyReply {
  // C-4: the body depends on Accept (and on Accept-Encoding), 406 and 304 included.
  reply.header('vary', 'Accept, Accept-Encoding')
  const accept = request.headers.accept
  const format = formatParameter(request.query)
  const negotiated = memo(negotiatedMemo, `${accept ?? ''}\u0000${format ?? '\u0001'}`, () => negotiateSimple(accept, format))
  if (!negotiated.ok) return reply.code(406).type('text/plain; charset=utf-8').send(`${negotiated.reason}\n`)
  const { type } = negotiated
  return sendRepresentation(request, reply, options, {
    ...page,
    key: `${page.key}|${type}`,
    // C-3: the exact lowercase type; HTML also names its charset (H-15).
    contentType: type === V1_JSON ? type : `${type}; charset=utf-8`,
    render: () => page.render(type),
  })
}

/** Send a cached document with a strong ETag, Last-Modified, Cache-Control, 304s and gzip. */
export function sendRepresentation (request: FastifyRequest, reply: FastifyReply, options: PageOptions, doc: Representation): Promise<FastifyReply> | FastifyReply {
  const cached = options.cache.get(doc.key, doc.version, doc.lastModifiedMs, doc.render)
  return cached instanceof Promise ? cached.then((page) => send(request, reply, options, doc, page)) : send(request, reply, options, doc, cached)
}

function send (request: FastifyRequest, reply: FastifyReply, options: PageOptions, doc: Representation, page: RenderedPage): FastifyReply {
  const headers = request.headers
  const encoding = headers['accept-encoding']
  const gzip = encoding !== undefined && memo(gzipMemo, encoding, () => acceptsGzip(encoding))
  if (reply.getHeader('vary') === undefined) reply.header('vary', 'Accept-Encoding')
  reply.header('etag', gzip ? page.gzipEtag : page.etag)
  reply.header('cache-control', options.cacheControl)
  if (page.lastModified !== undefined) reply.header('last-modified', page.lastModified)
  if (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined || headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined) {
    // K-2: a revalidation matches either form of the same body.
    const ifNoneMatch = headers['if-none-match']?.replaceAll(GZIP_TAG_SUFFIX, '"')
    const precondition = evaluatePreconditions({ ...headers, 'if-none-match': ifNoneMatch }, { etag: page.etag, lastModifiedMs: page.lastModifiedMs })
    if (precondition === 'not-modified') return reply.code(304).send()
    if (precondition === 'precondition-failed') return reply.code(412).send()
  }
  reply.type(doc.contentType)
  if (gzip) return reply.header('content-encoding', 'gzip').send(page.gzipped)
  return reply.send(page.body)
}

function formatParameter (query: unknown): string | undefined {
  if (typeof query !== 'object' || query === null || !('format' in query)) return undefined
  const format: unknown = query.format
  // A repeated ?format= is a list, which C-5 does not allow: pass it on to be refused.
  return typeof format === 'string' ? format : Array.isArray(format) ? format.join(',') : undefined
}
