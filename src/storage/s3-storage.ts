// Storage in an S3 bucket (AWS S3 or an S3-compatible store): the same one-folder-per-project
// layout under a key prefix (`<prefix><project>/<file>`), so a person can still `aws s3 cp` a
// wheel in; what eggserve keeps for itself lives under `<prefix>.eggserve/`, which is never
// listed. Loaded only for `--storage s3://...` (see open-storage.ts).
import { createHash } from 'node:crypto'
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import type { FastifyBaseLogger } from 'fastify'
import type { SigningWindow } from '../core/download-redirect.js'
import { formatS3Location } from '../core/s3-location.js'
import { StoreFailure } from '../errors.js'
import { createS3Client, S3_DEFAULTS } from './s3-client.js'
import { fail, objectKey, type S3Context } from './s3-context.js'
import { S3StoredFacts } from './s3-facts.js'
import { S3Journal, type JournalTail } from './s3-journal.js'
import { S3Listings } from './s3-listing.js'
import { probeConditionalWrites, sweepBucket } from './s3-maintenance.js'
import { headObject, openListed, openObject } from './s3-read.js'
import { S3Snapshots } from './s3-snapshot.js'
import { S3PendingUpload } from './s3-upload.js'
import type { S3StorageSpec } from './open-storage.js'
import {
  isPlainName,
  splitKey,
  type ChangeListener,
  type CommitOptions,
  type ConditionalWriteProbe,
  type FolderListing,
  type OpenFile,
  type OpenOptions,
  type PendingUpload,
  type RootListing,
  type StorageBackend,
  type StoredFile,
  type Watch,
} from './storage.js'

/** Storage backed by a bucket prefix. */
export class S3Storage implements StorageBackend {
  readonly #spec: S3StorageSpec
  readonly #context: S3Context
  readonly #listings: S3Listings
  readonly #journal: S3Journal
  readonly #facts: S3StoredFacts
  readonly #snapshots: S3Snapshots
  /** Start-up from a snapshot (once, before the first listing): the journal records then reflected. */
  #started: Promise<number | undefined> | undefined
  /** Why uploads are refused (the probe found create-only writes ignored, with several writers). */
  #unsafe: string | undefined

  private constructor(spec: S3StorageSpec, log: FastifyBaseLogger) {
    this.#spec = spec
    const storageLog = log.child({ component: 'storage' })
    this.#context = {
      client: createS3Client(spec, storageLog),
      bucket: spec.bucket,
      prefix: spec.prefix,
      location: formatS3Location(spec),
      log: storageLog,
      timeoutMs: spec.timeoutMs ?? S3_DEFAULTS.timeoutMs,
    }
    this.#listings = new S3Listings(this.#context, spec.listingTtlMs ?? S3_DEFAULTS.listingTtlMs)
    this.#facts = new S3StoredFacts(this.#context)
    this.#journal = new S3Journal(this.#context, { covered: () => this.#snapshots.newestCovered() })
    this.#snapshots = new S3Snapshots(this.#context, {
      listings: this.#listings,
      facts: this.#facts,
      journal: this.#journal,
      options: {
        every: spec.snapshotEvery ?? S3_DEFAULTS.snapshotEvery,
        local:
          spec.snapshotDir === undefined
            ? undefined
            : { dir: spec.snapshotDir, name: `s3-snapshot-${shortDigest(this.cacheNamespace)}.json.gz` },
      },
    })
  }

  /** Digests and metadata facts kept beside the files (see s3-facts.ts). */
  get storedFacts(): S3StoredFacts {
    return this.#facts
  }

  /** A storage over `spec`; nothing is sent yet (the first listing finds out whether it works). */
  static open(spec: S3StorageSpec, log: FastifyBaseLogger): Promise<S3Storage> {
    return Promise.resolve(new S3Storage(spec, log))
  }

  get location(): string {
    return this.#context.location
  }

  /** The bucket and prefix, with the endpoint when one is set: another store is another tree. */
  get cacheNamespace(): string {
    const endpoint = this.#spec.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL
    return endpoint === undefined || endpoint === '' ? this.location : `${this.location} at ${endpoint}`
  }

  get spec(): S3StorageSpec {
    return this.#spec
  }

  // A LIST of the top level (one per 1,000 project folders), remembered for listingTtlMs; the
  // first listings are answered from a snapshot when one is usable (see s3-snapshot.ts).
  async listRoot(): Promise<RootListing> {
    await this.#start()
    return this.#listings.listRoot()
  }

  async listFolder(folder: string): Promise<FolderListing | undefined> {
    await this.#start()
    return this.#listings.listFolder(folder)
  }

  // A reconcile over many folders whose listings ran out of trust: one flat listing when cheaper.
  async refreshListings(): Promise<void> {
    await this.#start()
    await this.#listings.refreshDue()
  }

  // Never fails: a snapshot that cannot be had leaves the listings to the store.
  #start(): Promise<number | undefined> {
    this.#started ??= this.#snapshots.start().catch((err: unknown) => {
      this.#context.log.warn({ err }, 'Cannot start from a snapshot: listing every folder')
      return undefined
    })
    return this.#started
  }

  /**
   * The token of the last listing (a digest of its names, or of its files' ETags, sizes and
   * keys): honest, and costs one LIST per listingTtlMs however many requests ask.
   */
  async changeToken(folder?: string): Promise<string | undefined> {
    if (folder === undefined) return (await this.listRoot()).token
    return (await this.listFolder(folder))?.token
  }

  /**
   * A presigned GET of the object (SigV4 query signing), signed at the window's start, so the
   * URL is the same for every request of the window. Signing needs no request to the store,
   * and says nothing of whether the object exists: the caller only signs files the index knows.
   * The presigner is loaded with the first URL: servers that never redirect never load it.
   */
  async presign(key: string, window: SigningWindow): Promise<string> {
    const [{ getSignedUrl }, { GetObjectCommand }] = await Promise.all([
      import('@aws-sdk/s3-request-presigner'),
      import('@aws-sdk/client-s3'),
    ])
    const command = new GetObjectCommand({ Bucket: this.#context.bucket, Key: objectKey(this.#context, key) })
    try {
      return await getSignedUrl(this.#context.client, command, {
        signingDate: window.signingDate,
        expiresIn: window.expiresInSeconds,
      })
    } catch (err) {
      // No credentials at all (an anonymous setup) is the usual cause.
      throw fail(this.#context, err, 'presign a download', key)
    }
  }

  /**
   * HEAD, then ranged GETs that must match the ETag the HEAD saw (see s3-read.ts). With the
   * file as a listing described it, no HEAD: the GETs must match the listed ETag instead, and
   * one that finds another version fails before a byte is read (OpenFile.startReadStream).
   */
  open(key: string, options: OpenOptions = {}): Promise<OpenFile | undefined> {
    if (splitKey(key) === undefined) return Promise.resolve(undefined)
    const object = objectKey(this.#context, key)
    const { listed } = options
    const opened = listed?.key === key ? openListed(this.#context, listed, object) : undefined
    return opened === undefined ? openObject(this.#context, key, object) : Promise.resolve(opened)
  }

  /**
   * S3 sends no change events: follow the change journal instead (see s3-journal.ts). While it
   * is followed, listings are trusted for trustedListingTtlMs, since every change made through
   * eggserve is reported; while it cannot be read, they are taken as current for one second
   * only, as without a journal. A transient failure is logged, not reported as a failure to
   * watch: the index would stop relying on events for good.
   */
  watch(listener: ChangeListener): Watch {
    let tail: JournalTail | undefined
    let closed = false
    void this.#start().then((from) => {
      if (!closed) tail = this.#follow(listener, from)
    })
    return {
      close: () => {
        closed = true
        tail?.close()
      },
    }
  }

  // Followed from `from` (what the listings reflect, when known), the journal misses nothing
  // they do not show: they are trusted from the start (those of a snapshot stay so, however
  // long the index took to load), and kept when the journal can be read again.
  #follow(listener: ChangeListener, from: number | undefined): JournalTail {
    const trustedTtl = this.#spec.trustedListingTtlMs ?? S3_DEFAULTS.trustedListingTtlMs
    const ttl = (ok: boolean): number =>
      ok ? (trustedTtl === 0 ? Infinity : trustedTtl) : (this.#spec.listingTtlMs ?? S3_DEFAULTS.listingTtlMs)
    let trusted = from !== undefined
    if (trusted) this.#listings.ttlMs = ttl(true)
    let following = false
    const tail = this.#journal.tail({
      pollMs: this.#spec.journalPollMs ?? S3_DEFAULTS.journalPollMs,
      ...(from === undefined ? {} : { from }),
      onFellBehind: async (firstHeld) => {
        const covered = await this.#snapshots.catchUp(firstHeld).catch((err: unknown) => {
          this.#context.log.warn({ err }, 'Cannot catch up from a snapshot')
          return undefined
        })
        // The listings now come from the snapshot: every folder's token is checked again.
        if (covered !== undefined) listener(undefined)
        return covered
      },
      onEvent: (event) => {
        if (event.kind === 'lost-track') {
          this.#listings.forgetAll()
          listener(undefined)
          return
        }
        const parts = splitKey(event.record.key)
        if (parts === undefined) return
        this.#listings.forget(parts.folder)
        listener(parts.folder)
      },
      onPoll: (ok, err) => {
        if (ok) void this.#snapshots.maybeWrite(tail.position)
        if (ok && !following) this.#context.log.debug('Following the change journal')
        following = ok
        if (ok === trusted) return
        trusted = ok
        // Listings taken before the journal was followed may miss changes it will not report
        // again, unless it is followed from before they were taken.
        if (ok && from === undefined) this.#listings.forgetAll()
        this.#listings.ttlMs = ttl(ok)
        if (!ok)
          this.#context.log.warn(
            { err },
            'Cannot read the change journal; folders are listed again every second until it can be read',
          )
      },
    })
    return tail
  }

  createUpload(folder: string): Promise<PendingUpload> {
    if (!isPlainName(folder)) return Promise.reject(new TypeError(`not a folder name: ${folder}`))
    if (this.#unsafe !== undefined) return Promise.reject(new StoreFailure('EGGSERVE_STORE_UNSAFE', this.#unsafe))
    return Promise.resolve(
      new S3PendingUpload(this.#context, {
        changed: (changed) => {
          this.#listings.forget(changed)
        },
        published: (file, options) => this.#published(file, options),
      }),
    )
  }

  // The facts go first: a replica that learns of the file from the journal finds them.
  async #published(file: StoredFile, options: CommitOptions): Promise<void> {
    if (options.facts !== undefined) {
      await this.#facts.write(file, options.facts).catch((err: unknown) => {
        this.#context.log.warn(
          { err, key: file.key },
          'Cannot store the facts of an upload beside it; other replicas read the file to learn them',
        )
      })
    }
    await this.#journal.append('publish', file.key)
  }

  async remove(key: string): Promise<boolean> {
    const parts = splitKey(key)
    if (parts === undefined) return false
    const object = objectKey(this.#context, key)
    // DeleteObject answers 204 whether or not the key existed: ask first.
    if ((await headObject(this.#context, key, object)) === undefined) return false
    try {
      await this.#context.client.send(new DeleteObjectCommand({ Bucket: this.#context.bucket, Key: object }))
    } catch (err) {
      throw fail(this.#context, err, 'remove', key)
    }
    this.#listings.forget(parts.folder)
    await this.#facts.remove(key)
    await this.#journal.append('remove', key)
    return true
  }

  /**
   * A folder exists only through its keys: true once nothing is left under it (a folder
   * marker "folder/" is removed), false while anything is.
   */
  async removeFolderIfEmpty(folder: string): Promise<boolean> {
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

  sweepUploads(olderThanMs: number): Promise<number> {
    return sweepBucket(this.#context, olderThanMs)
  }

  /**
   * With several writers (--s3-writers many, the default), a store that ignores create-only
   * writes could publish two different files under one name: uploads are then refused.
   */
  async probeConditionalWrites(): Promise<ConditionalWriteProbe> {
    const probe = await probeConditionalWrites(this.#context)
    if (!probe.enforced && (this.#spec.writers ?? 'many') === 'many') {
      this.#unsafe =
        'Uploads are refused: the package store ignores create-only writes (If-None-Match), so two servers could publish one filename with different bytes; the one server that accepts uploads needs --s3-writers one'
      this.#context.log.error({ detail: probe.detail }, this.#unsafe)
    }
    return probe
  }
}

function shortDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16)
}
