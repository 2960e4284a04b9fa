// Content types of served files: one source of truth.
import mime from 'mime-types'

// pip chooses the unpacker from Content-Type before the extension (pip's utils/unpacking.py
// unpack_file), and
// mime-types does not know .whl or .egg; .tar.gz must never look like a content-coding.
const EXPLICIT: readonly (readonly [string, string])[] = [
  ['.whl', 'application/zip'],
  ['.egg', 'application/zip'],
  ['.zip', 'application/zip'],
  ['.tar.gz', 'application/x-gzip'],
  ['.tgz', 'application/x-gzip'],
  ['.tar.bz2', 'application/x-bzip2'],
  ['.tar.xz', 'application/x-xz'],
  ['.tar', 'application/x-tar'],
  // Detached signatures (RFC 3156); mime-types would say application/pgp-keys.
  ['.asc', 'application/pgp-signature'],
]

/** The Content-Type of a served file: the explicit table, then mime-types, then octet-stream. */
export function contentTypeFor (filename: string): string {
  for (const [suffix, type] of EXPLICIT) {
    if (filename.endsWith(suffix)) return type
  }
  const looked = mime.lookup(filename)
  // Never text/html for a download: pip 18 would take it for a page.
  return looked === false || looked.startsWith('text/html') ? 'application/octet-stream' : looked
}
