// Two rules about one file of an upstream's page, apart from the upstream machinery
// (src/upstream/) so that the routes of the local tree, which share code with the upstream
// ones, can use them without loading that machinery when no --upstream is given.
import type { UpstreamFile } from './upstream-page.js'

const METADATA_SUFFIX = '.metadata'

/**
 * True when the upstream's page gives `file` another sha256 than `pinned`, the sha256 of its
 * cached bytes: the page (its hash, its PEP 658 `core-metadata`) describes other bytes than the
 * ones eggserve serves under `--upstream-hash-change pin` (docs/upstream.md, "Files").
 */
export function pinnedOtherBytes(file: UpstreamFile, pinned: string | undefined): boolean {
  const listed = file.hashes.sha256
  return pinned !== undefined && listed !== undefined && listed !== pinned
}

/** The PEP 658 metadata file of `file` as an upstream file of its own, or undefined when the page announces none. */
export function coreMetadataFile(file: UpstreamFile): UpstreamFile | undefined {
  const digests = file.coreMetadata
  if (digests === undefined) return undefined
  // PEP 658: the metadata is at the distribution's URL with ".metadata" appended.
  return {
    filename: `${file.filename}${METADATA_SUFFIX}`,
    url: `${file.url}${METADATA_SUFFIX}`,
    hashes: digests === true ? {} : digests,
  }
}
