// Housekeeping of a bucket tree: removing what interrupted uploads left, and the start-up
// probe of create-only writes.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type ListMultipartUploadsCommandOutput,
} from '@aws-sdk/client-s3'
import { AppError } from '../errors.js'
import { fail, temporaryPrefix, type S3Context } from './s3-context.js'
import { listPages } from './s3-list-pages.js'
import { s3ErrorFacts } from './s3-errors.js'
import { temporaryKey, temporaryKeyTime } from './s3-upload.js'
import { splitKey, type ConditionalWriteProbe } from './storage.js'

/**
 * Delete temporary objects and abort multipart uploads older than `olderThanMs`: those of
 * pending uploads (dated by their key), and those a crash left at a project file's key in the
 * middle of a commit (dated by the store's Initiated). Returns how many were removed. An S3
 * lifecycle rule AbortIncompleteMultipartUpload does the latter too.
 */
export async function sweepBucket(context: S3Context, olderThanMs: number): Promise<number> {
  const limit = Date.now() - olderThanMs
  const { client, bucket } = context
  let removed = 0
  // The stale keys first, then their deletions: a page's handler does no I/O.
  const stale: string[] = []
  await listPages(context, { prefix: temporaryPrefix(context) }, { action: 'list temporary objects' }, (page) => {
    for (const object of page.Contents ?? []) {
      if (
        object.Key !== undefined &&
        (temporaryKeyTime(context, object.Key) ?? object.LastModified?.getTime() ?? Infinity) <= limit
      )
        stale.push(object.Key)
    }
    return true
  })
  for (const key of stale) {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch((err: unknown) => {
      throw fail(context, err, 'delete a temporary object')
    })
    removed++
  }
  return removed + (await abortStaleUploads(context, limit))
}

async function abortStaleUploads(context: S3Context, limit: number): Promise<number> {
  const { client, bucket } = context
  let removed = 0
  let keyMarker: string | undefined
  let uploadMarker: string | undefined
  do {
    let page: ListMultipartUploadsCommandOutput
    try {
      page = await client.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: context.prefix,
          ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
          ...(uploadMarker === undefined ? {} : { UploadIdMarker: uploadMarker }),
        }),
      )
    } catch (err) {
      throw fail(context, err, 'list multipart uploads')
    }
    for (const upload of page.Uploads ?? []) {
      if (upload.Key === undefined || upload.UploadId === undefined) continue
      const temporary = temporaryKeyTime(context, upload.Key)
      // Only eggserve's shapes: a temporary key, or a project file's key (a commit's copy).
      if (temporary === undefined && splitKey(upload.Key.slice(context.prefix.length)) === undefined) continue
      if ((temporary ?? upload.Initiated?.getTime() ?? Infinity) > limit) continue
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }))
        .catch((err: unknown) => {
          throw fail(context, err, 'abort a multipart upload')
        })
      removed++
    }
    keyMarker = page.IsTruncated === true ? page.NextKeyMarker : undefined
    uploadMarker = page.IsTruncated === true ? page.NextUploadIdMarker : undefined
  } while (keyMarker !== undefined)
  return removed
}

/**
 * Write a probe object twice with If-None-Match: * (PutObject), then complete a multipart
 * upload onto it the same way: a store that enforces create-only writes refuses both with 412
 * (some S3-compatible servers ignore the header, or answer 501). The probe is removed.
 */
export async function probeConditionalWrites(context: S3Context): Promise<ConditionalWriteProbe> {
  const { client, bucket } = context
  const probe = temporaryKey(context, 'probe')
  let uploadId: string | undefined
  const conditional = { Bucket: bucket, Key: probe, IfNoneMatch: '*' } as const
  try {
    try {
      await client.send(new PutObjectCommand({ ...conditional, Body: 'first' }))
    } catch (err) {
      const facts = s3ErrorFacts(err)
      if (facts.error !== 'NotImplemented' && facts.status !== 501) throw fail(context, err, 'probe conditional writes')
      return {
        enforced: false,
        detail: `PutObject with If-None-Match: * is refused as not implemented (${facts.error})`,
      }
    }
    if (await written(context, client.send(new PutObjectCommand({ ...conditional, Body: 'second' })))) {
      return {
        enforced: false,
        detail: 'PutObject with If-None-Match: * replaced an existing object instead of answering 412',
      }
    }
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: probe }))
    uploadId = created.UploadId
    const part = await client.send(
      new UploadPartCommand({ Bucket: bucket, Key: probe, UploadId: uploadId, PartNumber: 1, Body: 'third' }),
    )
    const complete = new CompleteMultipartUploadCommand({
      ...conditional,
      UploadId: uploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
    })
    if (await written(context, client.send(complete))) {
      uploadId = undefined
      return {
        enforced: false,
        detail: 'CompleteMultipartUpload with If-None-Match: * replaced an existing object instead of answering 412',
      }
    }
    return {
      enforced: true,
      detail: 'PutObject and CompleteMultipartUpload with If-None-Match: * on an existing key were refused with 412',
    }
  } catch (err) {
    // Already eggserve's error (see fail), or an SDK error of the multipart steps.
    throw err instanceof AppError ? err : fail(context, err, 'probe conditional writes')
  } finally {
    if (uploadId !== undefined)
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: probe, UploadId: uploadId }))
        .catch(() => undefined)
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: probe })).catch(() => undefined)
  }
}

// True when a conditional write went through; false when it was refused as it should be.
async function written(context: S3Context, send: Promise<unknown>): Promise<boolean> {
  try {
    await send
    return true
  } catch (err) {
    const { kind } = s3ErrorFacts(err)
    // 409: a conflicting write "in progress" is also a refusal (nothing was written).
    if (kind === 'precondition-failed' || kind === 'conflict') return false
    throw fail(context, err, 'probe conditional writes')
  }
}
