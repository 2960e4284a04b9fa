// --download-redirect: downloads answered with a redirect to where the bytes are, so the store
// (or a CDN in front of it) sends them instead of eggserve. Pure: the clock is passed in.

/** Where downloads are redirected. */
export type DownloadRedirect =
  /** To a presigned GET URL of the bucket (--storage s3://), the same for every request of one window. */
  | { readonly kind: 'presigned'; readonly windowMs: number }
  /** To `base` + the file's path in the tree (a public bucket, or a CDN or web server that mirrors it). */
  | { readonly kind: 'base'; readonly base: string }

/** The signing time and validity of every presigned URL issued in one window. */
export interface SigningWindow {
  readonly signingDate: Date
  readonly expiresInSeconds: number
}

// SigV4 presigned URLs live at most 7 days (X-Amz-Expires ≤ 604800); a URL issued at the end of
// a window stays valid one more window, so a window may be half of that.
export const MAX_WINDOW_SECONDS = 302_400
export const MIN_WINDOW_SECONDS = 60

/**
 * The window `nowMs` falls in. Every URL of a window is signed with the window's start as its
 * date, so a file's URL is byte-for-byte the same for the whole window, and pip's HTTP cache,
 * which is keyed by URL, keeps working (per-request signatures defeat it:
 * https://github.com/stevearc/pypicloud/issues/110). It expires two windows after that start,
 * so a URL handed out in the last second of its window still has a whole window to be used.
 */
export function signingWindow(nowMs: number, windowMs: number): SigningWindow {
  const start = Math.floor(nowMs / windowMs) * windowMs
  return { signingDate: new Date(start), expiresInSeconds: Math.round((2 * windowMs) / 1000) }
}

/**
 * Seconds until the window of `nowMs` ends: how long a redirect may be cached. Its URL stays
 * valid a whole window longer, so a cached redirect never points at an expired URL.
 */
export function windowRemainingSeconds(nowMs: number, windowMs: number): number {
  const end = (Math.floor(nowMs / windowMs) + 1) * windowMs
  return Math.floor((end - nowMs) / 1000)
}

/** `base` + the key ("folder/filename"), each segment percent-encoded (RFC 3986 §3.3). */
export function baseLocation(base: string, key: string): string {
  return base + key.split('/').map(encodeURIComponent).join('/')
}

/**
 * The base URL of --download-redirect: http(s), without credentials (a client must never be
 * sent a password), query or fragment; ends in "/". Undefined when it is not one.
 */
export function parseRedirectBase(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return undefined
  if (value.includes('?') || value.includes('#')) return undefined
  return url.href.endsWith('/') ? url.href : `${url.href}/`
}
