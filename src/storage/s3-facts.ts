// Facts stored beside the files of a bucket tree: `<prefix>.eggserve/facts/<folder>/<file>.json`
// holds the digests and core-metadata facts of the object whose identity (ETag, size, key) it
// names. Written by the replica that publishes an upload (before the change is announced in
// the journal) or by the first replica that hashes a file copied in by hand; read by every
// other replica instead of the file's bytes. The write is unconditional, not create-only: a
// file replaced with --overwrite needs new facts at the same key, and a reader ignores facts
// of another identity, so an out-of-date object is harmless.
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { isHashAlgorithm, type Digests } from '../core/digests.js'
import type { FileFacts, MetadataFacts } from '../core/index-model.js'
import { fail, HIDDEN_FOLDER, type S3Context } from './s3-context.js'
import { s3ErrorFacts } from './s3-errors.js'
import type { StoredFacts, StoredFile } from './storage.js'

// A facts object is a few hundred bytes; anything much larger is not one of ours.
const MAX_FACTS_BYTES = 16 * 1024
const HEX = /^[0-9a-f]{16,256}$/

/** The facts objects of one bucket tree. */
export class S3StoredFacts implements StoredFacts {
  readonly #context: S3Context
  /**
   * The facts known of each file (read, written, or loaded from a snapshot), for the identity
   * they describe: what the next snapshot carries, so a replica starting from it reads none.
   */
  readonly #known = new Map<string, { readonly identity: string; readonly facts: FileFacts }>()
  /** Facts learnt (read from the store or written), not loaded from a snapshot. */
  #learnt = 0
  #learntAt = 0

  constructor(context: S3Context) {
    this.#context = context
  }

  /** How many facts were read or written so far, and when the last one was (ms since the epoch). */
  get learnt(): { readonly count: number; readonly at: number } {
    return { count: this.#learnt, at: this.#learntAt }
  }

  /** The facts known of this very file (the same identity), without a request. */
  known(file: Pick<StoredFile, 'key' | 'identity'>): FileFacts | undefined {
    const known = this.#known.get(file.key)
    return known?.identity === file.identity ? known.facts : undefined
  }

  /** Facts a snapshot holds (they are the facts stored beside the file of that identity). */
  seed(file: Pick<StoredFile, 'key' | 'identity'>, facts: FileFacts): void {
    this.#known.set(file.key, { identity: file.identity, facts })
  }

  async read(file: Pick<StoredFile, 'key' | 'identity'>): Promise<FileFacts | undefined> {
    const known = this.known(file)
    if (known !== undefined) return known
    const facts = await this.#get(file)
    if (facts !== undefined) this.#learn(file, facts)
    return facts
  }

  #learn(file: Pick<StoredFile, 'key' | 'identity'>, facts: FileFacts): void {
    this.seed(file, facts)
    this.#learnt++
    this.#learntAt = Date.now()
  }

  async #get(file: Pick<StoredFile, 'key' | 'identity'>): Promise<FileFacts | undefined> {
    const { client, bucket } = this.#context
    let text: string
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: this.#objectKey(file.key) }))
      if ((got.ContentLength ?? 0) > MAX_FACTS_BYTES) {
        await got.Body?.transformToByteArray()
        return undefined
      }
      text = (await got.Body?.transformToString()) ?? ''
    } catch (err) {
      if (s3ErrorFacts(err).kind === 'not-found') return undefined
      throw fail(this.#context, err, 'read stored facts', file.key)
    }
    return parseFacts(text, file.identity)
  }

  async write(file: Pick<StoredFile, 'key' | 'identity'>, facts: FileFacts): Promise<void> {
    const { client, bucket } = this.#context
    const body = JSON.stringify({ identity: file.identity, facts })
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: this.#objectKey(file.key),
          Body: body,
          ContentType: 'application/json',
        }),
      )
    } catch (err) {
      throw fail(this.#context, err, 'store facts', file.key)
    }
    this.#learn(file, facts)
  }

  /** Delete the facts of a removed file (what cannot be deleted is ignored by readers anyway). */
  async remove(key: string): Promise<void> {
    this.#known.delete(key)
    const { client, bucket } = this.#context
    try {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: this.#objectKey(key) }))
    } catch (err) {
      this.#context.log.debug(
        { err: fail(this.#context, err, 'delete stored facts', key) },
        'Cannot delete the stored facts of a removed file',
      )
    }
  }

  #objectKey(key: string): string {
    return `${this.#context.prefix}${HIDDEN_FOLDER}/facts/${key}.json`
  }
}

/** The facts in `text` when they describe `identity` and have the expected shape; else undefined. */
export function parseFacts(text: string, identity: string): FileFacts | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isRecord(value) || value.identity !== identity) return undefined
  return parseFileFacts(value.facts)
}

/** `value` as facts when it has their shape (digests in hex, metadata facts); else undefined. */
export function parseFileFacts(value: unknown): FileFacts | undefined {
  if (!isRecord(value)) return undefined
  const digests = parseDigests(value.digests)
  if (digests === undefined) return undefined
  const metadata = value.metadata
  if (metadata === undefined) return { digests }
  const parsed = parseMetadata(metadata)
  return parsed === undefined ? undefined : { digests, metadata: parsed }
}

function parseDigests(value: unknown): Digests | undefined {
  if (!isRecord(value)) return undefined
  const digests: Partial<Record<string, string>> = {}
  for (const [algorithm, digest] of Object.entries(value)) {
    if (!isHashAlgorithm(algorithm) || typeof digest !== 'string' || !HEX.test(digest)) return undefined
    digests[algorithm] = digest
  }
  return digests
}

function parseMetadata(value: unknown): MetadataFacts | undefined {
  if (!isRecord(value) || typeof value.sha256 !== 'string' || !HEX.test(value.sha256)) return undefined
  const { sha256, requiresPython } = value
  if (requiresPython === undefined) return { sha256 }
  return typeof requiresPython === 'string' ? { sha256, requiresPython } : undefined
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
