// What reading core metadata out of an archive can give, and the caps that keep it cheap.
import type { Readable } from 'node:stream'

/**
 * Random access to an archive's bytes, without holding them: an `OpenFile` from the storage
 * seam fits (pass `size` from `openFile.file.size`).
 */
export interface RandomAccessSource {
  readonly size: number
  /** Stream bytes [start, end], both inclusive; may be called many times. */
  createReadStream(range: { start: number; end: number }): Readable
}

/** Why no metadata could be read; stable strings, safe to log and to cache. */
export type MetadataProblem =
  | 'corrupt-archive'
  | 'missing-metadata'
  | 'duplicate-metadata'
  | 'too-large'
  | 'compression-ratio'
  | 'unsupported-compression'
  | 'unsupported-format'

/** The metadata bytes exactly as stored (after inflating), or why there are none. */
export type MetadataRead =
  | { readonly ok: true; readonly bytes: Buffer; readonly member: string }
  | { readonly ok: false; readonly code: MetadataProblem; readonly reason: string }

/** A failed read (the `ok: false` half of {@link MetadataRead}). */
export type MetadataFailure = Extract<MetadataRead, { ok: false }>

/** The caps applied while reading; {@link METADATA_LIMITS} holds the defaults. */
export interface MetadataLimits {
  /** Largest metadata member, uncompressed. */
  readonly maxMetadataBytes: number
  /** Largest uncompressed/compressed ratio of a zip metadata member... */
  readonly maxCompressionRatio: number
  /** ...once it is bigger than this (tiny members have noisy ratios and cost nothing). */
  readonly ratioFloorBytes: number
  /** Most central-directory entries a zip may list. */
  readonly maxZipEntries: number
  /** Most members a tar is scanned through while looking for PKG-INFO. */
  readonly maxTarEntries: number
  /** Most (decompressed) tar bytes scanned while looking for PKG-INFO. */
  readonly maxTarScanBytes: number
}

const MIB = 1024 * 1024

/**
 * Default caps. 10 MiB of METADATA leaves room for the largest
 * real descriptions (a long README is a few hundred KiB). Text deflates 3–10×, rarely
 * beyond 50×; 200× is far outside that and catches zero-filled bombs long before the size
 * cap bites. Zip entries and tar bytes are bounded so a hostile archive costs a bounded amount
 * of work: no real wheel lists 100 000 files, and sdists whose backend writes PKG-INFO last
 * (flit, hatchling) are still found when they are under 256 MiB unpacked.
 */
export const METADATA_LIMITS: MetadataLimits = Object.freeze({
  maxMetadataBytes: 10 * MIB,
  maxCompressionRatio: 200,
  ratioFloorBytes: 64 * 1024,
  maxZipEntries: 100_000,
  maxTarEntries: 20_000,
  maxTarScanBytes: 256 * MIB,
})

/** A failed read with its code and a short human reason (archive-supplied text is truncated). */
export function metadataProblem(code: MetadataProblem, reason: string): MetadataFailure {
  return { ok: false, code, reason: reason.length > 300 ? `${reason.slice(0, 297)}...` : reason }
}

/** True when `value` is a failed read rather than some other result. */
export function isMetadataFailure(value: unknown): value is MetadataFailure {
  return typeof value === 'object' && value !== null && 'ok' in value && value.ok === false
}

/** The message of an unknown thrown value, for reasons. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
