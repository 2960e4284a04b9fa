// Serving one distribution: open once, describe the descriptor, answer ranges and conditionals;
// a small file held in memory is answered synchronously, as a cached page is.
import { finished, type Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { evaluatePreconditions, rangeAllowed } from '../core/conditional.js'
import { accelPath, offloadable } from '../core/offload.js'
import { contentRange, planRange, unsatisfiedRange, type ByteRange, type RangePlan } from '../core/range.js'
import { FileChangedError, NotFoundError } from '../errors.js'
import type { HeldFile } from '../storage/small-file-cache.js'
import type { OpenFile, Storage, StoredFile } from '../storage/storage.js'
import { contentTypeFor } from './content-type.js'
import { fileValidators } from './file-validators.js'
import { setLastModified } from './last-modified.js'

// Files (or ranges) up to this size are read in one go rather than streamed.
const SMALL = 64 * 1024

/**
 * Where downloads are opened: the storage, or a cache in front of it (SmallFileCache), whose
 * held() answers a file it holds in memory without a promise.
 */
export type DownloadFiles = Pick<Storage, 'open'> & { held?(key: string, vouched?: string): HeldFile | undefined }

/** What sendDistribution needs. */
export interface DistributionOptions {
  readonly files: DownloadFiles
  readonly key: string
  readonly filename: string
  /** The identity the index knows the file by. */
  readonly identity?: string
  /**
   * The file as the index's listing describes it: a store whose look-up costs a round trip
   * (S3) answers from it, and its reads then confirm the version (OpenFile.startReadStream).
   */
  readonly listed?: StoredFile | undefined
  /**
   * The index holds `identity` from a folder it trusts without looking (findProjectNow()): a
   * copy held in memory with that identity needs no stat (SmallFileCache.held()).
   */
  readonly vouched?: boolean
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
export function sendDistribution(
  request: FastifyRequest,
  reply: FastifyReply,
  options: DistributionOptions,
): FastifyReply | Promise<FastifyReply> {
  // A file held in memory is answered at once: nothing to open, read or close.
  const held = options.files.held?.(options.key, options.vouched === true ? options.identity : undefined)
  if (held === undefined) return sendOpened(request, reply, options)
  const body = prepare(request, reply, options, held.file)
  if (body === undefined) return reply.send()
  if (body === UNSATISFIABLE) return reply.send(UNSATISFIABLE)
  return reply.send(body.range === undefined ? held.bytes : held.bytes.subarray(body.range.start, body.range.end + 1))
}

async function sendOpened(
  request: FastifyRequest,
  reply: FastifyReply,
  options: DistributionOptions,
): Promise<FastifyReply> {
  const opened = await options.files.open(options.key, {
    ...(options.identity === undefined ? {} : { expected: options.identity }),
    ...(options.listed === undefined ? {} : { listed: options.listed }),
  })
  if (opened === undefined) throw new NotFoundError()
  const body = prepare(request, reply, options, opened.file)
  if (body === undefined || body === UNSATISFIABLE) {
    await opened.close()
    return reply.send(body)
  }
  if (opened.startReadStream === undefined) return sendBytes(reply, opened, body)
  try {
    return await sendConfirmed(reply, opened, body, opened.startReadStream)
  } catch (err) {
    if (!(err instanceof FileChangedError)) throw err
  }
  // The listed version was replaced or removed since the listing, and nothing was sent: the
  // headers set were that version's. Look the file up again and answer for what is there now
  // (another ETag, size and date, or 404), so headers and bytes are always of one version.
  reply.code(200)
  for (const name of PREPARED_HEADERS) reply.removeHeader(name)
  return sendOpened(request, reply, { ...options, listed: undefined })
}

// What prepare() sets for a file that has a body: none of it may outlive the version it
// described (a 404 for a file removed since must not carry its ETag or length).
const PREPARED_HEADERS = [
  'accept-ranges',
  'etag',
  'last-modified',
  'content-type',
  'content-range',
  'content-length',
] as const

/**
 * sendBytes() for a file described from a listing: the headers go only once the store has
 * answered for that very version (FileChangedError otherwise, with nothing sent).
 */
async function sendConfirmed(
  reply: FastifyReply,
  opened: OpenFile,
  { range, length }: Body,
  start: NonNullable<OpenFile['startReadStream']>,
): Promise<FastifyReply> {
  if (length <= SMALL) return sendBytes(reply, opened, { range, length })
  let stream
  try {
    stream = await start(range, reply.raw)
  } catch (err) {
    await opened.close()
    throw err
  }
  return sendStream(reply, opened, stream)
}

// The body of a 416 (its status and headers are set by prepare()).
const UNSATISFIABLE = 'Range Not Satisfiable\n'

/** The part of the file a response carries: all of it, or one range. */
interface Body {
  readonly range: ByteRange | undefined
  readonly length: number
}

/**
 * Set the status and headers of the answer to `request` for `file`, and say what it carries:
 * the file's bytes (Body), the 416 text, or nothing (304, 412, HEAD, an offloaded download).
 * Synchronous and free of I/O, so a file held in memory is answered without a promise.
 */
function prepare(
  request: FastifyRequest,
  reply: FastifyReply,
  options: DistributionOptions,
  file: StoredFile,
): Body | typeof UNSATISFIABLE | undefined {
  const validators = fileValidators(file)
  reply.header('accept-ranges', 'bytes')
  reply.header('etag', validators.etag)
  setLastModified(reply, validators.lastModifiedMs, validators.lastModified)

  const precondition = evaluatePreconditions(request.headers, validators)
  if (precondition !== 'proceed') {
    reply.code(precondition === 'not-modified' ? 304 : 412)
    return undefined
  }

  const ifRange = request.headers['if-range']
  const plan: RangePlan = rangeAllowed(typeof ifRange === 'string' ? ifRange : undefined, validators)
    ? planRange(request.headers.range, file.size)
    : { kind: 'full' }
  if (plan.kind === 'unsatisfiable') {
    reply.code(416).header('content-range', unsatisfiedRange(file.size)).type('text/plain; charset=utf-8')
    return UNSATISFIABLE
  }

  // Archives are sent as they are: never a Content-Encoding: pip hashes the bytes it receives.
  reply.type(contentTypeFor(options.filename))
  if (options.offload !== undefined && offloadable(request.headers, plan)) {
    // nginx takes the status, Content-Length and Content-Range from the file it opens;
    // Content-Type, Cache-Control and Accept-Ranges cross the redirect, ETag and Last-Modified
    // are put back by the shipped config (contrib/nginx/eggserve.conf). nginx adds an
    // Accept-Ranges of its own to a 200 but not to a 206 (ngx_http_range_filter_module.c), so
    // ours goes along only for a range.
    if (plan.kind !== 'partial') reply.removeHeader('accept-ranges')
    reply.header('x-accel-redirect', accelPath(options.offload, options.key))
    return undefined
  }
  const range = plan.kind === 'partial' ? plan.range : undefined
  if (range !== undefined) reply.code(206).header('content-range', contentRange(range, file.size))
  const length = range === undefined ? file.size : range.end - range.start + 1
  reply.header('content-length', length)
  return request.method === 'HEAD' ? undefined : { range, length }
}

/** Send `body` of an opened file: read at once when small, else streamed; the file is closed after. */
async function sendBytes(reply: FastifyReply, opened: OpenFile, { range, length }: Body): Promise<FastifyReply> {
  if (length <= SMALL) {
    // A small file in one read, sent as a buffer: no stream to set up and tear down.
    const bytes = await opened.read(range ?? { start: 0, end: opened.file.size - 1 }).finally(() => opened.close())
    return reply.send(bytes)
  }
  // The response as the sink: the file is read into buffers reused once the response sent them.
  return sendStream(reply, opened, opened.createReadStream(range, reply.raw))
}

function sendStream(reply: FastifyReply, opened: OpenFile, stream: Readable): FastifyReply {
  // The stream does not own the file: release it however the stream ends (done, failed, or
  // destroyed because the client went away).
  finished(stream, () => {
    void opened.close()
  })
  return reply.send(stream)
}
