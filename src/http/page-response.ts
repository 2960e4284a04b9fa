// Sending index pages and API documents: content negotiation (PEP 691), caching headers and
// gzip (checklist §3, §8), over the page cache.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { evaluatePreconditions, httpDate } from '../core/conditional.js'
import { acceptsGzip, negotiateSimple, V1_JSON, type SimpleMediaType } from '../core/negotiation.js'
import type { PageCache } from './page-cache.js'

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

const GZIP_TAG_SUFFIX = '-gzip"'

/** Negotiate the media type (Accept, ?format=), then send the page; 406 when nothing fits. */
export async function sendPage (request: FastifyRequest, reply: FastifyReply, options: PageOptions, page: PageRequest): Promise<FastifyReply> {
  // C-4: the body depends on Accept (and on Accept-Encoding), 406 and 304 included.
  reply.header('vary', 'Accept, Accept-Encoding')
  const negotiated = negotiateSimple(request.headers.accept, formatParameter(request.query))
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
export async function sendRepresentation (request: FastifyRequest, reply: FastifyReply, options: PageOptions, doc: Representation): Promise<FastifyReply> {
  if (reply.getHeader('vary') === undefined) reply.header('vary', 'Accept-Encoding')
  const rendered = await options.cache.get(doc.key, doc.version, doc.render)
  const gzip = acceptsGzip(request.headers['accept-encoding'])
  // K-2: the tag differs per content-coding; a revalidation matches either form of the same body.
  reply.header('etag', gzip ? rendered.etag.slice(0, -1) + GZIP_TAG_SUFFIX : rendered.etag)
  reply.header('cache-control', options.cacheControl)
  if (doc.lastModifiedMs > 0) reply.header('last-modified', httpDate(doc.lastModifiedMs))
  const ifNoneMatch = request.headers['if-none-match']?.replaceAll(GZIP_TAG_SUFFIX, '"')
  const precondition = evaluatePreconditions({ ...request.headers, 'if-none-match': ifNoneMatch }, { etag: rendered.etag, lastModifiedMs: doc.lastModifiedMs })
  if (precondition === 'not-modified') return reply.code(304).send()
  if (precondition === 'precondition-failed') return reply.code(412).send()
  reply.type(doc.contentType)
  if (gzip) return reply.header('content-encoding', 'gzip').send(rendered.gzipped)
  return reply.send(rendered.body)
}

function formatParameter (query: unknown): string | undefined {
  if (typeof query !== 'object' || query === null || !('format' in query)) return undefined
  const format: unknown = query.format
  // A repeated ?format= is a list, which C-5 does not allow: pass it on to be refused.
  return typeof format === 'string' ? format : Array.isArray(format) ? format.join(',') : undefined
}
