// Digests of an upload computed while it streams to disk: md5 and sha256 (what the index
// keeps), the --hash-algo one, and BLAKE2b-256 (what clients send as blake2_256_digest).
import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { createBLAKE2b, type IHasher } from 'hash-wasm'
import type { Digests, HashAlgorithm } from '../core/digests.js'

/** Everything computed from one upload. */
export interface UploadDigests {
  /** The digests the index keeps (md5, sha256 and the anchor algorithm). */
  readonly digests: Digests
  readonly md5: string
  readonly sha256: string
  readonly blake2b256: string
}

/**
 * A pass-through stream hashing what flows through it. BLAKE2b-256 comes from hash-wasm: it is
 * BLAKE2b with a 32-byte digest (not a cut 512-bit one), which Node's crypto cannot compute
 * (OpenSSL 3.0 offers blake2b512 only, with no digest-length parameter).
 */
export class DigestTap extends Transform {
  readonly #hashes: readonly (readonly [HashAlgorithm, Hash])[]
  readonly #blake2: IHasher

  private constructor(algorithms: readonly HashAlgorithm[], blake2: IHasher) {
    super()
    const wanted = new Set<HashAlgorithm>(['md5', 'sha256', ...algorithms])
    this.#hashes = [...wanted].map((algorithm) => [algorithm, createHash(algorithm)] as const)
    this.#blake2 = blake2
  }

  /** A tap computing md5, sha256, `algorithms` and BLAKE2b-256. */
  static async create(algorithms: readonly HashAlgorithm[]): Promise<DigestTap> {
    const blake2 = await createBLAKE2b(256)
    blake2.init()
    return new DigestTap(algorithms, blake2)
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    for (const [, hash] of this.#hashes) hash.update(chunk)
    this.#blake2.update(chunk)
    callback(null, chunk)
  }

  /** The digests; call once, after the stream has ended. */
  result(): UploadDigests {
    const digests: Partial<Record<HashAlgorithm, string>> = {}
    for (const [algorithm, hash] of this.#hashes) digests[algorithm] = hash.digest('hex')
    return { digests, md5: digests.md5 ?? '', sha256: digests.sha256 ?? '', blake2b256: this.#blake2.digest('hex') }
  }
}
