// Sending index pages and API documents: content negotiation (PEP 691), caching headers and
// gzip, over the page cache. This is the hottest path of the server, so the
// work that does not depend on the request is done once per page (see RenderedPage), the
// answers for a given Accept / Accept-Encoding header are remembered, and nothing is built
// per request that a lookup does not need.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { LRUCache } from 'lru-cache'
import { evaluatePreconditions } from '../core/conditional.js'
import {
  acceptsGzip,
  negotiateSimple,
  SIMPLE_MEDIA_TYPES,
  V1_JSON,
  type Negotiated,
  type SimpleMediaType,
} from '../core/negotiation.js'
import { GZIP_TAG_SUFFIX, type PageCache, type PageKey, type RenderedPage } from './page-cache.js'
import { setLastModified } from './last-modified.js'
import { PAGE_CSP } from './security-headers.js'

/** What every cached response needs from the app. */
export interface PageOptions {
  readonly cache: PageCache
  /** The Cache-Control value of pages (`--cache-control`). */
  readonly cacheControl: string
}

/** What a cached document shows and how to make it. */
export interface Document {
  /** Index generation the document reflects; a new one means render again. */
  readonly generation: number
  /** Newest modification among what the document shows (0 when unknown). */
  readonly lastModifiedMs: number
}

// Clients send a handful of distinct header values; a small memo avoids parsing them per
// request. The values are the client's, so the memos are bounded by bytes (keys included), and
// a value too long to be worth keeping is parsed every time.
const MEMO_BYTES = 64 * 1024
const MEMO_ENTRY_BYTES = 1024
// The key's UTF-16 bytes plus lru-cache's bookkeeping and the value.
const memoSize = (_value: unknown, key: string): number => key.length * 2 + 64
const negotiatedMemo = new LRUCache<string, Negotiated>({
  maxSize: MEMO_BYTES,
  maxEntrySize: MEMO_ENTRY_BYTES,
  sizeCalculation: memoSize,
})
const gzipMemo = new LRUCache<string, boolean>({
  maxSize: MEMO_BYTES,
  maxEntrySize: MEMO_ENTRY_BYTES,
  sizeCalculation: memoSize,
})
/** The headers of a representation that depend on its type only. */
interface Representation {
  readonly contentType: string
  /** The Content-Security-Policy of HTML pages. */
  readonly csp: string | undefined
}

// Per negotiated type: the Content-Type (exact and lowercase, as uv compares it; HTML names its
// charset, which easy_install would otherwise take for latin-1) and, for HTML, the page policy.
const REPRESENTATIONS: readonly Representation[] = SIMPLE_MEDIA_TYPES.map((type) =>
  type === V1_JSON ? { contentType: type, csp: undefined } : { contentType: `${type}; charset=utf-8`, csp: PAGE_CSP },
)

// A client sends the same Accept and Accept-Encoding on every request, so the last value of each
// is checked before the memo (a string comparison instead of an LRU lookup and its bookkeeping).
let lastNegotiation: { readonly key: string; readonly value: Negotiated } | undefined
let lastEncoding: { readonly encoding: string; readonly gzip: boolean } | undefined

function negotiate(accept: string | undefined, format: string | undefined): Negotiated {
  const key = format === undefined ? (accept ?? '') : `${accept ?? ''}\u0000${format}`
  if (lastNegotiation?.key === key) return lastNegotiation.value
  let value = negotiatedMemo.get(key)
  if (value === undefined) {
    value = negotiateSimple(accept, format)
    negotiatedMemo.set(key, value)
  }
  if (memoSize(value, key) <= MEMO_ENTRY_BYTES) lastNegotiation = { key, value }
  return value
}

function gzipWanted(encoding: string | undefined): boolean {
  if (encoding === undefined) return false
  if (lastEncoding?.encoding === encoding) return lastEncoding.gzip
  let value = gzipMemo.get(encoding)
  if (value === undefined) {
    value = acceptsGzip(encoding)
    gzipMemo.set(encoding, value)
  }
  if (memoSize(value, encoding) <= MEMO_ENTRY_BYTES) lastEncoding = { encoding, gzip: value }
  return value
}

/**
 * Negotiate the media type (Accept, ?format=), then send that page; 406 when nothing fits. A
 * page in the cache is sent at once, without a promise (see PageCache.cached()).
 */
export function sendPage(
  request: FastifyRequest,
  reply: FastifyReply,
  options: PageOptions,
  key: { readonly section: string; readonly name: string },
  doc: Document,
  render: (type: SimpleMediaType) => Promise<string>,
): FastifyReply | Promise<FastifyReply> {
  // PEP 691: the body depends on Accept (and on Accept-Encoding), 406 and 304 included.
  reply.header('vary', 'Accept, Accept-Encoding')
  const negotiated = negotiate(request.headers.accept, formatParameter(request.query))
  if (!negotiated.ok) return reply.code(406).type('text/plain; charset=utf-8').send(`${negotiated.reason}\n`)
  const type = negotiated.type
  const variant = SIMPLE_MEDIA_TYPES.indexOf(type)
  const representation = REPRESENTATIONS[variant] ?? { contentType: type, csp: undefined }
  const pageKey = { section: key.section, name: key.name, variant }
  const cached = options.cache.cached(pageKey, doc.generation)
  if (cached !== undefined) return send(request, reply, options, representation, cached)
  return options.cache
    .get(pageKey, doc.generation, doc.lastModifiedMs, () => render(type))
    .then((page) => send(request, reply, options, representation, page))
}

/** Send a cached document (no negotiation) with a strong ETag, Last-Modified, Cache-Control, 304s and gzip. */
export function sendRepresentation(
  request: FastifyRequest,
  reply: FastifyReply,
  options: PageOptions,
  key: PageKey,
  doc: Document & { readonly contentType: string; readonly render: () => Promise<string> },
): FastifyReply | Promise<FastifyReply> {
  reply.header('vary', 'Accept-Encoding')
  const representation = { contentType: doc.contentType, csp: undefined }
  const cached = options.cache.cached(key, doc.generation)
  if (cached !== undefined) return send(request, reply, options, representation, cached)
  return options.cache
    .get(key, doc.generation, doc.lastModifiedMs, doc.render)
    .then((page) => send(request, reply, options, representation, page))
}

function send(
  request: FastifyRequest,
  reply: FastifyReply,
  options: PageOptions,
  representation: Representation,
  page: RenderedPage,
): FastifyReply {
  const headers = request.headers
  const gzip = gzipWanted(headers['accept-encoding'])
  reply.header('etag', gzip ? page.gzipEtag : page.etag)
  reply.header('cache-control', options.cacheControl)
  if (page.lastModified !== undefined) setLastModified(reply, page.lastModifiedMs, page.lastModified)
  if (
    headers['if-none-match'] !== undefined ||
    headers['if-modified-since'] !== undefined ||
    headers['if-match'] !== undefined ||
    headers['if-unmodified-since'] !== undefined
  ) {
    // A revalidation matches either form of the same body (each has its own strong tag).
    const ifNoneMatch = headers['if-none-match']?.replaceAll(GZIP_TAG_SUFFIX, '"')
    const precondition = evaluatePreconditions(
      { ...headers, 'if-none-match': ifNoneMatch },
      { etag: page.etag, lastModifiedMs: page.lastModifiedMs },
    )
    if (precondition === 'not-modified') return reply.code(304).send()
    if (precondition === 'precondition-failed') return reply.code(412).send()
  }
  reply.header('content-type', representation.contentType)
  if (representation.csp !== undefined) reply.header('content-security-policy', representation.csp)
  if (gzip) return reply.header('content-encoding', 'gzip').send(page.gzipped)
  return reply.send(page.body)
}

function formatParameter(query: unknown): string | undefined {
  if (typeof query !== 'object' || query === null || !('format' in query)) return undefined
  const format: unknown = query.format
  // A repeated ?format= is a list, which is not one media type: pass it on to be refused.
  return typeof format === 'string' ? format : Array.isArray(format) ? format.join(',') : undefined
}
