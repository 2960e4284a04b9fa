// Reading objects: HEAD once to describe the object, then ranged GETs (RFC 9110 §14.2, passed
// straight to GetObject) with If-Match on the ETag the HEAD saw, so the bytes always belong to
// the object the headers describe, even if it is replaced meanwhile (then the read fails).
import { Readable } from 'node:stream'
import { GetObjectCommand, HeadObjectCommand, type GetObjectCommandOutput } from '@aws-sdk/client-s3'
import type { ByteRange } from '../core/range.js'
import { FileChangedError, StorageError } from '../errors.js'
import { connectTimeoutMs } from './s3-client.js'
import { describeObject, describedEtag, fail, plainEtag, type S3Context } from './s3-context.js'
import { deferredStream, startedStream, type PushSource, type PushTarget } from './deferred-stream.js'
import { s3ErrorFacts } from './s3-errors.js'
import { plainGet } from './s3-plain-get.js'
import type { OpenFile, StoredFile, StreamSink } from './storage.js'

/** An object as found by HEAD: its description and its ETag (what reads must match). */
export interface FoundObject {
  readonly file: StoredFile
  readonly etag: string
}

/** An object's current description, or undefined when there is no such object. */
export async function headObject(context: S3Context, key: string, object: string): Promise<FoundObject | undefined> {
  try {
    const head = await context.client.send(new HeadObjectCommand({ Bucket: context.bucket, Key: object }))
    const etag = plainEtag(head.ETag)
    return { file: describeObject(key, { etag, size: head.ContentLength ?? 0, lastModified: head.LastModified }), etag }
  } catch (err) {
    if (s3ErrorFacts(err).kind === 'not-found') return undefined
    throw fail(context, err, 'look up', key)
  }
}

/** Open `object` (eggserve key `key`): undefined when it does not exist. */
export async function openObject(context: S3Context, key: string, object: string): Promise<OpenFile | undefined> {
  const found = await headObject(context, key, object)
  return found === undefined ? undefined : openedObject(context, { key, object, ...found })
}

/**
 * `listed` (as a listing described it) opened without a HEAD: no request is made until a read,
 * and every read is a GET with If-Match on the listed ETag, so the bytes are that version's
 * or none (FileChangedError, see OpenFile.startReadStream). Undefined when the listed file is
 * not one this storage described (its identity is not "<etag>:<size>:<key>").
 */
export function openListed(context: S3Context, listed: StoredFile, object: string): OpenFile | undefined {
  const etag = describedEtag(listed)
  if (etag === undefined) return undefined
  // A StoredFile of its own: the caller's may be a larger object (the index's DistFile).
  const file: StoredFile = { key: listed.key, size: listed.size, mtimeMs: listed.mtimeMs, identity: listed.identity }
  return openedObject(context, { key: listed.key, object, file, etag }, { listed: true })
}

/** An OpenFile over an object already described (by a HEAD, a listing, or the write that made it). */
export function openedObject(
  context: S3Context,
  target: FoundObject & { key: string; object: string },
  options: { listed?: boolean } = {},
): OpenFile {
  const { file, etag } = target
  const reads = new Set<Readable>()
  const rangeRead = (range: ByteRange | undefined): RangeRead => ({
    ...target,
    etag,
    size: file.size,
    start: range?.start ?? 0,
    end: range?.end ?? file.size - 1,
  })
  const track = (stream: Readable): Readable => {
    reads.add(stream)
    stream.once('close', () => reads.delete(stream))
    return stream
  }
  return {
    file,
    createReadStream: (range?: ByteRange, sink?: StreamSink) =>
      track(objectStream(context, rangeRead(range), sink, false)),
    read: (range: ByteRange) => readObject(context, rangeRead(range)),
    ...(options.listed === true
      ? {
          startReadStream: async (range: ByteRange | undefined, sink?: StreamSink) =>
            track(await objectStream(context, rangeRead(range), sink, true)),
        }
      : {}),
    close: () => {
      for (const stream of reads) stream.destroy()
      return Promise.resolve()
    },
  }
}

// Bytes buffered ahead of the client before the GET's body is paused.
const STREAM_HIGH_WATER_MARK = 64 * 1024

interface RangeRead {
  readonly key: string
  readonly object: string
  readonly etag: string
  /** The object's size (as the HEAD saw it). */
  readonly size: number
  readonly start: number
  /** Inclusive; below start for nothing. */
  readonly end: number
}

function getObject(context: S3Context, read: RangeRead, signal?: AbortSignal): Promise<GetObjectCommandOutput> {
  // The whole object is asked for without a Range: If-Match already pins the version, and a
  // store may do more for a range (moto copies the object's bytes once more to slice them).
  const whole = read.start === 0 && read.end === read.size - 1
  const command = new GetObjectCommand({
    Bucket: context.bucket,
    Key: read.object,
    ...(whole ? {} : { Range: `bytes=${String(read.start)}-${String(read.end)}` }),
    IfMatch: `"${read.etag}"`,
  })
  return context.client.send(command, signal === undefined ? {} : { abortSignal: signal })
}

// 412: replaced since the HEAD (or the listing); 404: deleted since. Either way these bytes are gone.
function readFailure(context: S3Context, err: unknown, read: RangeRead): Error {
  const { kind } = s3ErrorFacts(err)
  if (kind === 'precondition-failed' || kind === 'not-found')
    return new FileChangedError(`"${read.key}" changed while it was being read`)
  return fail(context, err, 'read', read.key)
}

/** Bytes [start, end] of the object in one buffer. */
async function readObject(context: S3Context, read: RangeRead): Promise<Buffer> {
  if (read.end < read.start) return Buffer.alloc(0)
  try {
    const answer = await getObject(context, read)
    const bytes = (await answer.Body?.transformToByteArray()) ?? new Uint8Array()
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  } catch (err) {
    throw readFailure(context, err, read)
  }
}

// Headers a presigned GET of ours may sign besides Host: anything else and it is left to the SDK.
const PLAIN_SIGNED = new Set(['host', 'if-match', 'range'])

/**
 * The body read off the socket (see s3-plain-get.ts), or undefined: ask with GetObject. The
 * URL is signed for this GET's If-Match and Range, so the store checks them as it would
 * GetObject's; a failure to sign (no credentials) is GetObject's to report.
 */
async function plainBody(
  context: S3Context,
  read: RangeRead,
  signal: AbortSignal,
  into: { target: PushTarget; sink: StreamSink | undefined },
): Promise<PushSource | undefined> {
  const whole = read.start === 0 && read.end === read.size - 1
  const range = `bytes=${String(read.start)}-${String(read.end)}`
  const ifMatch = `"${read.etag}"`
  let url: URL
  try {
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner')
    const command = new GetObjectCommand({
      Bucket: context.bucket,
      Key: read.object,
      ...(whole ? {} : { Range: range }),
      IfMatch: ifMatch,
    })
    url = new URL(await getSignedUrl(context.client, command, { expiresIn: PLAIN_URL_SECONDS }))
  } catch {
    return undefined
  }
  const signed = (url.searchParams.get('X-Amz-SignedHeaders') ?? '').split(';')
  if (!signed.every((name) => PLAIN_SIGNED.has(name))) return undefined
  return plainGet(
    {
      url,
      headers: { 'if-match': ifMatch, ...(whole ? {} : { range }) },
      status: whole ? 200 : 206,
      length: read.end - read.start + 1,
      timeoutMs: context.timeoutMs,
      connectTimeoutMs: connectTimeoutMs(context.timeoutMs),
    },
    signal,
    into.target,
    into.sink,
  )
}

// The URL is used at once: its validity only has to outlast the connection's set-up.
const PLAIN_URL_SECONDS = 300
// The plain GET opens a connection (and a TLS session) of its own where GetObject reuses the
// SDK's kept-alive ones: worth it for a large body, whose copies and collections cost more
// than a handshake, not for a wheel of a few hundred KiB.
const PLAIN_MIN_BYTES = 1024 * 1024

/**
 * Stream bytes [start, end] of the object. The GET starts at the first read (started: at once,
 * the stream given once the store has answered); the body is passed on with backpressure, and
 * destroying the stream aborts the request.
 */
function objectStream(context: S3Context, read: RangeRead, sink: StreamSink | undefined, started: false): Readable
function objectStream(
  context: S3Context,
  read: RangeRead,
  sink: StreamSink | undefined,
  started: true,
): Promise<Readable>
function objectStream(
  context: S3Context,
  read: RangeRead,
  sink: StreamSink | undefined,
  started: boolean,
): Readable | Promise<Readable> {
  const controller = new AbortController()
  const make = async (target: PushTarget): Promise<Readable | PushSource> => {
    if (read.end < read.start) return Readable.from([])
    const plain =
      read.end - read.start + 1 >= PLAIN_MIN_BYTES
        ? await plainBody(context, read, controller.signal, { target, sink })
        : undefined
    if (plain !== undefined) return plain
    const answer = await getObject(context, read, controller.signal)
    if (!(answer.Body instanceof Readable)) throw new StorageError(`No body in the answer for "${read.key}"`)
    return answer.Body
  }
  const failure = (err: unknown): Error => (err instanceof StorageError ? err : readFailure(context, err, read))
  const options = { highWaterMark: STREAM_HIGH_WATER_MARK, failure }
  const abortOnClose = (stream: Readable): Readable =>
    stream.once('close', () => {
      controller.abort()
    })
  if (!started) return abortOnClose(deferredStream(make, options))
  return startedStream(make, options).then(abortOnClose, (err: unknown) => {
    controller.abort()
    throw failure(err)
  })
}
