// Byte ranges (RFC 9110 §14.1.2 and §14.2) for a single range; multi-range requests get the whole file.

/** A satisfiable single range, inclusive on both ends. */
export interface ByteRange {
  readonly start: number
  readonly end: number
}

/** What to do with a Range header. */
export type RangePlan =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly range: ByteRange }
  | { readonly kind: 'unsatisfiable' }

const FULL: RangePlan = { kind: 'full' }
const UNSATISFIABLE: RangePlan = { kind: 'unsatisfiable' }

/**
 * Plan the response to `Range: header` for a representation of `size` bytes.
 * Unknown units, bad syntax and several ranges are ignored (RFC 9110 §14.2: a server
 * MAY ignore Range), which means a 200 with the whole file.
 * @example planRange('bytes=-10', 1000) // partial 990-999
 * @example planRange('bytes=1000-', 1000) // unsatisfiable
 */
export function planRange(header: string | undefined, size: number): RangePlan {
  if (header === undefined) return FULL
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (match === null) return FULL
  const [, first = '', last = ''] = match
  // An empty representation has no bytes to select; send it whole with 200.
  if (size === 0) return FULL
  if (first === '') {
    if (last === '') return FULL
    // §14.1.1 suffix-range: the last N bytes; a zero length is unsatisfiable, a longer one selects everything.
    const length = Number(last)
    if (length === 0) return UNSATISFIABLE
    return { kind: 'partial', range: { start: Math.max(0, size - length), end: size - 1 } }
  }
  const start = Number(first)
  // §14.1.1: a range whose last-pos is below its first-pos is invalid, so the header is ignored.
  if (last !== '' && Number(last) < start) return FULL
  // §14.1.1: satisfiable only when first-pos is below the length.
  if (start >= size) return UNSATISFIABLE
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  return { kind: 'partial', range: { start, end } }
}

/** `Content-Range` value for a partial response (§14.4). */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`
}

/** `Content-Range` value for a 416 response (§15.5.17). */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`
}
