// Content negotiation for /simple/ pages (PEP 691) and the choice of
// gzip from Accept-Encoding. Grammar and matching rules: RFC 9110 §12.4 and §12.5.

/** The legacy PEP 503 type (PEP 691: "text/html" remains a legacy alias). */
export const TEXT_HTML = 'text/html'
/** PEP 691's versioned HTML type. */
export const V1_HTML = 'application/vnd.pypi.simple.v1+html'
/** PEP 691's versioned JSON type. */
export const V1_JSON = 'application/vnd.pypi.simple.v1+json'

/** One of the three representations of a /simple/ page; always the concrete type, never `latest`. */
export type SimpleMediaType = typeof TEXT_HTML | typeof V1_HTML | typeof V1_JSON

/** Every representation eggserve serves, in PyPI's server order (Warehouse simple.py `_select_content_type`). */
export const SIMPLE_MEDIA_TYPES: readonly SimpleMediaType[] = Object.freeze([TEXT_HTML, V1_HTML, V1_JSON])

/** The outcome of {@link negotiateSimple}: the type to send, or why the answer is a 406. */
export type Negotiated =
  { readonly ok: true; readonly type: SimpleMediaType } | { readonly ok: false; readonly reason: string }

// Tie-break among explicitly named types (PEP 691): the spec's recommendation, JSON first.
const EXPLICIT_PREFERENCE: readonly SimpleMediaType[] = [V1_JSON, V1_HTML, TEXT_HTML]

// Every name a client may use for an offer, lowercase. PEP 691: the `latest` meta-version is an
// alias, and the response carries the concrete v1 type.
const NAMES: ReadonlyMap<string, SimpleMediaType> = new Map<string, SimpleMediaType>([
  [TEXT_HTML, TEXT_HTML],
  [V1_HTML, V1_HTML],
  [V1_JSON, V1_JSON],
  ['application/vnd.pypi.simple.latest+html', V1_HTML],
  ['application/vnd.pypi.simple.latest+json', V1_JSON],
])

const SUPPORTED = `Supported types: ${SIMPLE_MEDIA_TYPES.join(', ')} (or application/vnd.pypi.simple.latest+html / +json).`

/**
 * Choose the representation of a /simple/ page from Accept (RFC 9110 §12.5.1) and the
 * `?format=` override (PEP 691).
 *
 * - `format`, when present, wins over Accept and must name exactly one concrete type.
 * - Otherwise each offer gets the q of the most specific matching media range (exact >
 *   `type/*` > the any-type range), q=0 offers are dropped and the highest q wins (RFC 9110 §12.5.1). Ties go to
 *   `v1+json` > `v1+html` > `text/html` among offers the client named; when the best q only
 *   comes from wildcards, PyPI's order `text/html` > `v1+html` > `v1+json` decides.
 * - Missing or empty Accept means any type (RFC 9110 §12.5.1); malformed entries are skipped.
 * - Nothing acceptable gives `{ ok: false, reason }`, meant as a text/plain 406 body.
 *
 * @example negotiateSimple('application/vnd.pypi.simple.v1+json, text/html; q=0.01', undefined) // { ok: true, type: V1_JSON }
 * @example negotiateSimple(undefined, undefined) // { ok: true, type: TEXT_HTML }
 * @example negotiateSimple('text/html', 'application/vnd.pypi.simple.latest+json') // { ok: true, type: V1_JSON }
 * @example negotiateSimple('application/json', undefined) // { ok: false, reason: 'Not acceptable: …' }
 */
export function negotiateSimple(accept: string | undefined, format: string | undefined): Negotiated {
  if (format !== undefined) return negotiateFormat(format)
  const elements = accept === undefined ? [] : listElements(accept)
  // A missing Accept means any type; RFC 9110 §5.6.1.2 lets a list consist of empty
  // elements only, which says nothing either, so `Accept:` and `Accept: ,` count as missing.
  const ranges = elements.length === 0 ? [ANY] : elements.flatMap((element) => parseMediaRange(element) ?? [])
  const scored: Scored[] = []
  for (const offer of SIMPLE_MEDIA_TYPES) {
    const best = bestRange(ranges, offer)
    // RFC 9110 §12.4.2: q=0 means "not acceptable".
    if (best !== undefined && best.q > 0) scored.push({ offer, q: best.q, explicit: best.specificity >= EXACT })
  }
  const top = Math.max(...scored.map((s) => s.q))
  const winners = scored.filter((s) => s.q === top)
  const named = winners.filter((s) => s.explicit)
  const order = named.length > 0 ? EXPLICIT_PREFERENCE : SIMPLE_MEDIA_TYPES
  const pool = named.length > 0 ? named : winners
  for (const type of order) {
    if (pool.some((s) => s.offer === type)) return { ok: true, type }
  }
  return {
    ok: false,
    reason: `Not acceptable: Accept ${quote(accept ?? '')} matches none of the index's representations. ${SUPPORTED}`,
  }
}

/**
 * True when the response may be gzip-compressed (Accept-Encoding, RFC 9110 §12.5.3, with
 * q-values, `*`, `identity;q=0` …).
 *
 * - Missing header: false. RFC 9110 allows any coding then, but eggserve compresses only
 *   "when the client allows", so clients that did not ask (easy_install's urllib) get identity.
 * - `gzip` and `x-gzip` are the same coding (RFC 9110 §8.4.1.3); names are case-insensitive.
 * - gzip's q comes from its own entry, else from `*`, else it is not acceptable (§12.5.3).
 * - When the client weights `identity` (or `*`, which also covers identity) above gzip, the
 *   preferred identity is sent instead; on a tie gzip wins.
 * - Malformed entries (bad q, parameters other than q, garbage) are ignored.
 *
 * @example acceptsGzip('gzip, deflate') // true
 * @example acceptsGzip('*;q=0, gzip') // true
 * @example acceptsGzip('identity') // false
 * @example acceptsGzip(undefined) // false
 */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined) return false
  let gzip: number | undefined
  let identity: number | undefined
  let star: number | undefined
  for (const element of listElements(acceptEncoding)) {
    const coding = parseCoding(element)
    if (coding === undefined) continue
    // Several entries for one coding: the most generous one counts, as for media ranges.
    if (coding.name === 'gzip' || coding.name === 'x-gzip') gzip = Math.max(gzip ?? 0, coding.q)
    else if (coding.name === 'identity') identity = Math.max(identity ?? 0, coding.q)
    else if (coding.name === '*') star = Math.max(star ?? 0, coding.q)
  }
  // §12.5.3: `*` matches any coding not listed explicitly, identity included.
  const gzipQ = gzip ?? star ?? 0
  const identityQ = identity ?? star ?? 0
  return gzipQ > 0 && gzipQ >= identityQ
}

// ---------------------------------------------------------------------------------------------
// ?format= (PEP 691)

function negotiateFormat(format: string): Negotiated {
  // Query parsers (fast-querystring in Fastify, URLSearchParams) decode `+` as a space, so the
  // unencoded `?format=application/vnd.pypi.simple.v1+json` that uv's comments link to arrives
  // as `…v1 json`. A media type never contains a space, so reading it back as `+` is unambiguous.
  const value = format.trim().replaceAll(' ', '+').toLowerCase()
  const type = NAMES.get(value)
  if (type !== undefined) return { ok: true, type }
  const problem = value.includes(',')
    ? 'takes exactly one media type, not a list'
    : value.includes(';')
      ? 'takes a media type without parameters or q-values'
      : value.includes('*')
        ? 'takes a concrete media type, not a wildcard'
        : 'names an unsupported media type'
  return { ok: false, reason: `Not acceptable: ?format= ${problem}: ${quote(format)}. ${SUPPORTED}` }
}

// ---------------------------------------------------------------------------------------------
// Accept parsing (RFC 9110 §12.5.1)

/** A parsed media range. `type` is canonical (aliases resolved), lowercase. */
interface MediaRange {
  readonly type: string
  readonly subtype: string
  readonly params: readonly (readonly [string, string])[]
  readonly q: number
}

interface Scored {
  readonly offer: SimpleMediaType
  readonly q: number
  readonly explicit: boolean
}

// Specificity ranks (RFC 9110 §12.5.1 "the most specific reference has precedence"): `*/*` <
// `type/*` < `type/subtype` < `type/subtype;param=…`. Exact names and aliases count as EXACT.
const ANY_RANK = 0
const TYPE_WILDCARD = 1
const EXACT = 2
const WITH_PARAMS = 3

const ANY: MediaRange = { type: '*', subtype: '*', params: [], q: 1 }

// §5.6.2 token = 1*tchar.
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
// §5.6.4 quoted-string: DQUOTE *( qdtext / quoted-pair ) DQUOTE.
const QUOTED = '"(?:[^"\\\\]|\\\\.)*"'
const MEDIA_RANGE = new RegExp(`^(${TOKEN})/(${TOKEN})$`)
// §5.6.6 parameter = parameter-name "=" parameter-value; whitespace around `=` is tolerated.
const PARAMETER = new RegExp(`^(${TOKEN})[ \\t]*=[ \\t]*(${TOKEN}|${QUOTED})$`)
// §12.4.2 qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); so `0.`, `1.` and `1.000` are fine, `1.0001` is not.
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/

/** Parse one Accept list element; undefined when it is malformed (RFC 9110 §12.5.1: ignore it). */
function parseMediaRange(element: string): MediaRange | undefined {
  const [head = '', ...rest] = splitOutside(element, ';')
  const match = MEDIA_RANGE.exec(head.trim())
  if (match === null) return undefined
  const type = (match[1] ?? '').toLowerCase()
  const subtype = (match[2] ?? '').toLowerCase()
  // §12.5.1 media-range: `*/subtype` is not a form.
  if (type === '*' && subtype !== '*') return undefined
  const params: (readonly [string, string])[] = []
  let q: number | undefined
  for (const raw of rest) {
    const text = raw.trim()
    // §5.6.6 parameters = *( OWS ";" OWS [ parameter ] ): an empty parameter is allowed.
    if (text === '') continue
    const param = PARAMETER.exec(text)
    if (param === null) return undefined
    const name = (param[1] ?? '').toLowerCase()
    const value = param[2] ?? ''
    if (name === 'q') {
      // §12.4.2: the weight is unquoted and at most 3 decimals; a second weight is garbage.
      if (q !== undefined || !QVALUE.test(value)) return undefined
      q = Number(value)
    } else if (q === undefined) {
      params.push([name, unquote(value)])
    }
    // Parameters after q were RFC 7231's accept-ext; RFC 9110 dropped them, and they carry no
    // meaning for us, so they are skipped rather than failing the entry.
  }
  const full = NAMES.get(`${type}/${subtype}`) ?? `${type}/${subtype}`
  const slash = full.indexOf('/')
  return { type: full.slice(0, slash), subtype: full.slice(slash + 1), params, q: q ?? 1 }
}

/** The most specific range matching `offer` (ties: the higher q), with its rank. */
function bestRange(
  ranges: readonly MediaRange[],
  offer: SimpleMediaType,
): { q: number; specificity: number } | undefined {
  const slash = offer.indexOf('/')
  const offerType = offer.slice(0, slash)
  const offerSubtype = offer.slice(slash + 1)
  let best: { q: number; specificity: number } | undefined
  for (const range of ranges) {
    let rank: number
    if (range.type === '*') rank = ANY_RANK
    else if (range.type !== offerType) continue
    else if (range.subtype === '*') rank = TYPE_WILDCARD
    else if (range.subtype !== offerSubtype) continue
    else rank = EXACT
    if (range.params.length > 0) {
      if (!range.params.every(paramHolds)) continue
      if (rank === EXACT) rank = WITH_PARAMS
    }
    if (best === undefined || rank > best.specificity || (rank === best.specificity && range.q > best.q)) {
      best = { q: range.q, specificity: rank }
    }
  }
  return best
}

// Every page is UTF-8 (H and J sections), so `charset=utf-8` is the one parameter any
// representation satisfies; a range with any other parameter (e.g. `level=1`) names a
// representation eggserve does not have (§12.5.1: parameters narrow the range).
function paramHolds([name, value]: readonly [string, string]): boolean {
  return name === 'charset' && value.toLowerCase() === 'utf-8'
}

// ---------------------------------------------------------------------------------------------
// Shared list helpers

/** The non-empty elements of a §5.6.1 `#` list, split at commas outside quoted strings. */
function listElements(value: string): string[] {
  return splitOutside(value, ',')
    .map((element) => element.trim())
    .filter((element) => element !== '')
}

/** Split at `separator` where it is not inside a §5.6.4 quoted-string. */
function splitOutside(value: string, separator: ',' | ';'): string[] {
  const parts: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value[i]
    if (quoted && c === '\\') i++
    else if (c === '"') quoted = !quoted
    else if (!quoted && c === separator) {
      parts.push(value.slice(start, i))
      start = i + 1
    }
  }
  parts.push(value.slice(start))
  return parts
}

function unquote(value: string): string {
  return value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value
}

// §12.5.3 codings = content-coding / "identity" / "*", then an optional weight.
const CODING = new RegExp(`^(${TOKEN})$`)

/** Parse one Accept-Encoding element; undefined when malformed. */
function parseCoding(element: string): { name: string; q: number } | undefined {
  const [head = '', ...rest] = splitOutside(element, ';')
  const match = CODING.exec(head.trim())
  if (match === null) return undefined
  let q: number | undefined
  for (const raw of rest) {
    const text = raw.trim()
    if (text === '') continue
    const param = PARAMETER.exec(text)
    // §12.5.3 allows only a weight after a coding.
    if (param === null || (param[1] ?? '').toLowerCase() !== 'q' || q !== undefined) return undefined
    const value = param[2] ?? ''
    if (!QVALUE.test(value)) return undefined
    q = Number(value)
  }
  return { name: (match[1] ?? '').toLowerCase(), q: q ?? 1 }
}

/** A header value for a 406 body: JSON-quoted (no raw control characters), at most 200 characters. */
function quote(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value)
}
