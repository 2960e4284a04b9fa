// Download offload to nginx (X-Accel-Redirect): when eggserve may hand a decided download to
// nginx, and the internal URI it names. eggserve decides everything (access, the file, 304,
// 412, 416, whether a range applies); nginx only sends the bytes, so an offload may happen
// only where nginx, seeing the same request headers, is bound to do what eggserve decided.
import type { RangePlan } from './range.js'

/** The request headers nginx evaluates itself after an X-Accel-Redirect (lowercase names). */
export interface OffloadHeaders {
  readonly range?: string | undefined
  readonly 'if-match'?: string | undefined
  readonly 'if-unmodified-since'?: string | undefined
  readonly 'if-range'?: string | undefined
}

/**
 * True when nginx's answer to the redirected request is the one eggserve planned. nginx's static
 * module re-reads the client's headers (ngx_http_not_modified_filter_module.c,
 * ngx_http_range_filter_module.c) before the shipped config puts eggserve's validators on the
 * response, so the requests where the two could disagree are served by eggserve itself:
 * - If-Match / If-Unmodified-Since: nginx compares them with its own (switched off) ETag and
 *   would answer 412 where eggserve found the precondition true (download clients never send them);
 * - a Range header eggserve ignores (bad syntax, several ranges, another unit, a stale or weak
 *   If-Range: RFC 9110 §14.2 and §13.1.5), which nginx might honour;
 * - a date in If-Range: eggserve compares the file's time, nginx the Last-Modified sent, which
 *   §8.8.2.1 may have clamped to Date.
 * 304, 412 and 416 never get here: eggserve answers them.
 */
export function offloadable(headers: OffloadHeaders, plan: RangePlan): boolean {
  if (headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined) return false
  if (headers.range === undefined) return true
  if (plan.kind !== 'partial') return false
  const ifRange = headers['if-range']?.trim()
  return ifRange === undefined || ifRange.startsWith('"')
}

/**
 * The X-Accel-Redirect URI of a stored file: the prefix, then the key's folder and filename
 * each percent-encoded (nginx decodes them, ngx_http_parse_unsafe_uri). The key is the index's
 * validated "<folder>/<filename>" (plain names: no "/", no leading "."), never the request URL.
 * @example accelPath('/_eggfiles', 'demo/demo-1.0+local.tar.gz') // '/_eggfiles/demo/demo-1.0%2Blocal.tar.gz'
 */
export function accelPath(prefix: string, key: string): string {
  const slash = key.indexOf('/')
  return `${prefix}/${encodeURIComponent(key.slice(0, slash))}/${encodeURIComponent(key.slice(slash + 1))}`
}

/**
 * The --x-accel-redirect value, normalized without its trailing "/", or undefined when it is no
 * absolute URI path nginx can take as a location: it must start with "/", hold only unreserved
 * characters and "/" (RFC 3986 §2.3), and have no "." or ".." segment (nginx refuses those).
 */
export function parseAccelPrefix(value: string): string | undefined {
  const trimmed = value.trim().replace(/\/+$/, '')
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(trimmed)) return undefined
  if (trimmed.split('/').some((segment) => segment === '.' || segment === '..')) return undefined
  return trimmed
}
