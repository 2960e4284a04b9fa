// Reading one zip member into memory under the metadata caps: declared sizes first, then every real byte.
import type { Readable } from 'node:stream'
import { crc32, createInflateRaw, type InflateRaw } from 'node:zlib'
import type { Entry, LocalFileHeader, ZipFile } from 'yauzl'
import { plural } from '../core/plural.js'
import { errorMessage, metadataProblem, type MetadataLimits, type MetadataRead } from './metadata-read.js'

// APPNOTE 4.4.5 compression methods. Warehouse accepts only these two in uploads.
const STORED = 0
const DEFLATED = 8

/**
 * Read `entry` exactly as stored, after inflating: only stored and deflated members, at most
 * `maxMetadataBytes`, no absurd compression ratio, sizes and CRC-32 as the central directory
 * declares them, and a local header naming the same member.
 */
export async function readZipMember(zip: ZipFile, entry: Entry, limits: MetadataLimits): Promise<MetadataRead> {
  const member = entry.fileName
  const refused = refuseByHeader(entry, limits)
  if (refused !== undefined) return refused
  let raw: Readable
  try {
    const local = await new Promise<LocalFileHeader>((resolve, reject) => {
      zip.readLocalFileHeader(entry, (err, header) => {
        if (err === null) resolve(header)
        else reject(err)
      })
    })
    // Python's zipfile (so pip) refuses a member whose local header names another file; a
    // reader that trusted only one of the two could be shown different bytes than pip sees.
    if (!local.fileName.equals(entry.fileNameRaw)) {
      return metadataProblem('corrupt-archive', `the local header of ${member} names a different file`)
    }
    // decompress false: the raw bytes come to us and we inflate them ourselves, so the caps
    // count every inflated byte and the inflater is destroyed with everything else.
    raw = await new Promise<Readable>((resolve, reject) => {
      zip.openReadStreamLowLevel(
        local.fileDataStart,
        entry.compressedSize,
        0,
        entry.compressedSize,
        false,
        null,
        (err, stream) => {
          if (err === null) resolve(stream)
          else reject(err)
        },
      )
    })
  } catch (err) {
    return metadataProblem('corrupt-archive', `cannot read ${member}: ${errorMessage(err)}`)
  }
  return collect(raw, entry, limits)
}

/** What the central directory alone is enough to refuse. */
function refuseByHeader(entry: Entry, limits: MetadataLimits): MetadataRead | undefined {
  const member = entry.fileName
  if (entry.isEncrypted()) return metadataProblem('unsupported-format', `${member} is encrypted`)
  if (entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED) {
    return metadataProblem(
      'unsupported-compression',
      `${member} uses compression method ${entry.compressionMethod}; only stored (0) and deflate (8) are read`,
    )
  }
  if (entry.uncompressedSize > limits.maxMetadataBytes) {
    return metadataProblem(
      'too-large',
      `${member} declares ${entry.uncompressedSize} bytes, more than ${limits.maxMetadataBytes}`,
    )
  }
  if (ratioExceeded(entry.uncompressedSize, entry.compressedSize, limits)) {
    return metadataProblem(
      'compression-ratio',
      `${member} declares ${entry.uncompressedSize} bytes from ${entry.compressedSize}, a ratio above ${limits.maxCompressionRatio}`,
    )
  }
  return undefined
}

function ratioExceeded(uncompressed: number, compressed: number, limits: MetadataLimits): boolean {
  return uncompressed > limits.ratioFloorBytes && uncompressed > compressed * limits.maxCompressionRatio
}

/**
 * Inflate (if need be) and gather the member. Real bytes are counted as they come, so a member
 * whose header lies is stopped at the first chunk past its declared size, never the whole bomb.
 */
async function collect(raw: Readable, entry: Entry, limits: MetadataLimits): Promise<MetadataRead> {
  const member = entry.fileName
  const inflater: InflateRaw | undefined = entry.compressionMethod === DEFLATED ? createInflateRaw() : undefined
  const output: Readable = inflater ?? raw
  return new Promise<MetadataRead>((resolve) => {
    const chunks: Buffer[] = []
    let total = 0
    let crc = 0
    let settled = false
    const settle = (result: MetadataRead): void => {
      if (settled) return
      settled = true
      // Cut short whatever is still running; finished streams are left alone (see cutShortOnly).
      if (!raw.readableEnded) raw.destroy()
      inflater?.destroy()
      resolve(result)
    }
    raw.on('error', (err: Error) => {
      settle(metadataProblem('corrupt-archive', `cannot read ${member}: ${err.message}`))
    })
    inflater?.on('error', (err: Error) => {
      settle(metadataProblem('corrupt-archive', `cannot inflate ${member}: ${err.message}`))
    })
    output.on('data', (chunk: Buffer) => {
      total += chunk.length
      if (total > limits.maxMetadataBytes) {
        settle(metadataProblem('too-large', `${member} inflates to more than ${limits.maxMetadataBytes} bytes`))
      } else if (ratioExceeded(total, entry.compressedSize, limits)) {
        settle(
          metadataProblem(
            'compression-ratio',
            `${member} inflates beyond ${limits.maxCompressionRatio} times its compressed size`,
          ),
        )
      } else if (total > entry.uncompressedSize) {
        settle(
          metadataProblem(
            'corrupt-archive',
            `${member} inflates to more than its declared ${entry.uncompressedSize} bytes`,
          ),
        )
      } else {
        crc = crc32(chunk, crc)
        chunks.push(chunk)
      }
    })
    output.on('end', () => {
      if (total !== entry.uncompressedSize) {
        settle(
          metadataProblem(
            'corrupt-archive',
            `${member} has ${plural(total, 'byte')}, not the declared ${entry.uncompressedSize}`,
          ),
        )
      } else if (crc !== entry.crc32) {
        settle(metadataProblem('corrupt-archive', `${member} fails its CRC-32 check`))
      } else {
        settle({ ok: true, bytes: Buffer.concat(chunks, total), member })
      }
    })
    if (inflater !== undefined) raw.pipe(inflater)
  })
}
