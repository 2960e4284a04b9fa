// Distributions PyPI refuses at upload (warehouse/forklift/legacy.py, warehouse/utils/zipfiles.py)
// and that eggserve took before: each is a release "upl 1.6" with the reason expected.
import { crc32 } from 'node:zlib'
import {
  deflatedMember,
  deflatedZeros,
  rawZip,
  withFlags,
  withLocalNameChanged,
  withMemberComment,
  withMethod,
  withPrefix,
  withSecondEocd,
  type RawMember,
} from './bad-archives.js'
import { gzip, withParentDirs, writeTar, writeZip, type ArchiveEntry } from './dist-archives.js'
import { buildWheel, coreMetadata } from './distributions.js'

/** One refused upload: its filename, its bytes and the reason the 400 must give. */
export interface HostileUpload {
  readonly title: string
  readonly filename: string
  readonly bytes: () => Promise<Buffer>
  readonly reason: RegExp
}

export const UPL = { name: 'upl', version: '1.6' } as const
export const UPL_WHEEL = buildWheel(UPL)
const DIST_INFO = 'upl-1.6.dist-info'
const METADATA = `${DIST_INFO}/METADATA`
const MODULE = 'upl/__init__.py'

const wheelWithMetadata = (text: string): Buffer => buildWheel(UPL, { metadata: Buffer.from(text) }).bytes

/** A wheel of raw members: the module `extra` members, then WHEEL and METADATA. */
async function rawWheel(extra: readonly RawMember[]): Promise<Buffer> {
  return rawZip([
    ...extra,
    await deflatedMember(
      `${DIST_INFO}/WHEEL`,
      Buffer.from('Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n'),
    ),
    await deflatedMember(METADATA, coreMetadata(UPL)),
  ])
}

const storedMember = (name: string, data: Buffer): RawMember => ({
  name,
  method: 0,
  compressed: data,
  crc: crc32(data),
  uncompressedSize: data.length,
})

/** An sdist of `upl-1.6/` holding setup.py and the module, and PKG-INFO where `pkgInfoPath` says. */
function sdistEntries(pkgInfoPath: string): ArchiveEntry[] {
  return withParentDirs([
    { path: 'upl-1.6/setup.py', data: Buffer.from("from setuptools import setup\nsetup(name='upl', version='1.6')\n") },
    { path: 'upl-1.6/upl/__init__.py', data: Buffer.from('') },
    { path: pkgInfoPath, data: coreMetadata(UPL) },
  ])
}

const WHEEL_NAME = 'upl-1.6-py3-none-any.whl'

export const HOSTILE_UPLOADS: readonly HostileUpload[] = [
  {
    title: 'METADATA compressed with bzip2 (method 12), naming another project',
    filename: WHEEL_NAME,
    bytes: () =>
      Promise.resolve(
        withMethod(wheelWithMetadata('Metadata-Version: 2.1\nName: other\nVersion: 1.6\n'), METADATA, 12),
      ),
    reason:
      /^Invalid distribution file: ZIP archive not accepted: File does not use a supported compression type \(upl-1\.6\.dist-info\/METADATA uses method 12/,
  },
  {
    title: 'METADATA compressed with LZMA (method 14)',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(withMethod(UPL_WHEEL.bytes, METADATA, 14)),
    reason: /File does not use a supported compression type \(upl-1\.6\.dist-info\/METADATA uses method 14/,
  },
  {
    title: 'another member compressed with bzip2',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(withMethod(UPL_WHEEL.bytes, MODULE, 12)),
    reason: /File does not use a supported compression type \(upl\/__init__\.py uses method 12/,
  },
  {
    title: 'METADATA without Name',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(wheelWithMetadata('Metadata-Version: 2.1\nVersion: 1.6\n')),
    reason: /^Invalid distribution file: its metadata has no Name field$/,
  },
  {
    title: 'METADATA without Version',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(wheelWithMetadata('Metadata-Version: 2.1\nName: upl\n')),
    reason: /^Invalid distribution file: its metadata has no Version field$/,
  },
  {
    title: 'METADATA saying Version 9.9 in upl-1.6-…whl',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(wheelWithMetadata('Metadata-Version: 2.1\nName: upl\nVersion: 9.9\n')),
    reason: /^Invalid distribution file: its metadata says version "9\.9", the filename "1\.6"$/,
  },
  {
    title: 'a local header naming another file than the central directory',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(withLocalNameChanged(UPL_WHEEL.bytes, MODULE)),
    reason: /^Invalid distribution file: ZIP archive not accepted: Filename not in central directory$/,
  },
  {
    title: 'two end-of-central-directory records',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(withSecondEocd(UPL_WHEEL.bytes)),
    reason: /ZIP archive not accepted: Trailing data$/,
  },
  {
    title: 'a member name that is not UTF-8 though flagged UTF-8',
    filename: WHEEL_NAME,
    bytes: () =>
      rawWheel([
        storedMember('upl/x.py', Buffer.from('x = 1\n')),
        {
          ...storedMember('', Buffer.from('y = 2\n')),
          nameBytes: Buffer.from([0x75, 0x70, 0x6c, 0x2f, 0xff, 0x2e, 0x70, 0x79]),
        },
      ]),
    reason: /ZIP archive not accepted: Filename not valid UTF-8: "upl\/ÿ\.py"$/,
  },
  {
    title: 'a member name that is not ASCII and not flagged UTF-8',
    filename: WHEEL_NAME,
    bytes: () => rawWheel([{ ...storedMember('upl/é.py', Buffer.from('x = 1\n')), flags: 0 }]),
    reason: /ZIP archive not accepted: Filename "upl\/Ã©\.py" is not ASCII and not flagged as UTF-8$/,
  },
  {
    title: 'a control character in a member name',
    filename: WHEEL_NAME,
    bytes: () => rawWheel([storedMember('upl/\u0007.py', Buffer.from('x = 1\n'))]),
    reason: /ZIP archive not accepted: Invalid character in filename "upl\/\\u0007\.py"$/,
  },
  {
    title: 'a Unicode Path extra field naming another file',
    filename: WHEEL_NAME,
    bytes: () => {
      const other = Buffer.from('upl/other.py')
      const field = Buffer.concat([Buffer.from([0x75, 0x70, other.length + 5, 0, 1]), Buffer.alloc(4), other])
      field.writeUInt32LE(crc32(Buffer.from('upl/x.py')), 5)
      return rawWheel([{ ...storedMember('upl/x.py', Buffer.from('x = 1\n')), extra: field }])
    },
    reason: /ZIP archive not accepted: the Unicode Path extra field of "upl\/x\.py" names another file$/,
  },
  {
    title: 'a 95 KiB wheel holding 100 MB of zeros',
    filename: WHEEL_NAME,
    bytes: async () => {
      const zeros = await deflatedZeros(100_000_000)
      return rawWheel([
        {
          name: 'upl/zeros.bin',
          method: 8,
          compressed: zeros.compressed,
          crc: zeros.crc,
          uncompressedSize: 100_000_000,
        },
      ])
    },
    reason:
      /^Invalid distribution file: File exceeds compression ratio of 50 \(100000\d{3} bytes unpacked from a 9\d{4}-byte file\)$/,
  },
  {
    title: 'METADATA flagged as encrypted',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(withFlags(UPL_WHEEL.bytes, METADATA, 0x0001)),
    reason: /ZIP archive not accepted: upl-1\.6\.dist-info\/METADATA is encrypted$/,
  },
  {
    title: 'a member with a data descriptor',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(withFlags(UPL_WHEEL.bytes, MODULE, 0x0008)),
    reason: /ZIP archive not accepted: ZIP contains a data descriptor$/,
  },
  {
    title: 'a comment on a member',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(withMemberComment(UPL_WHEEL.bytes, MODULE, 'hello')),
    reason: /ZIP archive not accepted: Comment in central directory$/,
  },
  {
    title: 'a stub before the zip (a self-extracting archive)',
    filename: WHEEL_NAME,
    bytes: () => Promise.resolve(withPrefix(UPL_WHEEL.bytes, Buffer.from('#!/bin/sh\nexit 0\n'))),
    reason: /ZIP archive not accepted: Unknown record signature$/,
  },
  {
    title: 'an sdist whose only PKG-INFO is outside its top folder',
    filename: 'upl-1.6.tar.gz',
    bytes: () => Promise.resolve(gzip(writeTar(sdistEntries('other/PKG-INFO')))),
    reason: /^Invalid distribution file: Incorrect number of top-level directories in sdist$/,
  },
  {
    title: 'a zip sdist whose only PKG-INFO is outside its top folder',
    filename: 'upl-1.6.zip',
    bytes: () => Promise.resolve(writeZip(sdistEntries('other/PKG-INFO'))),
    reason: /^Invalid distribution file: Incorrect number of top-level directories in sdist$/,
  },
  {
    title: 'an sdist whose PKG-INFO is a folder too deep',
    filename: 'upl-1.6.tar',
    bytes: () => Promise.resolve(writeTar(sdistEntries('upl-1.6/upl/PKG-INFO'))),
    reason: /^Invalid distribution file: PKG-INFO not found at upl-1\.6\/PKG-INFO$/,
  },
]
