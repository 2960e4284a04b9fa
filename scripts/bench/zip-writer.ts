// Uncompressed ("stored") zip archives for the benchmark's wheels, written by hand: the large
// wheel (hundreds of MB) is streamed to disk in chunks, and every member gets one fixed
// timestamp. fflate's zipSync would hold the whole archive in memory and stamp members from
// local-time getters (so the bytes would depend on TZ). Layout: PKWARE APPNOTE.TXT 6.3.10,
// sections 4.3.7 (local header), 4.3.12 (central directory header) and 4.3.16 (end record).
import type { FileHandle } from 'node:fs/promises'

/** One member: its name and, known before its bytes are written, its size and CRC-32. */
export interface ZipMember {
  readonly path: string
  readonly size: number
  readonly crc: number
}

// 2020-01-01 00:00:00 as MS-DOS time and date words (APPNOTE 4.4.6): the same in every time zone.
const DOS_TIME = 0
const DOS_DATE = ((2020 - 1980) << 9) | (1 << 5) | 1
// APPNOTE 4.4.3: 2.0 is the lowest version that knows folders; nothing here needs more.
const VERSION = 20
// Sizes and offsets are 32-bit without the ZIP64 extension, which these trees never need.
const MAX_32 = 0xffffffff

/** The local file header that precedes a member's bytes (APPNOTE 4.3.7). */
export function localHeader(member: ZipMember): Buffer {
  checkSize(member.size)
  const name = Buffer.from(member.path, 'utf8')
  const header = Buffer.alloc(30)
  header.writeUInt32LE(0x04034b50, 0)
  header.writeUInt16LE(VERSION, 4)
  header.writeUInt16LE(0, 6) // flags: no data descriptor, ASCII names
  header.writeUInt16LE(0, 8) // method 0: stored
  header.writeUInt16LE(DOS_TIME, 10)
  header.writeUInt16LE(DOS_DATE, 12)
  header.writeUInt32LE(member.crc, 14)
  header.writeUInt32LE(member.size, 18) // compressed size
  header.writeUInt32LE(member.size, 22) // uncompressed size
  header.writeUInt16LE(name.length, 26)
  header.writeUInt16LE(0, 28) // no extra field
  return Buffer.concat([header, name])
}

/** The central directory and its end record, for members written one after the other from offset 0. */
export function centralDirectory(members: readonly ZipMember[]): Buffer {
  const parts: Buffer[] = []
  let offset = 0
  for (const member of members) {
    const name = Buffer.from(member.path, 'utf8')
    const header = Buffer.alloc(46)
    header.writeUInt32LE(0x02014b50, 0)
    header.writeUInt16LE((3 << 8) | VERSION, 4) // made by Unix, so the mode below counts
    header.writeUInt16LE(VERSION, 6)
    header.writeUInt16LE(0, 8)
    header.writeUInt16LE(0, 10)
    header.writeUInt16LE(DOS_TIME, 12)
    header.writeUInt16LE(DOS_DATE, 14)
    header.writeUInt32LE(member.crc, 16)
    header.writeUInt32LE(member.size, 20)
    header.writeUInt32LE(member.size, 24)
    header.writeUInt16LE(name.length, 28)
    // extra and comment lengths, disk number and internal attributes stay 0
    header.writeUInt32LE((0o100644 << 16) >>> 0, 38) // a regular file, rw-r--r--
    header.writeUInt32LE(checkOffset(offset), 42)
    parts.push(header, name)
    offset += 30 + name.length + member.size
  }
  const directory = Buffer.concat(parts)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(members.length, 8)
  end.writeUInt16LE(members.length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(checkOffset(offset), 16)
  return Buffer.concat([directory, end])
}

/** A whole small archive in memory: members with their bytes, in order. */
export function storedZip(
  entries: readonly { readonly path: string; readonly data: Buffer; readonly crc: number }[],
): Buffer {
  const parts: Buffer[] = []
  for (const entry of entries)
    parts.push(localHeader({ path: entry.path, size: entry.data.length, crc: entry.crc }), entry.data)
  parts.push(centralDirectory(entries.map((entry) => ({ path: entry.path, size: entry.data.length, crc: entry.crc }))))
  return Buffer.concat(parts)
}

/**
 * Write an archive to `file` member by member: each member's bytes come from `chunks()`, called
 * once per member, after its size and CRC were given in `members` (same order).
 */
export async function writeStoredZip(
  file: FileHandle,
  members: readonly ZipMember[],
  chunks: (member: ZipMember) => Iterable<Buffer>,
): Promise<void> {
  for (const member of members) {
    await file.write(localHeader(member))
    let written = 0
    for (const chunk of chunks(member)) {
      await file.write(chunk)
      written += chunk.length
    }
    if (written !== member.size)
      throw new Error(`zip member ${member.path}: ${written} bytes written, ${member.size} announced`)
  }
  await file.write(centralDirectory(members))
}

function checkSize(size: number): void {
  if (size > MAX_32) throw new RangeError(`a zip member of ${size} bytes needs ZIP64, which this writer does not do`)
}

function checkOffset(offset: number): number {
  if (offset > MAX_32)
    throw new RangeError(`a zip archive of ${offset} bytes needs ZIP64, which this writer does not do`)
  return offset
}
