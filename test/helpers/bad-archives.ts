// Broken and hostile archives for the metadata reader's tests: bombs, lies and odd methods.
// Big members are produced chunk by chunk, so a "50 MiB" bomb never exists uncompressed.
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { crc32, createDeflateRaw, createGzip } from 'node:zlib'

/** A zip member whose bytes are already compressed; the sizes and CRC are written as given. */
export interface RawMember {
  name: string
  /** APPNOTE 4.4.5 method: 0 stored, 8 deflate, 12 bzip2, ... */
  method: number
  compressed: Buffer
  crc: number
  uncompressedSize: number
  /** The name's raw bytes, when they are not `name` in UTF-8 (e.g. not UTF-8 at all). */
  nameBytes?: Buffer
  /** General purpose flags of both headers; default 0x0800 (UTF-8 name). */
  flags?: number
  /** Extra field bytes of both headers (APPNOTE 4.5). */
  extra?: Buffer
}

const ZERO_CHUNK = Buffer.alloc(1024 * 1024)

/** `size` zero bytes, raw-deflated at level 9, with their CRC-32; memory stays near 1 MiB. */
export async function deflatedZeros(size: number): Promise<{ compressed: Buffer; crc: number }> {
  const deflate = createDeflateRaw({ level: 9 })
  const parts: Buffer[] = []
  deflate.on('data', (chunk: Buffer) => parts.push(chunk))
  let crc = 0
  for (let left = size; left > 0; left -= ZERO_CHUNK.length) {
    const chunk = left >= ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, left)
    crc = crc32(chunk, crc)
    if (!deflate.write(chunk)) await once(deflate, 'drain')
  }
  deflate.end()
  await once(deflate, 'end')
  return { compressed: Buffer.concat(parts), crc }
}

/** A member deflated from `data` (small members only). */
export async function deflatedMember(name: string, data: Buffer): Promise<RawMember> {
  const deflate = createDeflateRaw({ level: 9 })
  const parts: Buffer[] = []
  deflate.on('data', (chunk: Buffer) => parts.push(chunk))
  deflate.end(data)
  await once(deflate, 'end')
  return { name, method: 8, compressed: Buffer.concat(parts), crc: crc32(data), uncompressedSize: data.length }
}

/** A zip of raw members in the given order (duplicates allowed); UTF-8 names unless a member says otherwise. */
export function rawZip(members: readonly RawMember[]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const member of members) {
    const name = member.nameBytes ?? Buffer.from(member.name, 'utf8')
    const flags = member.flags ?? 0x0800
    const extra = member.extra ?? Buffer.alloc(0)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(flags, 6)
    local.writeUInt16LE(member.method, 8)
    local.writeUInt32LE(member.crc, 14)
    local.writeUInt32LE(member.compressed.length, 18)
    local.writeUInt32LE(member.uncompressedSize, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(extra.length, 28)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE((3 << 8) | 20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(flags, 8)
    central.writeUInt16LE(member.method, 10)
    central.writeUInt32LE(member.crc, 16)
    central.writeUInt32LE(member.compressed.length, 20)
    central.writeUInt32LE(member.uncompressedSize, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt16LE(extra.length, 30)
    central.writeUInt32LE(offset, 42)
    locals.push(local, name, extra, member.compressed)
    centrals.push(central, name, extra)
    offset += local.length + name.length + extra.length + member.compressed.length
  }
  const directory = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(members.length, 8)
  end.writeUInt16LE(members.length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, directory, end])
}

/** Where a member's central and local headers start, found through the end-of-central-directory record. */
export function findMember(zip: Buffer, name: string): { central: number; local: number } {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  if (eocd < 0) throw new Error('no end of central directory')
  let at = zip.readUInt32LE(eocd + 16)
  for (let i = 0; i < zip.readUInt16LE(eocd + 10); i++) {
    const nameLength = zip.readUInt16LE(at + 28)
    if (zip.toString('utf8', at + 46, at + 46 + nameLength) === name)
      return { central: at, local: zip.readUInt32LE(at + 42) }
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32)
  }
  throw new Error(`no member ${name}`)
}

/** A copy of `zip` whose member `name` claims compression `method` in both of its headers. */
export function withMethod(zip: Buffer, name: string, method: number): Buffer {
  const copy = Buffer.from(zip)
  const { central, local } = findMember(copy, name)
  copy.writeUInt16LE(method, central + 10)
  copy.writeUInt16LE(method, local + 8)
  return copy
}

/** A copy of `zip` whose member `name` has `flags` set in both of its headers (bit 0: encrypted, bit 3: data descriptor). */
export function withFlags(zip: Buffer, name: string, flags: number): Buffer {
  const copy = Buffer.from(zip)
  const { central, local } = findMember(copy, name)
  copy.writeUInt16LE(copy.readUInt16LE(central + 8) | flags, central + 8)
  copy.writeUInt16LE(copy.readUInt16LE(local + 6) | flags, local + 6)
  return copy
}

/** A copy of `zip` with its end-of-central-directory record written once more at the end. */
export function withSecondEocd(zip: Buffer): Buffer {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  return Buffer.concat([zip, zip.subarray(eocd, eocd + 22)])
}

/**
 * A copy of `zip` with `prefix` bytes in front (a self-extracting stub), every offset moved
 * so that readers that go by the central directory still read it.
 */
export function withPrefix(zip: Buffer, prefix: Buffer): Buffer {
  const copy = Buffer.concat([prefix, zip])
  const eocd = copy.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  const start = copy.readUInt32LE(eocd + 16) + prefix.length
  copy.writeUInt32LE(start, eocd + 16)
  let at = start
  for (let i = 0; i < copy.readUInt16LE(eocd + 10); i++) {
    copy.writeUInt32LE(copy.readUInt32LE(at + 42) + prefix.length, at + 42)
    at += 46 + copy.readUInt16LE(at + 28) + copy.readUInt16LE(at + 30) + copy.readUInt16LE(at + 32)
  }
  return copy
}

/** A copy of `zip` whose member `name` carries a comment in the central directory. */
export function withMemberComment(zip: Buffer, name: string, comment: string): Buffer {
  const { central } = findMember(zip, name)
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  const nameEnd = central + 46 + zip.readUInt16LE(central + 28) + zip.readUInt16LE(central + 30)
  const text = Buffer.from(comment, 'utf8')
  const copy = Buffer.concat([zip.subarray(0, nameEnd), text, zip.subarray(nameEnd)])
  copy.writeUInt16LE(text.length, central + 32)
  copy.writeUInt32LE(copy.readUInt32LE(eocd + text.length + 12) + text.length, eocd + text.length + 12)
  return copy
}

/** A copy of `zip` whose member `name` has its central CRC-32 flipped. */
export function withBadCrc(zip: Buffer, name: string): Buffer {
  const copy = Buffer.from(zip)
  const { central } = findMember(copy, name)
  copy.writeUInt32LE((copy.readUInt32LE(central + 16) ^ 0xffffffff) >>> 0, central + 16)
  return copy
}

/** A copy of `zip` whose local header for `name` spells the last letter of the name differently. */
export function withLocalNameChanged(zip: Buffer, name: string): Buffer {
  const copy = Buffer.from(zip)
  const { local } = findMember(copy, name)
  const last = local + 30 + Buffer.byteLength(name) - 1
  copy[last] = (copy[last] ?? 0) ^ 0x01
  return copy
}

/** A 512-byte ustar header (checksum filled in); `type` '0' is a regular file, 'x' a pax extended header. */
export function ustarFileHeader(name: string, size: number, type = '0'): Buffer {
  const header = Buffer.alloc(512)
  header.write(name, 0, 100, 'utf8')
  header.write('0000644\0', 100, 'ascii')
  header.write('0000000\0', 108, 'ascii')
  header.write('0000000\0', 116, 'ascii')
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii')
  header.write('00000000000\0', 136, 'ascii')
  header.write(type, 156, 'ascii')
  header.write('ustar\u000000', 257, 'ascii')
  header.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii')
  return header
}

/** `data` padded with zeros to a whole number of 512-byte tar blocks. */
export function tarBlocks(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)])
}

/**
 * One member whose real path is carried by a pax extended header (POSIX.1-2001, what Python
 * 3.8+ writes for sdists), the ustar name field holding only a placeholder.
 */
export function paxMember(path: string, data: Buffer): Buffer {
  const body = ` path=${path}\n`
  // A pax record is "LENGTH key=value\n" where LENGTH counts its own digits too.
  let length = body.length
  while (String(length).length + body.length !== length) length = String(length).length + body.length
  const records = Buffer.from(`${length}${body}`, 'utf8')
  return Buffer.concat([
    ustarFileHeader('PaxHeader/placeholder', records.length, 'x'),
    tarBlocks(records),
    ustarFileHeader('placeholder', data.length),
    tarBlocks(data),
  ])
}

/**
 * Write `path` as a .tar.gz holding `zeroBytes` of zeros in `<top>/zeros.bin`, then
 * `<top>/PKG-INFO`: gzip squeezes the zeros about 1000:1, so the file stays small.
 */
export async function writeZeroPaddedTarGz(
  path: string,
  top: string,
  zeroBytes: number,
  pkgInfo: Buffer,
): Promise<void> {
  const gzip = createGzip({ level: 9 })
  const file = createWriteStream(path)
  gzip.pipe(file)
  const write = async (chunk: Buffer): Promise<void> => {
    if (!gzip.write(chunk)) await once(gzip, 'drain')
  }
  await write(ustarFileHeader(`${top}/zeros.bin`, zeroBytes))
  const padded = Math.ceil(zeroBytes / 512) * 512
  for (let left = padded; left > 0; left -= ZERO_CHUNK.length) {
    await write(left >= ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, left))
  }
  await write(ustarFileHeader(`${top}/PKG-INFO`, pkgInfo.length))
  await write(Buffer.concat([tarBlocks(pkgInfo), Buffer.alloc(1024)]))
  gzip.end()
  await once(file, 'close')
}
