// The cooldown (minimum release age, docs/upstream.md): upstream files younger than a set age,
// judged by PEP 700's upload-time, are held back: left off every page and refused by URL. A
// fresh release is when a hijacked account or a typosquat does its harm, and most are caught
// and yanked within days. Pure: the clock is an argument.
import type { UpstreamFile, UpstreamPage } from './upstream-page.js'

/**
 * What happens to files with no (or an unreadable) upload-time under a cooldown: `hide` them
 * (their age cannot be judged, so they fail closed, as uv's exclude-newer does) or `keep` them.
 */
export type UndatedFiles = 'hide' | 'keep'

/** One upstream's cooldown; `minAgeMs` 0 is none. */
export interface CooldownRule {
  readonly minAgeMs: number
  readonly undated: UndatedFiles
}

/** No cooldown. */
export const NO_COOLDOWN: CooldownRule = Object.freeze({ minAgeMs: 0, undated: 'hide' })

/** Why a file is held back. */
export type Hold =
  | { readonly reason: 'young'; readonly uploadedAtMs: number; readonly availableAtMs: number }
  | { readonly reason: 'undated' }

/** A page with the held files taken out. */
export interface CooledPage {
  readonly page: UpstreamPage
  /** The files taken out, by filename. */
  readonly held: ReadonlyMap<string, Hold>
  /** The first moment the result can differ (a held file comes of age); Infinity when never. */
  readonly changesAtMs: number
}

// PEP 700: "an ISO 8601 date/time string in the format yyyy-mm-ddThh:mm:ss.ffffffZ"; any UTC
// offset and any number of fraction digits are read too, a bare date or other text is not.
const ISO_8601 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i

/**
 * Milliseconds since the epoch of a PEP 700 upload-time, or undefined when it is not one.
 * @example uploadTimeMs('2024-05-01T12:00:00.123456Z') // 1714564800123
 */
export function uploadTimeMs(text: string | undefined): number | undefined {
  const match = text === undefined ? null : ISO_8601.exec(text.trim())
  if (match === null) return undefined
  const [, seconds = '', fraction = '', zone = ''] = match
  const ms = Date.parse(`${seconds}.${fraction.padEnd(3, '0').slice(0, 3)}${zone.toUpperCase()}`)
  return Number.isFinite(ms) ? ms : undefined
}

/** Whether (and why) `file` is held back at `nowMs`; undefined when it may be listed and served. */
export function holdOf(file: Pick<UpstreamFile, 'uploadTime'>, rule: CooldownRule, nowMs: number): Hold | undefined {
  if (rule.minAgeMs <= 0) return undefined
  const uploadedAtMs = uploadTimeMs(file.uploadTime)
  if (uploadedAtMs === undefined) return rule.undated === 'hide' ? { reason: 'undated' } : undefined
  const availableAtMs = uploadedAtMs + rule.minAgeMs
  return nowMs < availableAtMs ? { reason: 'young', uploadedAtMs, availableAtMs } : undefined
}

/** `page` without the files `rule` holds back at `nowMs` (the same page object when none is). */
export function applyCooldown(page: UpstreamPage, rule: CooldownRule, nowMs: number): CooledPage {
  if (rule.minAgeMs <= 0) return { page, held: new Map(), changesAtMs: Infinity }
  const held = new Map<string, Hold>()
  const files: UpstreamFile[] = []
  let changesAtMs = Infinity
  for (const file of page.files) {
    const hold = holdOf(file, rule, nowMs)
    if (hold === undefined) {
      files.push(file)
      continue
    }
    held.set(file.filename, hold)
    if (hold.reason === 'young') changesAtMs = Math.min(changesAtMs, hold.availableAtMs)
  }
  return { page: held.size === 0 ? page : { ...page, files }, held, changesAtMs }
}
