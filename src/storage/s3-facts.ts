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

  constructor(context: S3Context) {
    this.#context = context
  }

  async read(file: Pick<StoredFile, 'key' | 'identity'>): Promise<FileFacts | undefined> {
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
  }

  /** Delete the facts of a removed file (what cannot be deleted is ignored by readers anyway). */
  async remove(key: string): Promise<void> {
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
  if (!isRecord(value) || value.identity !== identity || !isRecord(value.facts)) return undefined
  const digests = parseDigests(value.facts.digests)
  if (digests === undefined) return undefined
  const metadata = value.facts.metadata
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
