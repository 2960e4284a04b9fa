// Where snapshots live: in the bucket under `<prefix>.eggserve/snapshots/<20-digit records
// covered>.json.gz`, written create-only (PutObject with If-None-Match: *, so two replicas that
// snapshot the same position never overwrite each other: the second gets 412 and keeps the
// first), and a copy of the last one a replica wrote or loaded in its cache folder, so a
// warm replica starts without a request for it.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import { errnoCode } from '../errors.js'
import { fail, HIDDEN_FOLDER, type S3Context } from './s3-context.js'
import { s3ErrorFacts } from './s3-errors.js'
import { MAX_SNAPSHOT_BYTES } from './s3-snapshot-format.js'

const DIGITS = 20
// Snapshots kept in the bucket: the newest and the one before (a replica may be reading it).
const KEEP = 2

/** The snapshots of one bucket tree. */
export class SnapshotStore {
  readonly #context: S3Context
  /** The local copy's path; undefined without a cache folder. */
  readonly #localPath: string | undefined

  constructor(context: S3Context, local: { dir: string; name: string } | undefined) {
    this.#context = context
    this.#localPath = local === undefined ? undefined : join(local.dir, local.name)
  }

  get #prefix(): string {
    return `${this.#context.prefix}${HIDDEN_FOLDER}/snapshots/`
  }

  /** The positions (records covered) of the snapshots in the bucket, newest first. */
  async list(): Promise<number[]> {
    const { client, bucket } = this.#context
    const found: number[] = []
    let token: string | undefined
    do {
      const page = await client
        .send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: this.#prefix,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        )
        .catch((err: unknown) => {
          throw fail(this.#context, err, 'list the snapshots')
        })
      for (const object of page.Contents ?? []) {
        const covered = parsePosition(object.Key?.slice(this.#prefix.length))
        if (covered !== undefined) found.push(covered)
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
    return found.sort((a, b) => b - a)
  }

  /** The bytes of the snapshot covering `covered` records; undefined when it is gone or too large. */
  async read(covered: number): Promise<Uint8Array | undefined> {
    const { client, bucket } = this.#context
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: this.#key(covered) }))
      if ((got.ContentLength ?? 0) > MAX_SNAPSHOT_BYTES) {
        got.Body?.transformToWebStream()
          .cancel()
          .catch(() => undefined)
        return undefined
      }
      return await got.Body?.transformToByteArray()
    } catch (err) {
      if (s3ErrorFacts(err).kind === 'not-found') return undefined
      throw fail(this.#context, err, 'read a snapshot')
    }
  }

  /**
   * Write the snapshot covering `covered` records, create-only: false when one of that
   * position exists already (another replica wrote it first; it says the same), 'denied'
   * when the credentials may not write.
   */
  async write(covered: number, bytes: Uint8Array): Promise<boolean | 'denied'> {
    const { client, bucket } = this.#context
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: this.#key(covered),
          Body: bytes,
          ContentType: 'application/gzip',
          IfNoneMatch: '*',
        }),
      )
      return true
    } catch (err) {
      const { kind } = s3ErrorFacts(err)
      if (kind === 'precondition-failed') return false
      // A read-only server's credentials may not write: it keeps its local copy only.
      if (kind === 'denied') return 'denied'
      throw fail(this.#context, err, 'write a snapshot')
    }
  }

  /** Delete all but the newest KEEP snapshots (what cannot be deleted is tried again next time). */
  async prune(): Promise<void> {
    const { client, bucket } = this.#context
    for (const covered of (await this.list()).slice(KEEP)) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: this.#key(covered) })).catch((err: unknown) => {
        throw fail(this.#context, err, 'delete an old snapshot')
      })
    }
  }

  /** The local copy's bytes; undefined when there is none (or no cache folder). */
  async readLocal(): Promise<Uint8Array | undefined> {
    if (this.#localPath === undefined) return undefined
    try {
      return await readFile(this.#localPath)
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT')
        this.#context.log.warn(
          { err, path: this.#localPath },
          'Cannot read the local copy of the snapshot; ignoring it',
        )
      return undefined
    }
  }

  /** Replace the local copy (written beside it, then renamed: a crash leaves the old one whole). */
  async writeLocal(bytes: Uint8Array): Promise<void> {
    if (this.#localPath === undefined) return
    const temporary = `${this.#localPath}.${String(process.pid)}.tmp`
    try {
      await mkdir(dirname(this.#localPath), { recursive: true })
      await writeFile(temporary, bytes)
      await rename(temporary, this.#localPath)
    } catch (err) {
      this.#context.log.warn({ err, path: this.#localPath }, 'Cannot keep a local copy of the snapshot')
    }
  }

  #key(covered: number): string {
    return `${this.#prefix}${String(covered).padStart(DIGITS, '0')}.json.gz`
  }
}

function parsePosition(name: string | undefined): number | undefined {
  const digits = name === undefined ? undefined : new RegExp(`^(\\d{${DIGITS}})\\.json\\.gz$`).exec(name)?.[1]
  return digits === undefined ? undefined : Number(digits)
}
