// Byte counts in words, one unit system everywhere: IEC binary prefixes (IEC 80000-13: KiB =
// 1024 bytes), the units the size flags take (--max-upload-size 1G is 1 GiB) and the ones
// the docs use. Upload limits, the UI's file sizes and warm-up progress all print with this.
import { plural } from './plural.js'

const UNITS = [
  ['TiB', 1024 ** 4],
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
] as const

/** Options of {@link formatBytes}. */
export interface FormatBytesOptions {
  /**
   * Only an exact value (a limit in a refusal): a whole number of the largest unit that divides
   * `bytes`, else the count in bytes. Default false: rounded, one decimal below 10.
   */
  readonly exact?: boolean
}

/**
 * A byte count for people.
 * @example formatBytes(1536) // "1.5 KiB"
 * @example formatBytes(3 * 1024 ** 3) // "3 GiB"
 * @example formatBytes(2000, { exact: true }) // "2000 bytes"
 * @example formatBytes(1) // "1 byte"
 */
export function formatBytes(bytes: number, options: FormatBytesOptions = {}): string {
  for (const [unit, size] of UNITS) {
    if (options.exact === true ? bytes >= size && bytes % size === 0 : bytes >= size) {
      const value = bytes / size
      const text = Number.isInteger(value)
        ? String(value)
        : value < 10
          ? value.toFixed(1)
          : Math.round(value).toString()
      return `${text} ${unit}`
    }
  }
  return plural(bytes, 'byte')
}

/**
 * A byte count as the size flags take it: digits with an optional K, M or G (powers of 1024,
 * "MiB" and "MB" alike); undefined when it is not one.
 * @example parseByteCount('64M') // 67108864
 * @example parseByteCount('1.5G') // undefined
 */
export function parseByteCount(value: string): number | undefined {
  const match = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(value.trim())
  if (match === null) return undefined
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase()]
  const size = unit === undefined ? NaN : Number(match[1]) * unit
  return Number.isSafeInteger(size) ? size : undefined
}
