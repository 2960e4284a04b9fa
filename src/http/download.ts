// Serving one distribution: open once, describe the descriptor, answer ranges and conditionals.
import { finished } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { evaluatePreconditions, rangeAllowed, type Validators } from '../core/conditional.js'
import { accelPath, offloadable } from '../core/offload.js'
import { contentRange, planRange, unsatisfiedRange, type RangePlan } from '../core/range.js'
import { NotFoundError } from '../errors.js'
import type { Storage } from '../storage/storage.js'
import { contentTypeFor } from './content-type.js'
import { strongEtag } from './etag.js'
import { setLastModified } from './last-modified.js'

// Files (or ranges) up to this size are read in one go rather than streamed.
const SMALL = 64 * 1024

/** Strong entity tag from a file identity: it changes whenever the bytes may have changed. */
export function etagFor(identity: string): string {
  // The identity (device:inode:size:mtime:ctime) is opaque storage detail; send a digest of it.
  return strongEtag(identity)
}

/** What sendDistribution needs. */
export interface DistributionOptions {
  /** Where the file is opened: the storage, or a cache in front of it (SmallFileCache). */
  readonly files: Pick<Storage, 'open'>
  readonly key: string
  readonly filename: string
  /** The identity the index knows the file by. */
  readonly identity?: string
  /** --x-accel-redirect: the internal nginx location that sends the bytes. */
  readonly offload?: string | undefined
}

/**
 * Send the stored file `key` (already known to the index) with Content-Length, strong ETag,
 * Last-Modified and Accept-Ranges; answer Range (single range, RFC 9110 §14), If-Range,
 * If-None-Match, If-Modified-Since, If-Match and If-Unmodified-Since; HEAD sends headers only.
 * With `offload`, a download that nginx would answer the same way is handed to it (see
 * offloadable() and docs/nginx.md); everything else is answered here, as without it.
 */
export async function sendDistribution(
  request: FastifyRequest,
  reply: FastifyReply,
  options: DistributionOptions,
): Promise<FastifyReply> {
  const opened = await options.files.open(
    options.key,
    options.identity === undefined ? {} : { expected: options.identity },
  )
  if (opened === undefined) throw new NotFoundError()
  const { file } = opened
  const validators: Validators = { etag: etagFor(file.identity), lastModifiedMs: file.mtimeMs }
  reply.header('accept-ranges', 'bytes')
  reply.header('etag', validators.etag)
  setLastModified(reply, validators.lastModifiedMs)

  const precondition = evaluatePreconditions(request.headers, validators)
  if (precondition !== 'proceed') {
    await opened.close()
    return reply.code(precondition === 'not-modified' ? 304 : 412).send()
  }

  const ifRange = request.headers['if-range']
  const plan: RangePlan = rangeAllowed(typeof ifRange === 'string' ? ifRange : undefined, validators)
    ? planRange(request.headers.range, file.size)
    : { kind: 'full' }
  if (plan.kind === 'unsatisfiable') {
    await opened.close()
    return reply
      .code(416)
      .header('content-range', unsatisfiedRange(file.size))
      .type('text/plain; charset=utf-8')
      .send('Range Not Satisfiable\n')
  }

  // Archives are sent as they are: never a Content-Encoding: pip hashes the bytes it receives.
  reply.type(contentTypeFor(options.filename))
  if (options.offload !== undefined && offloadable(request.headers, plan)) {
    await opened.close()
    // nginx takes the status, Content-Length and Content-Range from the file it opens;
    // Content-Type, Cache-Control and Accept-Ranges cross the redirect, ETag and Last-Modified
    // are put back by the shipped config (contrib/nginx/eggserve.conf). nginx adds an
    // Accept-Ranges of its own to a 200 but not to a 206 (ngx_http_range_filter_module.c), so
    // ours goes along only for a range.
    if (plan.kind !== 'partial') reply.removeHeader('accept-ranges')
    return reply.header('x-accel-redirect', accelPath(options.offload, options.key)).send()
  }
  const range = plan.kind === 'partial' ? plan.range : undefined
  if (range !== undefined) reply.code(206).header('content-range', contentRange(range, file.size))
  reply.header('content-length', range === undefined ? file.size : range.end - range.start + 1)
  if (request.method === 'HEAD') {
    await opened.close()
    return reply.send()
  }
  const length = range === undefined ? file.size : range.end - range.start + 1
  if (length <= SMALL) {
    // A small file in one read, sent as a buffer: no stream to set up and tear down.
    const bytes = await opened.read(range ?? { start: 0, end: file.size - 1 }).finally(() => opened.close())
    return reply.send(bytes)
  }
  // The response as the sink: the file is read into buffers reused once the response sent them.
  const stream = opened.createReadStream(range, reply.raw)
  // The stream does not own the file: release it however the stream ends (done, failed, or
  // destroyed because the client went away).
  finished(stream, () => {
    void opened.close()
  })
  return reply.send(stream)
}
