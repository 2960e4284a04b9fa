// Where snapshots live: in the bucket under `<prefix>.eggserve/snapshots/<20-digit records
// covered>.json.gz` (revision 0) or `<20 digits>.<revision>.json.gz` (a later one at the same
// position, with more facts: s3-snapshot-format.ts), written create-only (PutObject with If-None-Match: *, so two replicas that
// snapshot the same position never overwrite each other: the second gets 412 and keeps the
// first), and a copy of the last one a replica wrote or loaded in its cache folder, so a
// warm replica starts without a request for it.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { errnoCode } from '../errors.js'
import { fail, HIDDEN_FOLDER, type S3Context } from './s3-context.js'
import { listPages } from './s3-list-pages.js'
import { s3ErrorFacts } from './s3-errors.js'
import { MAX_SNAPSHOT_BYTES } from './s3-snapshot-format.js'

const DIGITS = 20

/** Where a snapshot stands: records covered, then its revision at that position. */
export interface SnapshotPosition {
  readonly covered: number
  readonly revision: number
}

/** Positive when `a` is newer than `b`. */
export function comparePositions(a: SnapshotPosition, b: SnapshotPosition): number {
  return a.covered - b.covered || a.revision - b.revision
}
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

  /** The positions of the snapshots in the bucket, newest first. */
  async list(): Promise<SnapshotPosition[]> {
    const found: SnapshotPosition[] = []
    await listPages(this.#context, { prefix: this.#prefix }, { action: 'list the snapshots' }, (page) => {
      for (const object of page.Contents ?? []) {
        const position = parsePosition(object.Key?.slice(this.#prefix.length))
        if (position !== undefined) found.push(position)
      }
      return true
    })
    return found.sort((a, b) => comparePositions(b, a))
  }

  /** The bytes of the snapshot at `position`; undefined when it is gone or too large. */
  async read(position: SnapshotPosition): Promise<Uint8Array | undefined> {
    const { client, bucket } = this.#context
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: this.#key(position) }))
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
   * Write the snapshot at `position`, create-only: false when one of that position exists
   * already (another replica wrote it first; it says the same), 'denied' when the
   * credentials may not write.
   */
  async write(position: SnapshotPosition, bytes: Uint8Array): Promise<boolean | 'denied'> {
    const { client, bucket } = this.#context
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: this.#key(position),
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
    for (const position of (await this.list()).slice(KEEP)) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: this.#key(position) })).catch((err: unknown) => {
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

  #key({ covered, revision }: SnapshotPosition): string {
    const name = String(covered).padStart(DIGITS, '0') + (revision === 0 ? '' : `.${String(revision)}`)
    return `${this.#prefix}${name}.json.gz`
  }
}

const POSITION = new RegExp(`^(\\d{${String(DIGITS)}})(?:\\.([1-9]\\d{0,8}))?\\.json\\.gz$`)

function parsePosition(name: string | undefined): SnapshotPosition | undefined {
  const match = name === undefined ? undefined : POSITION.exec(name)
  if (match?.[1] === undefined) return undefined
  return { covered: Number(match[1]), revision: Number(match[2] ?? '0') }
}
