// Content types of served files: one source of truth, and one MIME database (mime-types, i.e.
// mime-db) for the downloads and the UI's static files alike.
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

/**
 * The Content-Type of a download: the explicit table, then mime-types, then octet-stream. Every
 * suffix the index accepts today (core/filenames.ts, and .asc) is in the table; mime-types is
 * the fallback for any other file a route may serve.
 */
export function contentTypeFor(filename: string): string {
  for (const [suffix, type] of EXPLICIT) {
    if (filename.endsWith(suffix)) return type
  }
  const looked = mime.lookup(filename)
  // Never text/html for a download: pip 18 would take it for a page.
  return looked === false || looked.startsWith('text/html') ? 'application/octet-stream' : looked
}

/**
 * The Content-Type of one of the UI's static files (ui-assets/): mime-types' type with its
 * charset, so scripts are `text/javascript` (RFC 9239 §6; @fastify/static's own table, mime 3,
 * still says the obsolete application/javascript) and a font or an image added later needs no
 * code. Unknown names get application/octet-stream, which nosniff keeps from being run.
 * @example assetContentType('ui.0123456789ab.css') // 'text/css; charset=utf-8'
 */
export function assetContentType(filename: string): string {
  return mime.contentType(filename) || 'application/octet-stream'
}
