// Serving a wheel's core metadata (PEP 658 / 714): the exact bytes whose sha256 the pages advertise.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { evaluatePreconditions } from '../core/conditional.js'
import type { DistFile } from '../core/index-model.js'
import { NotFoundError } from '../errors.js'
import type { CoreMetadataStore } from '../live-index/metadata-store.js'
import { strongEtag } from './etag.js'
import { setLastModified } from './last-modified.js'

/** Send `<wheel>.metadata`: 404 when the wheel has no readable METADATA (then no page advertises it). */
export async function sendMetadata(
  request: FastifyRequest,
  reply: FastifyReply,
  options: { metadata: CoreMetadataStore; file: DistFile },
): Promise<FastifyReply> {
  const read = await options.metadata.read(options.file)
  if (read === undefined) throw new NotFoundError()
  return sendMetadataBytes(request, reply, read.bytes, options.file.mtimeMs)
}

/**
 * Send core metadata `bytes` (PEP 658), with a strong ETag, the Last-Modified of the file they
 * describe (`lastModifiedMs`: its download's own, so both answers carry the same date), and 304s.
 */
export function sendMetadataBytes(
  request: FastifyRequest,
  reply: FastifyReply,
  bytes: Buffer,
  lastModifiedMs: number,
): FastifyReply {
  const etag = strongEtag(bytes)
  reply.header('etag', etag)
  // The metadata changes only with its file, so the file's modification time dates it. RFC 9110
  // §13.1.3: If-Modified-Since then answers 304, unless If-None-Match is sent (§13.2.2: it wins).
  setLastModified(reply, lastModifiedMs)
  if (evaluatePreconditions(request.headers, { etag, lastModifiedMs }) === 'not-modified') return reply.code(304).send()
  // PEP 658: a stable type and never a content-coding; pip hashes the raw body.
  return reply.type('text/plain; charset=utf-8').send(bytes)
}
