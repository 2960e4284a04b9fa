// Deterministic zip and ustar/gzip writers for the test distributions (see distributions.ts).
// Written by hand rather than with fflate's zipSync or tar-stream's pack because both leak
// the environment into the bytes: zipSync encodes DOS times from *local* time getters (so the
// output depends on TZ) and pack is asynchronous. Compression goes through fflate, which is
// pure JavaScript, so the bytes do not depend on the zlib build Node happens to link.
import { crc32 } from 'node:zlib'
import { deflateSync, gzipSync } from 'fflate'

/** One archive member. Directory paths end with `/` and carry no data. */
export interface ArchiveEntry {
  path: string
  data: Buffer
}

// Fixed permissions so the archives do not depend on the umask of whoever builds them.
const FILE_MODE = 0o644
const DIR_MODE = 0o755

// Used when SOURCE_DATE_EPOCH is unset: 2020-02-02T00:00:00Z.
const DEFAULT_EPOCH = 1580601600

// The DOS date fields in zip headers cannot encode anything before 1980-01-01T00:00:00Z.
const ZIP_MIN_EPOCH = 315532800

/**
 * The timestamp every member gets, in seconds since 1970: SOURCE_DATE_EPOCH when set (the
 * reproducible-builds.org convention), else a constant. Read per call so tests can pin it.
 */
export function archiveEpoch(): number {
  const fromEnv = process.env.SOURCE_DATE_EPOCH
  if (fromEnv === undefined || fromEnv === '') return DEFAULT_EPOCH
  if (!/^\d+$/.test(fromEnv))
    throw new Error(`SOURCE_DATE_EPOCH must be a whole number of seconds, got ${JSON.stringify(fromEnv)}`)
  return Number(fromEnv)
}

/**
 * Adds an entry for every parent directory of the given files (sdists carry them, as
 * `setup.py sdist` does) and sorts by path, so the archive order never depends on the caller.
 */
export function withParentDirs(entries: readonly ArchiveEntry[]): ArchiveEntry[] {
  const byPath = new Map<string, ArchiveEntry>()
  for (const entry of entries) {
    byPath.set(entry.path, entry)
    const parts = entry.path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const dir = `${parts.slice(0, i).join('/')}/`
      if (!byPath.has(dir)) byPath.set(dir, { path: dir, data: Buffer.alloc(0) })
    }
  }
  return sortEntries([...byPath.values()])
}

/** Entries sorted by path in code-unit order (a parent directory always precedes its members). */
export function sortEntries(entries: readonly ArchiveEntry[]): ArchiveEntry[] {
  return [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function isDir(entry: ArchiveEntry): boolean {
  return entry.path.endsWith('/')
}

/** DOS time and date words (APPNOTE 4.4.6) for a UTC instant; zip has no time zone field. */
function dosDateTime(epoch: number): { time: number; date: number } {
  const when = new Date(Math.max(epoch, ZIP_MIN_EPOCH) * 1000)
  const time = (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | (when.getUTCSeconds() >> 1)
  const date = ((when.getUTCFullYear() - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate()
  return { time, date }
}

/**
 * A zip archive (PKWARE APPNOTE) with the entries in the given order, deflated, every member
 * stamped with `archiveEpoch()` and Unix permissions in the external attributes.
 */
export function writeZip(entries: readonly ArchiveEntry[]): Buffer {
  const { time, date } = dosDateTime(archiveEpoch())
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const entry of entries) {
    const name = Buffer.from(entry.path, 'utf8')
    const dir = isDir(entry)
    const stored = dir ? entry.data : Buffer.from(deflateSync(entry.data, { level: 9 }))
    // Bit 11 marks a UTF-8 name (APPNOTE 4.4.4); pure-ASCII names leave it clear, like zipfile.
    const flags = name.length === entry.path.length ? 0 : 0x0800
    const method = dir ? 0 : 8
    const crc = dir ? 0 : crc32(entry.data)

    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4) // version needed: 2.0 (deflate)
    local.writeUInt16LE(flags, 6)
    local.writeUInt16LE(method, 8)
    local.writeUInt16LE(time, 10)
    local.writeUInt16LE(date, 12)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(stored.length, 18)
    local.writeUInt32LE(entry.data.length, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28)
    locals.push(local, name, stored)

    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    // Made by Unix (3), so readers honour the permission bits in the high attribute word.
    central.writeUInt16LE((3 << 8) | 20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(flags, 8)
    central.writeUInt16LE(method, 10)
    central.writeUInt16LE(time, 12)
    central.writeUInt16LE(date, 14)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(stored.length, 20)
    central.writeUInt32LE(entry.data.length, 24)
    central.writeUInt16LE(name.length, 28)
    // extra length, comment length, disk number and internal attributes stay 0
    const unixMode = dir ? 0o040000 | DIR_MODE : 0o100000 | FILE_MODE
    central.writeUInt32LE(((unixMode << 16) | (dir ? 0x10 : 0)) >>> 0, 38) // 0x10: MS-DOS directory bit
    central.writeUInt32LE(offset, 42)
    centrals.push(central, name)

    offset += local.length + name.length + stored.length
  }
  const centralDir = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(centralDir.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, centralDir, end])
}

const BLOCK = 512
// tar(1) pads archives to whole 10240-byte records (blocking factor 20), and so does Python's tarfile.
const RECORD = 20 * BLOCK

/** Writes `value` as a zero-padded octal string of `width - 1` digits plus a NUL terminator. */
function writeOctal(header: Buffer, value: number, offset: number, width: number): void {
  const digits = value.toString(8).padStart(width - 1, '0')
  if (digits.length > width - 1) throw new Error(`tar field overflow: ${value} does not fit ${width} bytes`)
  header.write(`${digits}\0`, offset, width, 'ascii')
}

/** Splits a long path into ustar's prefix (155 bytes) and name (100 bytes) fields at a `/`. */
function splitUstarPath(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path }
  const body = path.endsWith('/') ? path.slice(0, -1) : path
  for (let cut = body.lastIndexOf('/'); cut > 0; cut = body.lastIndexOf('/', cut - 1)) {
    const prefix = path.slice(0, cut)
    const name = path.slice(cut + 1)
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { prefix, name }
  }
  throw new Error(`path too long for a ustar header: ${path}`)
}

/** One POSIX ustar header block: uid/gid 0, no user or group names, fixed mode and mtime. */
function ustarHeader(entry: ArchiveEntry, mtime: number): Buffer {
  const dir = isDir(entry)
  const { prefix, name } = splitUstarPath(entry.path)
  const header = Buffer.alloc(BLOCK)
  header.write(name, 0, 100, 'utf8')
  writeOctal(header, dir ? DIR_MODE : FILE_MODE, 100, 8)
  writeOctal(header, 0, 108, 8) // uid
  writeOctal(header, 0, 116, 8) // gid
  writeOctal(header, dir ? 0 : entry.data.length, 124, 12)
  writeOctal(header, mtime, 136, 12)
  header.write(dir ? '5' : '0', 156, 1, 'ascii')
  header.write('ustar\u000000', 257, 8, 'ascii') // magic "ustar\0" then version "00"
  // uname (265) and gname (297) stay empty: no builder's account names in the archive
  writeOctal(header, 0, 329, 8) // devmajor
  writeOctal(header, 0, 337, 8) // devminor
  header.write(prefix, 345, 155, 'utf8')
  // The checksum is computed with its own field read as eight spaces.
  header.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii')
  return header
}

/** A ustar archive of the entries in the given order, padded to whole tar records. */
export function writeTar(entries: readonly ArchiveEntry[]): Buffer {
  const mtime = archiveEpoch()
  const parts: Buffer[] = []
  let length = 0
  for (const entry of entries) {
    const header = ustarHeader(entry, mtime)
    parts.push(header)
    length += BLOCK
    if (!isDir(entry) && entry.data.length > 0) {
      const padding = (BLOCK - (entry.data.length % BLOCK)) % BLOCK
      parts.push(entry.data, Buffer.alloc(padding))
      length += entry.data.length + padding
    }
  }
  // End of archive: two zero blocks, then zeros up to the record boundary.
  const trailer = 2 * BLOCK + ((RECORD - ((length + 2 * BLOCK) % RECORD)) % RECORD)
  parts.push(Buffer.alloc(trailer))
  return Buffer.concat(parts)
}

/** A gzip stream (RFC 1952) with header mtime 0 and no file name, so only the content matters. */
export function gzip(data: Buffer): Buffer {
  return Buffer.from(gzipSync(data, { level: 9, mtime: 0 }))
}
