// Durations as people write them in flags and the configuration file: "600", "600s", "10m",
// "1h30m", "7d", "2w", "500ms". Pure.

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
}

/**
 * Milliseconds of a duration: a number of seconds (a plain number, or digits as text), or one
 * or more `<number><unit>` parts with the units ms, s, m, h, d and w. Undefined when it is none
 * of these, negative or not finite.
 * @example parseDuration('10m') // 600000
 * @example parseDuration('1h30m') // 5400000
 * @example parseDuration(600) // 600000
 * @example parseDuration('7 days') // undefined
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined
  const text = value.trim().toLowerCase()
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000)
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(text)) return undefined
  let total = 0
  for (const [, amount = '', unit = ''] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) {
    total += Number(amount) * (UNIT_MS[unit] ?? NaN)
  }
  return Number.isFinite(total) ? Math.round(total) : undefined
}

/**
 * A duration for people, in its largest whole units.
 * @example formatDuration(90_000) // "1m30s"
 * @example formatDuration(7 * 86_400_000) // "7d"
 * @example formatDuration(0) // "0s"
 */
export function formatDuration(ms: number): string {
  let rest = Math.max(0, Math.round(ms))
  if (rest === 0) return '0s'
  const parts: string[] = []
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit] ?? 1
    const count = Math.floor(rest / size)
    if (count > 0) parts.push(`${String(count)}${unit}`)
    rest -= count * size
  }
  return parts.join('')
}
