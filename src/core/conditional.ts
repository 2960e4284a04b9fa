// Conditional requests (RFC 9110 §13): which of 200/206, 304 and 412 a GET or HEAD gets.

/** The validators of the selected representation. */
export interface Validators {
  /** A strong entity tag, quoted: `"abc"`. */
  readonly etag: string
  /** Last modification time in milliseconds since the epoch. */
  readonly lastModifiedMs: number
}

/** The request headers that matter here (lowercase names, as Node gives them). */
export interface ConditionalHeaders {
  readonly 'if-match'?: string | undefined
  readonly 'if-none-match'?: string | undefined
  readonly 'if-modified-since'?: string | undefined
  readonly 'if-unmodified-since'?: string | undefined
  readonly 'if-range'?: string | undefined
}

/** Outcome of evaluating preconditions for a GET or HEAD. */
export type PreconditionResult = 'proceed' | 'not-modified' | 'precondition-failed'

/**
 * Evaluate preconditions in the order of RFC 9110 §13.2.2 for a GET or HEAD.
 * @example evaluatePreconditions({ 'if-none-match': '"a"' }, { etag: '"a"', lastModifiedMs: 0 }) // 'not-modified'
 */
export function evaluatePreconditions(headers: ConditionalHeaders, validators: Validators): PreconditionResult {
  const ifMatch = headers['if-match']
  if (ifMatch !== undefined) {
    // §13.1.1: If-Match uses the strong comparison.
    if (!matchesAny(ifMatch, validators.etag, 'strong')) return 'precondition-failed'
  } else {
    const since = parseHttpDate(headers['if-unmodified-since'])
    if (since !== undefined && wholeSeconds(validators.lastModifiedMs) > since) return 'precondition-failed'
  }
  const ifNoneMatch = headers['if-none-match']
  if (ifNoneMatch !== undefined) {
    // §13.1.2: If-None-Match uses the weak comparison; for GET/HEAD a match means 304.
    return matchesAny(ifNoneMatch, validators.etag, 'weak') ? 'not-modified' : 'proceed'
  }
  // §13.1.3: If-Modified-Since is ignored when If-None-Match is present (handled above) or invalid.
  const modifiedSince = parseHttpDate(headers['if-modified-since'])
  if (modifiedSince !== undefined && wholeSeconds(validators.lastModifiedMs) <= modifiedSince) return 'not-modified'
  return 'proceed'
}

/**
 * True when a Range header may be honoured given `If-Range` (§13.1.5): absent, or an
 * entity tag that matches strongly, or a date equal to Last-Modified. A weak tag never matches.
 */
export function rangeAllowed(ifRange: string | undefined, validators: Validators): boolean {
  if (ifRange === undefined) return true
  const value = ifRange.trim()
  if (value.startsWith('"') || value.startsWith('W/')) return strongMatch(value, validators.etag)
  const date = parseHttpDate(value)
  return date !== undefined && date === wholeSeconds(validators.lastModifiedMs)
}

/** The `Last-Modified` value: an IMF-fixdate (§5.6.7). */
export function httpDate(ms: number): string {
  return new Date(wholeSeconds(ms) * 1000).toUTCString()
}

function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000)
}

// §5.6.7 HTTP-date: IMF-fixdate, or the obsolete RFC 850 and asctime forms; all start with a day
// name and carry hh:mm:ss. The shape check keeps Date.parse from accepting things like "1".
const HTTP_DATE_SHAPE = /^\s*[A-Za-z]{3,9},?\s.*\b\d\d:\d\d:\d\d\b/

// asctime-date (`Sun Nov  6 08:49:37 1994`) names no zone, and Date.parse would read it as
// local time; every HTTP-date is GMT (§5.6.7), so say so.
const ASCTIME = /^\s*[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\s*$/

function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined || !HTTP_DATE_SHAPE.test(value)) return undefined
  const ms = Date.parse(ASCTIME.test(value) ? `${value.trim()} GMT` : value)
  return Number.isNaN(ms) ? undefined : wholeSeconds(ms)
}

function matchesAny(header: string, etag: string, mode: 'strong' | 'weak'): boolean {
  if (header.trim() === '*') return true
  return splitEntityTags(header).some((tag) => (mode === 'strong' ? strongMatch(tag, etag) : weakMatch(tag, etag)))
}

// §8.8.3.2: strong comparison needs both tags strong and identical.
function strongMatch(tag: string, etag: string): boolean {
  return !tag.startsWith('W/') && !etag.startsWith('W/') && tag === etag
}

// §8.8.3.2: weak comparison ignores the W/ prefix on either side.
function weakMatch(tag: string, etag: string): boolean {
  return stripWeak(tag) === stripWeak(etag)
}

function stripWeak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}

// entity-tag list: `"a", W/"b"`; commas may appear only between tags (etagc excludes DQUOTE, not comma).
function splitEntityTags(header: string): string[] {
  return header.match(/(?:W\/)?"[^"]*"/g) ?? []
}
