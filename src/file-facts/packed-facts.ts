// The form in which a facts store keeps a file's facts for the life of the process: one string
// of raw bytes instead of three objects and three hex strings.
//
// Why: the facts of 100,000 files were the largest thing the index kept. Each file's facts were
// a FileFacts, its digests and its metadata (three objects of 56 bytes) holding an md5 and two
// sha256 digests as hex strings (48 + 80 + 80 bytes): about 390 bytes, 39 MB of the 113 MB a
// heap snapshot found alive when a cold start was ready. Packed, the same facts are one
// one-byte string of 16 + 81 bytes (and the Requires-Python text), about 110 bytes.
//
// Lossless or not at all: facts whose digests are not lowercase hex of their algorithm's
// length (nothing eggserve computes, but a cache record can say anything its checksum covers)
// are kept as they are, so unpackFacts(packFacts(facts)) always equals `facts`.
import { ANCHOR_ALGORITHMS, type HashAlgorithm } from '../core/digests.js'
import type { FileFacts } from '../core/index-model.js'
import type { InternTable } from '../core/intern.js'

/** FileFacts as a facts store keeps them: packed (a string), or the object when it cannot be packed. */
export type StoredFileFacts = string | FileFacts

// Digest length in bytes, by algorithm; the packed form lists digests in ANCHOR_ALGORITHMS order.
const DIGEST_BYTES: Readonly<Record<HashAlgorithm, number>> = { md5: 16, sha256: 32, sha384: 48, sha512: 64 }
// Each algorithm's bit in the first byte: 1 << its index in ANCHOR_ALGORITHMS.
const BIT: Readonly<Record<HashAlgorithm, number>> = { md5: 1, sha256: 2, sha384: 4, sha512: 8 }
const METADATA_BYTES = 32
// The first byte: bit i for ANCHOR_ALGORITHMS[i] present, then these two.
const HAS_METADATA = 1 << 4
const HAS_REQUIRES_PYTHON = 1 << 5

const LOWER_HEX = /^[0-9a-f]*$/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

// Longest packed form without Requires-Python: 1 + 16 + 32 + 48 + 64 + 32 bytes. The scratch
// grows for a long Requires-Python; packing and unpacking are synchronous, so one is enough.
let scratch = Buffer.allocUnsafe(256)

/**
 * `facts` as a store keeps them: a string of raw bytes (see above), or `facts` itself when a
 * digest is not lowercase hex of its algorithm's length or an unknown algorithm is present.
 * @example typeof packFacts({ digests: { md5: 'd4…', sha256: '9f…' } }) // 'string'
 */
export function packFacts(facts: FileFacts): StoredFileFacts {
  const { digests, metadata } = facts
  let flags = 0
  let length = 1
  let count = 0
  for (const algorithm of ANCHOR_ALGORITHMS) {
    const hex = digests[algorithm]
    if (hex === undefined) continue
    if (hex.length !== DIGEST_BYTES[algorithm] * 2 || !LOWER_HEX.test(hex)) return facts
    flags |= BIT[algorithm]
    length += DIGEST_BYTES[algorithm]
    count++
  }
  // A field this form has no room for (or one present but undefined) keeps the object.
  if (Object.keys(digests).length !== count) return facts
  const requiresPython = metadata?.requiresPython
  if (metadata !== undefined) {
    if (metadata.sha256.length !== METADATA_BYTES * 2 || !LOWER_HEX.test(metadata.sha256)) return facts
    if (Object.keys(metadata).length !== (requiresPython === undefined ? 1 : 2)) return facts
    flags |= HAS_METADATA
    length += METADATA_BYTES
  }
  if (Object.keys(facts).length !== (metadata === undefined ? 1 : 2)) return facts
  if (requiresPython !== undefined) {
    // UTF-8 holds every well-formed string; a lone surrogate would come back as U+FFFD.
    if (LONE_SURROGATE.test(requiresPython)) return facts
    flags |= HAS_REQUIRES_PYTHON
    length += Buffer.byteLength(requiresPython)
  }
  if (scratch.length < length) scratch = Buffer.allocUnsafe(length * 2)
  scratch[0] = flags
  let at = 1
  for (const algorithm of ANCHOR_ALGORITHMS) {
    const hex = digests[algorithm]
    if (hex !== undefined) at += scratch.write(hex, at, 'hex')
  }
  if (metadata !== undefined) at += scratch.write(metadata.sha256, at, 'hex')
  if (requiresPython !== undefined) at += scratch.write(requiresPython, at, 'utf8')
  // latin1: one character per byte, a flat one-byte string of `length` characters.
  return scratch.toString('latin1', 0, at)
}

/**
 * The facts a store keeps, as FileFacts again: equal, field for field and in the same order of
 * algorithms, to what was packed. `strings` shares the Requires-Python values (few per tree).
 */
export function unpackFacts(stored: StoredFileFacts, strings?: InternTable): FileFacts {
  if (typeof stored !== 'string') return stored
  if (scratch.length < stored.length) scratch = Buffer.allocUnsafe(stored.length * 2)
  const length = scratch.write(stored, 0, 'latin1')
  const flags = scratch[0] ?? 0
  const digests: Partial<Record<HashAlgorithm, string>> = {}
  let at = 1
  for (const algorithm of ANCHOR_ALGORITHMS) {
    if ((flags & BIT[algorithm]) === 0) continue
    digests[algorithm] = scratch.toString('hex', at, at + DIGEST_BYTES[algorithm])
    at += DIGEST_BYTES[algorithm]
  }
  if ((flags & HAS_METADATA) === 0) return { digests }
  const sha256 = scratch.toString('hex', at, at + METADATA_BYTES)
  at += METADATA_BYTES
  if ((flags & HAS_REQUIRES_PYTHON) === 0) return { digests, metadata: { sha256 } }
  const requiresPython = scratch.toString('utf8', at, length)
  return { digests, metadata: { sha256, requiresPython: strings?.intern(requiresPython) ?? requiresPython } }
}

/** True when `stored` holds a digest of `algorithm`. */
export function hasDigest(stored: StoredFileFacts, algorithm: HashAlgorithm): boolean {
  if (typeof stored !== 'string') return stored.digests[algorithm] !== undefined
  return (stored.charCodeAt(0) & BIT[algorithm]) !== 0
}

// Lowercase hex digit → its value; -1 for any other byte.
const HEX_VALUE = Int8Array.from({ length: 256 }, (_, byte) =>
  byte >= 48 && byte <= 57 ? byte - 48 : byte >= 97 && byte <= 102 ? byte - 87 : -1,
)
// Where each digest waits in FactsPacker's slots until finish() (records may list them in any order).
const SLOT: Readonly<Record<HashAlgorithm, number>> = { md5: 0, sha256: 16, sha384: 48, sha512: 96 }
const METADATA_SLOT = 160

/**
 * Packs facts straight from their hex text in a cache record's bytes, making no string of it:
 * a warm start reads 100,000 records, and each digest made a hex string only to be packed.
 * One record at a time: start(), its fields, then finish().
 */
export class FactsPacker {
  readonly #slots = Buffer.alloc(METADATA_SLOT + METADATA_BYTES)
  #flags = 0
  #requiresPython: string | undefined

  start(): void {
    this.#flags = 0
    this.#requiresPython = undefined
  }

  /** The digest of `algorithm` is the hex text bytes[start, end): false when it is not lowercase hex of its length. */
  digest(algorithm: HashAlgorithm, bytes: Buffer, start: number, end: number): boolean {
    if (!this.#decode(bytes, start, end, SLOT[algorithm], DIGEST_BYTES[algorithm])) return false
    this.#flags |= BIT[algorithm]
    return true
  }

  /** The metadata's sha256 is the hex text bytes[start, end): false as digest() says. */
  metadata(bytes: Buffer, start: number, end: number): boolean {
    if (!this.#decode(bytes, start, end, METADATA_SLOT, METADATA_BYTES)) return false
    this.#flags |= HAS_METADATA
    return true
  }

  /** The metadata's Requires-Python (after metadata()): false when the packed form cannot hold it. */
  requiresPython(value: string): boolean {
    if (LONE_SURROGATE.test(value)) return false
    this.#flags |= HAS_REQUIRES_PYTHON
    this.#requiresPython = value
    return true
  }

  /** The packed facts (what packFacts() makes of the same facts). */
  finish(): string {
    const requiresPython = this.#requiresPython
    const length = 1 + 160 + METADATA_BYTES + (requiresPython === undefined ? 0 : Buffer.byteLength(requiresPython))
    if (scratch.length < length) scratch = Buffer.allocUnsafe(length * 2)
    scratch[0] = this.#flags
    let at = 1
    for (const algorithm of ANCHOR_ALGORITHMS) {
      if ((this.#flags & BIT[algorithm]) === 0) continue
      at += this.#slots.copy(scratch, at, SLOT[algorithm], SLOT[algorithm] + DIGEST_BYTES[algorithm])
    }
    if ((this.#flags & HAS_METADATA) !== 0) at += this.#slots.copy(scratch, at, METADATA_SLOT)
    if (requiresPython !== undefined) at += scratch.write(requiresPython, at, 'utf8')
    return scratch.toString('latin1', 0, at)
  }

  #decode(bytes: Buffer, start: number, end: number, slot: number, length: number): boolean {
    if (end - start !== length * 2) return false
    for (let i = 0; i < length; i++) {
      const high = HEX_VALUE[bytes[start + 2 * i] ?? 0] ?? -1
      const low = HEX_VALUE[bytes[start + 2 * i + 1] ?? 0] ?? -1
      if (high < 0 || low < 0) return false
      this.#slots[slot + i] = (high << 4) | low
    }
    return true
  }
}
