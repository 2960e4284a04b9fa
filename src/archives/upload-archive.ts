// The archive checks an upload must pass, as PyPI's Warehouse makes them
// (warehouse/forklift/legacy.py, _is_valid_dist_file; warehouse/utils/zipfiles.py), then its
// core metadata. Files put into the eggdir by hand are not held to these: the serving path
// reads their metadata with readCoreMetadata alone.
import { distributionExtension, type ParsedDistFilename } from '../core/filenames.js'
import type { Entry } from 'yauzl'
import {
  eggMetadataChooser,
  sdistZipMetadataChooser,
  wheelMetadataChooser,
  type MemberChooser,
} from './member-choosers.js'
import {
  METADATA_LIMITS,
  isMetadataFailure,
  metadataProblem,
  type MetadataFailure,
  type MetadataLimits,
  type MetadataRead,
  type RandomAccessSource,
} from './metadata-read.js'
import { commonPrefix, pathComponents, readTarPkgInfo, tarCommonFolder, type TarCompression } from './tar-metadata.js'
import { checkZipFraming, decodeUtf8, hasUnprintable, type CentralSizes } from './zip-framing.js'
import { readZipMember } from './zip-member.js'
import { openZip, scanZip } from './zip-source.js'

/**
 * Warehouse's zip bomb rule (COMPRESSION_RATIO_THRESHOLD and COMPRESSION_RATIO_MIN_SIZE in
 * warehouse/forklift/legacy.py, https://github.com/pypi/warehouse/issues/13962): an archive
 * that unpacks to more than 64 MiB and to more than 50 times its size is refused.
 */
export const UPLOAD_COMPRESSION_RATIO = 50
/** See {@link UPLOAD_COMPRESSION_RATIO}. */
export const UPLOAD_RATIO_FLOOR_BYTES = 64 * 1024 * 1024

// APPNOTE 4.4.5: Warehouse accepts only stored (0) and deflated (8) members.
const ACCEPTED_METHODS: ReadonlySet<number> = new Set([0, 8])
// General purpose bit 11: the name is UTF-8 (APPNOTE 4.4.4, appendix D).
const UTF8_FLAG = 0x0800
const UNICODE_PATH_EXTRA = 0x7075

const RATIO_EXCEEDED = `File exceeds compression ratio of ${UPLOAD_COMPRESSION_RATIO}`

/**
 * Check an uploaded distribution as Warehouse does and read its core metadata. A failure is a
 * reason to refuse the upload. Undefined: an sdist format eggserve cannot decompress
 * (`.tar.bz2`, `.tar.xz`: Node has no bzip2 or xz), accepted unread (docs/publishing.md says so).
 */
export async function readUploadedMetadata(
  source: RandomAccessSource,
  parsed: ParsedDistFilename,
  filename: string,
  limits: MetadataLimits = METADATA_LIMITS,
): Promise<MetadataRead | undefined> {
  const ext = distributionExtension(filename)
  if (ext?.kind !== parsed.kind) throw new TypeError(`"${filename}" does not match its parsed filename`)
  switch (ext.extension) {
    case '.whl':
      return readZipUpload(source, { chooser: wheelMetadataChooser(parsed.project), sdist: false, limits })
    case '.egg':
    case '.egg.zip':
      return readZipUpload(source, { chooser: eggMetadataChooser(), sdist: false, limits })
    case '.zip':
      return readZipUpload(source, { chooser: sdistZipMetadataChooser(), sdist: true, limits })
    case '.tar.gz':
    case '.tgz':
      return readTarUpload(source, 'gzip', limits)
    case '.tar':
      return readTarUpload(source, 'none', limits)
    default:
      return undefined
  }
}

function zipRefused(reason: string): MetadataFailure {
  return metadataProblem('corrupt-archive', `ZIP archive not accepted: ${reason}`)
}

/** What one central-directory entry alone is enough to refuse. */
function refuseEntry(entry: Entry): MetadataFailure | undefined {
  const raw = entry.fileNameRaw
  const shown = JSON.stringify(raw.toString('latin1'))
  // Control characters hide or fake parts of a name in listings and logs.
  if (hasUnprintable(raw)) return zipRefused(`Invalid character in filename ${shown}`)
  // Python's zipfile decodes names as UTF-8 only with this flag, as cp437 without it: a
  // name that is not plain ASCII means the same to every reader only as flagged UTF-8.
  if (decodeUtf8(raw) === undefined) return zipRefused(`Filename not valid UTF-8: ${shown}`)
  if ((entry.generalPurposeBitFlag & UTF8_FLAG) === 0 && raw.some((byte) => byte >= 0x80)) {
    return zipRefused(`Filename ${shown} is not ASCII and not flagged as UTF-8`)
  }
  // yauzl (and Info-ZIP) name the member from this field, Python's zipfile from the header.
  const unicodePath = entry.extraFields.find((field) => field.id === UNICODE_PATH_EXTRA)
  if (unicodePath !== undefined && !unicodePath.data.subarray(5).equals(raw)) {
    return zipRefused(`the Unicode Path extra field of ${shown} names another file`)
  }
  // pip (through zipfile) cannot read an encrypted member.
  if (entry.isEncrypted()) return zipRefused(`${entry.fileName} is encrypted`)
  if (!ACCEPTED_METHODS.has(entry.compressionMethod)) {
    return zipRefused(
      `File does not use a supported compression type (${entry.fileName} uses method ${entry.compressionMethod}; only stored and deflate are accepted)`,
    )
  }
  return undefined
}

async function readZipUpload(
  source: RandomAccessSource,
  options: { chooser: MemberChooser; sdist: boolean; limits: MetadataLimits },
): Promise<MetadataRead> {
  const zip = await openZip(source, options.limits)
  if (isMetadataFailure(zip)) return zip
  try {
    const central = new Map<string, CentralSizes>()
    let unpacked = 0
    let common: string[] | undefined
    const stop = await scanZip(zip, (entry) => {
      const refused = refuseEntry(entry)
      if (refused !== undefined) return refused
      const key = entry.fileNameRaw.toString('latin1')
      if (central.has(key)) return zipRefused('Duplicate filename in central directory')
      central.set(key, { compressedSize: entry.compressedSize, uncompressedSize: entry.uncompressedSize })
      unpacked += entry.uncompressedSize
      if (options.sdist)
        common = commonPrefix(common, entry.fileName.startsWith('/') ? [] : pathComponents(entry.fileName))
      return options.chooser.see(entry)
    })
    if (stop !== undefined) return stop
    if (unpacked > UPLOAD_RATIO_FLOOR_BYTES && unpacked > UPLOAD_COMPRESSION_RATIO * source.size) {
      return metadataProblem(
        'compression-ratio',
        `${RATIO_EXCEEDED} (${unpacked} bytes unpacked from a ${source.size}-byte file)`,
      )
    }
    const framing = await checkZipFraming(source, central)
    if (framing !== undefined) return zipRefused(framing)
    const chosen = options.chooser.choose()
    if (isMetadataFailure(chosen)) return chosen
    if (options.sdist) {
      const top = common ?? []
      if (top.length === 0)
        return metadataProblem('missing-metadata', 'Incorrect number of top-level directories in sdist')
      const target = [...top, 'PKG-INFO'].join('/')
      if (pathComponents(chosen.fileName).join('/') !== target)
        return metadataProblem('missing-metadata', `PKG-INFO not found at ${target}`)
    }
    return await readZipMember(zip, chosen, options.limits)
  } finally {
    zip.close()
  }
}

/**
 * A tarball sdist: every member shares one top folder and PKG-INFO is right in it (Warehouse:
 * `os.path.commonpath(tar.getnames())`). That needs every member header, so the whole tar is
 * read, within Warehouse's zip bomb rule (Warehouse itself has no bound for tarballs yet).
 */
async function readTarUpload(
  source: RandomAccessSource,
  compression: TarCompression,
  limits: MetadataLimits,
): Promise<MetadataRead> {
  const maxBytes =
    compression === 'gzip' ? Math.max(UPLOAD_RATIO_FLOOR_BYTES, UPLOAD_COMPRESSION_RATIO * source.size) : source.size
  const overLimit = (scanned: number): MetadataFailure =>
    metadataProblem(
      'compression-ratio',
      `${RATIO_EXCEEDED} (more than ${scanned - 1} bytes unpacked from a ${source.size}-byte file)`,
    )
  const top = await tarCommonFolder(source, { compression, maxBytes, overLimit })
  if (isMetadataFailure(top)) return top
  if (top.length === 0) return metadataProblem('missing-metadata', 'Incorrect number of top-level directories in sdist')
  const target = [...top, 'PKG-INFO'].join('/')
  const read = await readTarPkgInfo(source, {
    compression,
    limits: { ...limits, maxTarScanBytes: maxBytes, maxTarEntries: Number.MAX_SAFE_INTEGER },
    isMetadata: (name) => !name.startsWith('/') && pathComponents(name).join('/') === target,
  })
  if (!read.ok && read.code === 'missing-metadata')
    return metadataProblem('missing-metadata', `PKG-INFO not found at ${target}`)
  return read
}
