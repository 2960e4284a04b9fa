// Storage in an S3 bucket (AWS S3 or an S3-compatible store): the same one-folder-per-project
// layout under a key prefix (`<prefix><project>/<file>`), so a person can still `aws s3 cp` a
// wheel in; what eggserve keeps for itself lives under `<prefix>.eggserve/`, which is never
// listed. Loaded only for `--storage s3://...` (see open-storage.ts).
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import type { FastifyBaseLogger } from 'fastify'
import { formatS3Location } from '../core/s3-location.js'
import { createS3Client, S3_DEFAULTS } from './s3-client.js'
import { fail, objectKey, type S3Context } from './s3-context.js'
import { S3Listings } from './s3-listing.js'
import { probeConditionalWrites, sweepBucket } from './s3-maintenance.js'
import { headObject, openObject } from './s3-read.js'
import { S3PendingUpload } from './s3-upload.js'
import type { S3StorageSpec } from './open-storage.js'
import {
  isPlainName, splitKey,
  type ConditionalWriteProbe, type FolderListing, type OpenFile, type PendingUpload, type RootListing, type StorageBackend, type Watch,
} from './storage.js'

/** Storage backed by a bucket prefix. */
export class S3Storage implements StorageBackend {
  readonly #spec: S3StorageSpec
  readonly #context: S3Context
  readonly #listings: S3Listings

  private constructor (spec: S3StorageSpec, log: FastifyBaseLogger) {
    this.#spec = spec
    const storageLog = log.child({ component: 'storage' })
    this.#context = {
      client: createS3Client(spec, storageLog),
      bucket: spec.bucket,
      prefix: spec.prefix,
      location: formatS3Location(spec),
      log: storageLog,
    }
    this.#listings = new S3Listings(this.#context, spec.listingTtlMs ?? S3_DEFAULTS.listingTtlMs)
  }

  /** A storage over `spec`; nothing is sent yet (the first listing finds out whether it works). */
  static open (spec: S3StorageSpec, log: FastifyBaseLogger): Promise<S3Storage> {
    return Promise.resolve(new S3Storage(spec, log))
  }

  get location (): string {
    return this.#context.location
  }

  /** The bucket and prefix, with the endpoint when one is set: another store is another tree. */
  get cacheNamespace (): string {
    const endpoint = this.#spec.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL
    return endpoint === undefined || endpoint === '' ? this.location : `${this.location} at ${endpoint}`
  }

  get spec (): S3StorageSpec {
    return this.#spec
  }

  // A LIST of the top level (one per 1,000 project folders), remembered for listingTtlMs.
  listRoot (): Promise<RootListing> {
    return this.#listings.listRoot()
  }

  listFolder (folder: string): Promise<FolderListing | undefined> {
    return this.#listings.listFolder(folder)
  }

  /**
   * The token of the last listing (a digest of its names, or of its files' ETags, sizes and
   * keys): honest, and costs one LIST per listingTtlMs however many requests ask.
   */
  async changeToken (folder?: string): Promise<string | undefined> {
    if (folder === undefined) return (await this.listRoot()).token
    return (await this.listFolder(folder))?.token
  }

  /** HEAD, then ranged GETs that must match the ETag the HEAD saw (see s3-read.ts). */
  open (key: string): Promise<OpenFile | undefined> {
    if (splitKey(key) === undefined) return Promise.resolve(undefined)
    return openObject(this.#context, key, objectKey(this.#context, key))
  }

  /** S3 has no change events; changes are seen through listings (and the periodic reconcile). */
  watch (): Watch {
    return { close: () => undefined }
  }

  createUpload (folder: string): Promise<PendingUpload> {
    if (!isPlainName(folder)) return Promise.reject(new TypeError(`not a folder name: ${folder}`))
    return Promise.resolve(new S3PendingUpload(this.#context, (changed) => { this.#listings.forget(changed) }))
  }

  async remove (key: string): Promise<boolean> {
    const parts = splitKey(key)
    if (parts === undefined) return false
    const object = objectKey(this.#context, key)
    // DeleteObject answers 204 whether or not the key existed: ask first.
    if (await headObject(this.#context, key, object) === undefined) return false
    try {
      await this.#context.client.send(new DeleteObjectCommand({ Bucket: this.#context.bucket, Key: object }))
    } catch (err) {
      throw fail(this.#context, err, 'remove', key)
    }
    this.#listings.forget(parts.folder)
    return true
  }

  /**
   * A folder exists only through its keys: true once nothing is left under it (a folder
   * marker "folder/" is removed), false while anything is.
   */
  async removeFolderIfEmpty (folder: string): Promise<boolean> {
    if (!isPlainName(folder)) return false
    const { client, bucket } = this.#context
    const prefix = objectKey(this.#context, `${folder}/`)
    try {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 2 }))
      const keys = (page.Contents ?? []).map((object) => object.Key)
      if (keys.some((key) => key !== prefix)) return false
      if (keys.length > 0) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: prefix }))
    } catch (err) {
      throw fail(this.#context, err, 'remove an empty folder', folder)
    }
    this.#listings.forget(folder)
    return true
  }

  sweepUploads (olderThanMs: number): Promise<number> {
    return sweepBucket(this.#context, olderThanMs)
  }

  probeConditionalWrites (): Promise<ConditionalWriteProbe> {
    return probeConditionalWrites(this.#context)
  }
}
