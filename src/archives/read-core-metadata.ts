// Core metadata of any distribution eggserve serves, read in place (PEP 658 serves it).
import { distributionExtension, type ParsedDistFilename } from '../core/filenames.js'
import type { OpenFile } from '../storage/storage.js'
import { eggMetadataChooser, sdistZipMetadataChooser, wheelMetadataChooser } from './member-choosers.js'
import {
  METADATA_LIMITS,
  metadataProblem,
  type MetadataLimits,
  type MetadataRead,
  type RandomAccessSource,
} from './metadata-read.js'
import { readTarPkgInfo } from './tar-metadata.js'
import { readZipMetadata } from './zip-source.js'

export {
  METADATA_LIMITS,
  type MetadataLimits,
  type MetadataProblem,
  type MetadataRead,
  type RandomAccessSource,
} from './metadata-read.js'

/** View an opened stored file as a {@link RandomAccessSource}; closing it stays the caller's job. */
export function randomAccessSource(file: OpenFile): RandomAccessSource {
  return { size: file.file.size, createReadStream: (range) => file.createReadStream(range) }
}

/**
 * Read a distribution's core metadata without extracting anything: a wheel's
 * `.dist-info/METADATA`, an egg's `EGG-INFO/PKG-INFO`, an sdist's `<top>/PKG-INFO`. The bytes
 * are exactly as stored (PEP 658 serves and hashes them as they are). Bad archives give
 * `{ ok: false }`, never an exception; the source is left open for the caller to close.
 * Read errors of the source itself are reported as `corrupt-archive` too.
 * @throws {TypeError} when `parsed` describes another kind of file than `filename` (a programmer error).
 * @example await readCoreMetadata(randomAccessSource(file), parseDistFilename(name)!, name) // { ok: true, bytes, member: 'demo-1.0.dist-info/METADATA' }
 */
export async function readCoreMetadata(
  source: RandomAccessSource,
  parsed: ParsedDistFilename,
  filename: string,
  limits: MetadataLimits = METADATA_LIMITS,
): Promise<MetadataRead> {
  const ext = distributionExtension(filename)
  if (ext === undefined) return metadataProblem('unsupported-format', `not a distribution filename: ${filename}`)
  if (ext.kind !== parsed.kind)
    throw new TypeError(`"${filename}" is a ${ext.kind}, but was parsed as a ${parsed.kind}`)
  switch (ext.extension) {
    case '.whl':
      return readZipMetadata(source, wheelMetadataChooser(parsed.project), limits)
    case '.egg':
    case '.egg.zip':
      return readZipMetadata(source, eggMetadataChooser(), limits)
    case '.zip':
      return readZipMetadata(source, sdistZipMetadataChooser(), limits)
    case '.tar.gz':
    case '.tgz':
      return readTarPkgInfo(source, { compression: 'gzip', limits })
    case '.tar':
      return readTarPkgInfo(source, { compression: 'none', limits })
    case '.tar.bz2':
    case '.tar.xz':
      // Node's zlib has gzip, deflate, brotli and (on 22+) zstd, but neither bzip2 nor xz.
      return metadataProblem('unsupported-compression', `cannot decompress ${ext.extension} (no bzip2 or xz in Node)`)
    default:
      return metadataProblem('unsupported-format', `no metadata reader for ${ext.extension}`)
  }
}
