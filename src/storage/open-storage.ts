// Storage described as plain data, so it can be opened again elsewhere (a worker thread).
// The S3 backend is imported only when a bucket is opened: a folder-backed server never
// loads the AWS SDK (its start-up time and memory).
import type { FastifyBaseLogger } from 'fastify'
import type { S3Location } from '../core/s3-location.js'
import { LocalStorage } from './local-storage.js'
import type { StorageBackend } from './storage.js'

/** A local tree. */
export interface LocalStorageSpec {
  readonly kind: 'local'
  readonly root: string
}

/** A bucket; the client finds region, endpoint and credentials the standard AWS way. */
export interface S3StorageSpec extends S3Location {
  readonly kind: 's3'
  /** Path-style addressing (http://host/bucket/key), which most non-AWS stores need. */
  readonly pathStyle: boolean
  /** Overrides AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (tests). */
  readonly endpoint?: string
  /** Overrides AWS_REGION (tests). */
  readonly region?: string
  /** Tries per request, the first included (default 4). */
  readonly maxAttempts?: number
  /** A request that gets no answer (or no bytes) for this long fails (default 30 s). */
  readonly timeoutMs?: number
  /** How long a listing is taken as current while the change journal is not followed (default 1 s). */
  readonly listingTtlMs?: number
  /**
   * How long a listing is taken as current while the change journal is followed (every change
   * made through eggserve is then reported): what bounds how late a file copied into the bucket
   * by hand shows. Default 120 s (--reconcile-interval's); 0: until the journal reports a change.
   */
  readonly trustedListingTtlMs?: number
  /**
   * 'many' (the default): several servers may accept uploads, so uploads are refused when the
   * probe finds that the store ignores create-only writes. 'one': only this server does.
   */
  readonly writers?: 'one' | 'many'
  /** How often the change journal is polled (default 1 s). */
  readonly journalPollMs?: number
  /** The cache folder a copy of the last snapshot is kept in (undefined: none; s3-snapshot.ts). */
  readonly snapshotDir?: string
  /** A snapshot of the listings every this many journal records (default 1,000). */
  readonly snapshotEvery?: number
}

/** How to reach a storage; serializable (it crosses into worker threads). */
export type StorageSpec = LocalStorageSpec | S3StorageSpec

/** Open the storage a spec describes; `blocking` asks for synchronous reads (worker threads, local trees). */
export async function openStorage(
  spec: StorageSpec,
  log: FastifyBaseLogger,
  options: { blocking?: boolean } = {},
): Promise<StorageBackend> {
  if (spec.kind === 's3') {
    const { S3Storage } = await import('./s3-storage.js')
    return S3Storage.open(spec, log)
  }
  return LocalStorage.create(spec.root, log, options)
}
