// Uploads into a bucket. Up to PART_SIZE, the bytes stay in memory and commit() is one
// PutObject with If-None-Match: * at the final key. Beyond it, they stream as they arrive
// into a multipart upload of a temporary object under the hidden prefix (no local disk), and
// commit() copies that object to the final key inside a multipart upload completed with
// If-None-Match: *. PutObject and CompleteMultipartUpload are the two writes S3 makes
// conditional (AWS user guide, "Conditional writes"), and both publish the whole object at
// once: nobody ever sees a partial file under its key, and of several commits of one key
// exactly one succeeds (the others get 412). The temporary object serves the random-access
// reads of metadata before publishing. CopyObject takes If-None-Match too, but moto 5.2
// ignores it on the destination (moto/s3/responses.py copy_object), and a bucket policy that
// enforces conditional writes refuses CopyObject altogether (AWS user guide, "Enforce
// conditional writes"), while it exempts UploadPartCopy.
import { randomBytes } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3'
import type { ByteRange } from '../core/range.js'
import { StorageError } from '../errors.js'
import { fail, objectKey, plainEtag, temporaryPrefix, type S3Context } from './s3-context.js'
import { s3ErrorFacts } from './s3-errors.js'
import { headObject, openedObject } from './s3-read.js'
import { splitKey, type CommitOptions, type CommitResult, type PendingUpload, type StoredFile } from './storage.js'

/** Uploads up to this size are kept in memory; larger ones are sent in parts of this size. */
export const PART_SIZE = 8 * 1024 * 1024
// S3's limits: 10,000 parts per upload, at most 5 GiB per part (also per copied part).
const MAX_PARTS = 10_000
const MAX_COPY_PART = 5 * 1024 ** 3
// A 409 ConditionalRequestConflict means another write of the key was in progress: "retry the
// upload" (API reference, PutObject and CompleteMultipartUpload If-None-Match).
const CONFLICT_RETRIES = 3

/** A new temporary key: creation time first, so the sweeper needs no clock of the store. */
export function temporaryKey(context: S3Context, kind: string): string {
  return `${temporaryPrefix(context)}${Date.now()}-${kind}-${randomBytes(8).toString('hex')}`
}

/** When a temporary key was made, from its name; undefined for a name that is not one. */
export function temporaryKeyTime(context: S3Context, key: string): number | undefined {
  const prefix = temporaryPrefix(context)
  if (!key.startsWith(prefix)) return undefined
  const stamp = /^(\d{13})-/.exec(key.slice(prefix.length))?.[1]
  return stamp === undefined ? undefined : Number(stamp)
}

type Written = 'written' | 'exists'

/** What a pending upload tells its storage. */
export interface UploadHooks {
  /** A commit changed `folder` (called at once, before anything else can fail). */
  readonly changed: (folder: string) => void
  /** A commit published `file`: keep its facts and announce it to the other replicas. */
  readonly published: (file: StoredFile, options: CommitOptions) => Promise<void>
}

/** A pending upload into a bucket (see the file comment). */
export class S3PendingUpload implements PendingUpload {
  readonly writable: Writable
  readonly #context: S3Context
  readonly #hooks: UploadHooks
  readonly #temporary: string
  #buffers: Buffer[] = []
  #buffered = 0
  #size = 0
  /** The multipart upload of the temporary object, once the bytes outgrew memory. */
  #multipart: { readonly uploadId: string; readonly parts: CompletedPart[] } | undefined
  /** The temporary object's ETag, once it is complete. */
  #temporaryEtag: string | undefined
  /** The whole upload, when it stayed in memory. */
  #bytes: Buffer | undefined
  #finished = false
  #settled = false
  /** Requests in progress: abort() waits for them before it cleans up. */
  #work: Promise<unknown> = Promise.resolve()
  #aborting: Promise<void> | undefined

  constructor(context: S3Context, hooks: UploadHooks) {
    this.#context = context
    this.#hooks = hooks
    this.#temporary = temporaryKey(context, 'upload')
    this.writable = new Writable({
      highWaterMark: 1024 * 1024,
      writev: (chunks, callback) => {
        this.#track(this.#append(chunks.map(({ chunk }) => chunk as Buffer))).then(
          () => {
            callback()
          },
          (err: unknown) => {
            callback(asError(err))
          },
        )
      },
      final: (callback) => {
        this.#track(this.#finish()).then(
          () => {
            callback()
          },
          (err: unknown) => {
            callback(asError(err))
          },
        )
      },
    })
  }

  get size(): number {
    return this.#size
  }

  createReadStream(range: ByteRange): Readable {
    if (this.#bytes !== undefined) return Readable.from([this.#bytes.subarray(range.start, range.end + 1)])
    if (this.#temporaryEtag === undefined) throw new Error('createReadStream() needs a finished upload')
    const file: StoredFile = { key: this.#temporary, size: this.#size, mtimeMs: 0, identity: this.#temporary }
    return openedObject(this.#context, {
      key: 'upload',
      object: this.#temporary,
      file,
      etag: this.#temporaryEtag,
    }).createReadStream(range)
  }

  async commit(key: string, options: CommitOptions): Promise<CommitResult> {
    const parts = splitKey(key)
    if (parts === undefined) throw new TypeError(`not a key: ${key}`)
    if (!this.#finished || this.#settled) throw new Error('commit() needs a finished, unsettled upload')
    const target = objectKey(this.#context, key)
    // With `replace`, a create-only write first tells 'created' from 'replaced'.
    const replaced = (await this.#publish(target, key, true)) === 'exists'
    if (replaced && !options.replace) return { outcome: 'exists' }
    if (replaced) await this.#publish(target, key, false)
    this.#settled = true
    this.#hooks.changed(parts.folder)
    await this.#dropTemporary()
    const found = await headObject(this.#context, key, target)
    if (found === undefined) throw new StorageError(`"${key}" vanished right after it was published`)
    await this.#hooks.published(found.file, options)
    return { outcome: replaced ? 'replaced' : 'created', file: found.file }
  }

  abort(): Promise<void> {
    this.#aborting ??= this.#abort()
    return this.#aborting
  }

  async #abort(): Promise<void> {
    this.writable.destroy()
    await this.#work.catch(() => undefined)
    this.#bytes = undefined
    this.#buffers = []
    if (this.#settled) return
    this.#settled = true
    await this.#dropTemporary()
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    const settled = promise.then(
      () => undefined,
      () => undefined,
    )
    this.#work = this.#work.then(() => settled)
    return promise
  }

  async #append(chunks: Buffer[]): Promise<void> {
    for (const chunk of chunks) {
      this.#buffers.push(chunk)
      this.#buffered += chunk.length
      this.#size += chunk.length
    }
    while (this.#buffered >= PART_SIZE) await this.#sendPart(this.#take(PART_SIZE))
  }

  async #finish(): Promise<void> {
    if (this.#multipart === undefined) {
      this.#bytes = this.#take(this.#buffered)
    } else {
      if (this.#buffered > 0 || this.#multipart.parts.length === 0) await this.#sendPart(this.#take(this.#buffered))
      const { uploadId, parts } = this.#multipart
      const { client, bucket } = this.#context
      try {
        // Create-only although the key is new: a bucket policy may require If-None-Match on every
        // write (AWS user guide, "Enforce conditional writes on Amazon S3 buckets").
        const done = await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: this.#temporary,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
            IfNoneMatch: '*',
          }),
        )
        this.#temporaryEtag = plainEtag(done.ETag)
      } catch (err) {
        throw fail(this.#context, err, 'store an upload')
      }
      this.#multipart = undefined
    }
    this.#finished = true
  }

  #take(count: number): Buffer {
    const all = this.#buffers.length === 1 ? (this.#buffers[0] ?? Buffer.alloc(0)) : Buffer.concat(this.#buffers)
    const taken = all.subarray(0, count)
    const rest = all.subarray(count)
    this.#buffers = rest.length === 0 ? [] : [rest]
    this.#buffered = rest.length
    return taken
  }

  async #sendPart(bytes: Buffer): Promise<void> {
    const { client, bucket } = this.#context
    try {
      if (this.#multipart === undefined) {
        const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: this.#temporary }))
        if (created.UploadId === undefined) throw new StorageError('The store started a multipart upload without an id')
        this.#multipart = { uploadId: created.UploadId, parts: [] }
      }
      const { uploadId, parts } = this.#multipart
      if (parts.length >= MAX_PARTS)
        throw new StorageError(`An upload cannot exceed ${MAX_PARTS} parts of ${PART_SIZE} bytes`)
      const PartNumber = parts.length + 1
      const sent = await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: this.#temporary,
          UploadId: uploadId,
          PartNumber,
          Body: bytes,
          ContentLength: bytes.length,
        }),
      )
      parts.push({ PartNumber, ETag: sent.ETag })
    } catch (err) {
      if (err instanceof StorageError) throw err
      throw fail(this.#context, err, 'store an upload')
    }
  }

  // Write the bytes at `target`, create-only when `conditional`; a 409 conflict is retried.
  async #publish(target: string, key: string, conditional: boolean): Promise<Written> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (this.#bytes !== undefined) await this.#put(target, this.#bytes, conditional)
        else await this.#copy(target, conditional)
        return 'written'
      } catch (err) {
        const { kind } = s3ErrorFacts(err)
        if (kind === 'precondition-failed' && conditional) return 'exists'
        if (kind === 'conflict' && attempt < CONFLICT_RETRIES) {
          this.#context.log.info({ key, attempt }, 'A concurrent write of the same key conflicted (409); trying again')
          await sleep(100 * 2 ** attempt * Math.random())
          continue
        }
        throw fail(this.#context, err, 'publish', key)
      }
    }
  }

  async #put(target: string, body: Buffer, conditional: boolean): Promise<void> {
    const { client, bucket } = this.#context
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: target,
        Body: body,
        ContentLength: body.length,
        ...(conditional ? { IfNoneMatch: '*' } : {}),
      }),
    )
  }

  // A multipart upload at the final key whose parts are copied from the temporary object
  // inside the store (UploadPartCopy), completed create-only. The bytes are not sent again.
  async #copy(target: string, conditional: boolean): Promise<void> {
    const { client, bucket } = this.#context
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: target }))
    const uploadId = created.UploadId
    if (uploadId === undefined) throw new StorageError('The store started a multipart upload without an id')
    try {
      const parts: CompletedPart[] = []
      const source = `${bucket}/${this.#temporary.split('/').map(encodeURIComponent).join('/')}`
      for (let start = 0; start < this.#size; start += MAX_COPY_PART) {
        const end = Math.min(this.#size, start + MAX_COPY_PART) - 1
        const PartNumber = parts.length + 1
        const copied = await client.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: target,
            UploadId: uploadId,
            PartNumber,
            CopySource: source,
            CopySourceRange: `bytes=${start}-${end}`,
            CopySourceIfMatch: `"${this.#temporaryEtag ?? ''}"`,
          }),
        )
        parts.push({ PartNumber, ETag: copied.CopyPartResult?.ETag })
      }
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: target,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...(conditional ? { IfNoneMatch: '*' } : {}),
        }),
      )
    } catch (err) {
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: target, UploadId: uploadId }))
        .catch(() => undefined)
      throw err
    }
  }

  // The temporary object, or its unfinished multipart upload; what cannot be removed now is
  // left to the sweeper (it is hidden either way).
  async #dropTemporary(): Promise<void> {
    const { client, bucket, log } = this.#context
    try {
      if (this.#multipart !== undefined) {
        await client.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: this.#temporary, UploadId: this.#multipart.uploadId }),
        )
        this.#multipart = undefined
      }
      if (this.#temporaryEtag !== undefined) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: this.#temporary }))
        this.#temporaryEtag = undefined
      }
    } catch (err) {
      log.warn({ s3: s3ErrorFacts(err) }, 'Cannot remove the temporary object of an upload; the sweeper will')
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
