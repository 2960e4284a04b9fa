// What the parts of S3Storage share: the client, where the tree lives in the bucket, how
// eggserve keys become object keys, and how failures are reported.
import type { S3Client } from '@aws-sdk/client-s3'
import type { FastifyBaseLogger } from 'fastify'
import { storeError } from './s3-errors.js'
import type { StoredFile } from './storage.js'

/** Everything eggserve keeps besides the project folders lives under this name. */
export const HIDDEN_FOLDER = '.eggserve'

/** The shared state of one S3Storage. */
export interface S3Context {
  readonly client: S3Client
  readonly bucket: string
  /** '' or 'segments/': the project folders are directly under it. */
  readonly prefix: string
  /** s3://bucket/prefix, for the log. */
  readonly location: string
  readonly log: FastifyBaseLogger
  /** Milliseconds without a byte before a request is given up (the client's socketTimeout). */
  readonly timeoutMs: number
}

/** The object key of an eggserve key ("folder/filename") or folder ("folder/"). */
export function objectKey(context: S3Context, key: string): string {
  return context.prefix + key
}

/** Prefix of temporary objects: pending uploads and probes (swept after a grace period). */
export function temporaryPrefix(context: S3Context): string {
  return `${context.prefix}${HIDDEN_FOLDER}/tmp/`
}

/** Turn an SDK error into eggserve's error, with its safe facts for the log (see storeError). */
export function fail(context: S3Context, err: unknown, action: string, key?: string): Error {
  return storeError(err, { action, location: context.location, ...(key === undefined ? {} : { key }) })
}

/**
 * The ETag as an opaque token, without quotes or a weak marker (stores differ in quoting it
 * in listings), and without characters that could break the cache's line format.
 */
// eslint-disable-next-line no-control-regex -- control characters are what is removed
const SPACE_AND_CONTROL = /[\s\u0000-\u001f\u007f]/g

export function plainEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replaceAll('"', '').replace(SPACE_AND_CONTROL, '')
}

/**
 * A stored object as eggserve sees it. The identity is the ETag, the size and the key: the
 * same on every replica (so validators are too), and new whenever the object is rewritten
 * with other bytes. Times are whole seconds: a listing says milliseconds, HEAD says seconds.
 */
export function describeObject(
  key: string,
  object: { etag: string; size: number; lastModified: Date | undefined },
): StoredFile {
  const mtimeMs = Math.floor((object.lastModified?.getTime() ?? 0) / 1000) * 1000
  return { key, size: object.size, mtimeMs, identity: [object.etag, object.size, key].join(':') }
}

/** The ETag in the identity describeObject() gave `file`; undefined when it did not describe it. */
export function describedEtag(file: StoredFile): string | undefined {
  const suffix = `:${String(file.size)}:${file.key}`
  if (!file.identity.endsWith(suffix)) return undefined
  const etag = file.identity.slice(0, -suffix.length)
  return etag === '' ? undefined : etag
}
