// Checking that a zip reads the same whether it is read from its central directory (Python's
// zipfile, so pip; yauzl, so eggserve) or streamed from its local headers (uv before 0.8.6,
// CVE-2025-54368). PyPI refuses uploads that fail these checks since August 2025
// (https://blog.pypi.org/posts/2025-08-07-wheel-archive-confusion-attacks/); the rules below
// follow Warehouse's warehouse/utils/zipfiles.py (validate_zipfile) one for one, written anew.
import type { RandomAccessSource } from './metadata-read.js'
import { READ_AHEAD_BYTES, readRange } from './zip-source.js'

/** What the central directory (as yauzl read it) says of one member. */
export interface CentralSizes {
  readonly compressedSize: number
  readonly uncompressedSize: number
}

/** APPNOTE 4.3.7 ff. record signatures. */
const LOCAL_FILE = 0x04034b50
const CENTRAL_DIRECTORY = 0x02014b50
const EOCD = 0x06054b50
const EOCD64 = 0x06064b50
const EOCD64_LOCATOR = 0x07064b50

const ZIP64_EXTRA = 0x0001
// Info-ZIP Unicode Path extra field (APPNOTE 4.6.9).
const UNICODE_PATH_EXTRA = 0x7075
const NO_DUPLICATES: ReadonlySet<number> = new Set([ZIP64_EXTRA, UNICODE_PATH_EXTRA])
const ZIP64_EXTRA_SIZES: ReadonlySet<number> = new Set([0, 8, 16, 24, 28])
const MAX32 = 0xffffffff
// General purpose bit 3: sizes follow the data in a data descriptor (APPNOTE 4.4.4).
const DATA_DESCRIPTOR_FLAG = 0x08

/** A framing fault, with Warehouse's wording. */
class FramingError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** True when `bytes` holds a C0 control character or DEL (Warehouse's UNPRINTABLE_CHARS). */
export function hasUnprintable(bytes: Uint8Array): boolean {
  return bytes.some((byte) => byte < 0x20 || byte === 0x7f)
}

/** `bytes` as UTF-8, or undefined when they are not UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * Reads of exact lengths, served from one read-ahead block as SourceReader's are, but
 * without its setImmediate per read (that is for yauzl's callbacks; this walk awaits).
 */
class Reader {
  readonly #source: RandomAccessSource
  readonly size: number
  #block: Buffer = Buffer.alloc(0)
  #blockStart = 0

  constructor(source: RandomAccessSource) {
    this.#source = source
    this.size = source.size
  }

  async read(position: number, length: number): Promise<Buffer> {
    if (position + length > this.size) throw new FramingError('Malformed zip file')
    let from = position - this.#blockStart
    if (from < 0 || from + length > this.#block.length) {
      this.#block = await readRange(
        this.#source,
        position,
        Math.min(this.size, position + Math.max(length, READ_AHEAD_BYTES)),
      )
      this.#blockStart = position
      from = 0
    }
    return this.#block.subarray(from, from + length)
  }
}

/** The walk's running state: names seen, central-directory extent, EOCD values. */
interface Walk {
  readonly central: ReadonlyMap<string, CentralSizes>
  readonly localNames: Set<string>
  readonly centralNames: Set<string>
  cdRecords: number
  cdOffset: number | undefined
  cdSize: number
  eocd64At: number | undefined
  locatorSeen: boolean
  eocd: { records: number; size: number; offset: number } | undefined
}

/**
 * Walk every record of the zip from its first byte, as Warehouse's validate_zipfile does, and
 * say why the zip is refused, or undefined when it is fine. `central` maps each member's raw
 * name (bytes as latin1) to the sizes its central-directory entry declares. Refused: anything
 * before the first record or after the end of central directory (two EOCDs, concatenated
 * zips), unknown records, data descriptors, comments on members, duplicate names, a local
 * header naming a file the central directory does not list (or with other sizes), names that
 * are not UTF-8 or hold control characters, and malformed ZIP64 records.
 */
export async function checkZipFraming(
  source: RandomAccessSource,
  central: ReadonlyMap<string, CentralSizes>,
): Promise<string | undefined> {
  const reader = new Reader(source)
  const walk: Walk = {
    central,
    localNames: new Set(),
    centralNames: new Set(),
    cdRecords: 0,
    cdOffset: undefined,
    cdSize: 0,
    eocd64At: undefined,
    locatorSeen: false,
    eocd: undefined,
  }
  try {
    let position = 0
    for (;;) {
      const signature = (await reader.read(position, 4)).readUInt32LE(0)
      if (signature === EOCD) {
        position = await endOfCentralDirectory(reader, position, walk)
        break
      }
      position = await record(reader, position, signature, walk)
    }
    if (position !== reader.size) return 'Trailing data'
  } catch (err) {
    if (err instanceof FramingError) return err.message
    throw err
  }
  return undefined
}

async function record(reader: Reader, position: number, signature: number, walk: Walk): Promise<number> {
  switch (signature) {
    case LOCAL_FILE:
      return localFile(reader, position, walk)
    case CENTRAL_DIRECTORY:
      return centralDirectory(reader, position, walk)
    case EOCD64: {
      walk.eocd64At = position
      const body = await reader.read(position + 4, 52)
      const size = Number(body.readBigUInt64LE(0))
      const recordsOnDisk = Number(body.readBigUInt64LE(20))
      const records = Number(body.readBigUInt64LE(28))
      if (recordsOnDisk !== records) throw new FramingError('Malformed zip file')
      if (size !== 44) throw new FramingError('ZIP64 extensible data not allowed')
      walk.eocd = { records, size: Number(body.readBigUInt64LE(36)), offset: Number(body.readBigUInt64LE(44)) }
      return position + 56
    }
    case EOCD64_LOCATOR:
      await reader.read(position + 4, 16)
      walk.locatorSeen = true
      return position + 20
    default:
      throw new FramingError('Unknown record signature')
  }
}

async function localFile(reader: Reader, position: number, walk: Walk): Promise<number> {
  const header = await reader.read(position, 30)
  const flags = header.readUInt16LE(6)
  const method = header.readUInt16LE(8)
  let compressedSize = header.readUInt32LE(18)
  let fileSize = header.readUInt32LE(22)
  const nameLength = header.readUInt16LE(26)
  const extraLength = header.readUInt16LE(28)
  const name = await reader.read(position + 30, nameLength)
  let extra = await reader.read(position + 30 + nameLength, extraLength)
  if (hasUnprintable(name)) throw new FramingError('Invalid character in filename')
  const seen = new Set<number>()
  while (extra.length > 0) {
    if (extra.length < 4) throw new FramingError('Malformed zip file')
    const id = extra.readUInt16LE(0)
    const size = extra.readUInt16LE(2)
    if (size + 4 > extra.length) throw new FramingError('Malformed zip file')
    if (seen.has(id) && NO_DUPLICATES.has(id)) throw new FramingError('Invalid duplicate extra in local file')
    seen.add(id)
    const data = extra.subarray(4, 4 + size)
    if (id === ZIP64_EXTRA) {
      if (!ZIP64_EXTRA_SIZES.has(size)) throw new FramingError('Malformed zip file')
      if (size === 0) {
        if (compressedSize === MAX32 || fileSize === MAX32) throw new FramingError('Malformed zip file')
      } else if (size === 8) {
        // Only the uncompressed size: the data must be stored, so both sizes are that one.
        if (method !== 0) throw new FramingError('Malformed zip file')
        const uncompressed = Number(data.readBigUInt64LE(0))
        compressedSize = uncompressed
        if (fileSize === MAX32) fileSize = uncompressed
      } else {
        // APPNOTE 4.5.3: the 64-bit values replace only fields holding the 0xFFFFFFFF sentinel.
        if (fileSize === MAX32) fileSize = Number(data.readBigUInt64LE(0))
        compressedSize = Number(data.readBigUInt64LE(8))
      }
    } else if (id === UNICODE_PATH_EXTRA) {
      // Version (1 byte) and the CRC-32 of the raw name (4 bytes), then the name.
      const unicodeName = data.subarray(5)
      if (hasUnprintable(unicodeName)) throw new FramingError('Invalid character in filename')
      if (decodeUtf8(unicodeName) === undefined) throw new FramingError('Filename not valid UTF-8')
    }
    extra = extra.subarray(4 + size)
  }
  if ((flags & DATA_DESCRIPTOR_FLAG) !== 0) throw new FramingError('ZIP contains a data descriptor')
  if (decodeUtf8(name) === undefined) throw new FramingError('Filename not unicode')
  const key = name.toString('latin1')
  const expected = walk.central.get(key)
  if (expected === undefined) throw new FramingError('Filename not in central directory')
  if (expected.compressedSize !== compressedSize) throw new FramingError('Mis-matched data size')
  if (expected.uncompressedSize !== fileSize) throw new FramingError('Mis-matched file size')
  if (walk.localNames.has(key)) throw new FramingError('Duplicate filename in local headers')
  walk.localNames.add(key)
  return position + 30 + nameLength + extraLength + compressedSize
}

async function centralDirectory(reader: Reader, position: number, walk: Walk): Promise<number> {
  walk.cdOffset ??= position
  walk.cdRecords += 1
  const header = await reader.read(position, 46)
  const nameLength = header.readUInt16LE(28)
  const extraLength = header.readUInt16LE(30)
  if (header.readUInt16LE(32) !== 0) throw new FramingError('Comment in central directory')
  const name = await reader.read(position + 46, nameLength)
  if (hasUnprintable(name)) throw new FramingError('Invalid character in filename')
  walk.cdSize += 46 + nameLength + extraLength
  const key = name.toString('latin1')
  if (walk.centralNames.has(key)) throw new FramingError('Duplicate filename in central directory')
  if (!walk.localNames.has(key)) throw new FramingError('Missing filename in local headers')
  walk.centralNames.add(key)
  return position + 46 + nameLength + extraLength
}

async function endOfCentralDirectory(reader: Reader, position: number, walk: Walk): Promise<number> {
  // After a ZIP64 end record, the classic one may only follow its locator.
  if (walk.eocd64At !== undefined && !walk.locatorSeen) throw new FramingError('Malformed zip file')
  walk.cdOffset ??= position
  const body = await reader.read(position + 4, 18)
  const recordsOnDisk = body.readUInt16LE(4)
  const records = body.readUInt16LE(6)
  const commentLength = body.readUInt16LE(16)
  if (recordsOnDisk !== records) throw new FramingError('Malformed zip file')
  // A ZIP64 archive's own values count; the classic record may then hold 0xFFFF sentinels.
  if (!(walk.eocd64At !== undefined && walk.eocd !== undefined)) {
    walk.eocd = { records, size: body.readUInt32LE(8), offset: body.readUInt32LE(12) }
  }
  const eocd = walk.eocd
  if (eocd.records !== walk.cdRecords) throw new FramingError('Mismatched central directory records')
  if (eocd.offset !== walk.cdOffset) throw new FramingError('Mismatched central directory offset')
  if (eocd.size !== walk.cdSize) throw new FramingError('Mismatched central directory size')
  if (walk.centralNames.size !== walk.localNames.size)
    throw new FramingError('Mis-matched local headers and central directory')
  return position + 22 + commentLength
}
