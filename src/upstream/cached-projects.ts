// The projects an upstream's cached pages know, as the browse UI's project list and search show
// them. Only cached pages, never the upstream's list of every name (its PEP 503 `/simple/`):
// PyPI's is tens of MB (over 600,000 names) to fetch again and again, and searching the upstream
// instead would send it every query typed here, private names included.
import { applyCooldown, uploadTimeMs, type CooldownRule } from '../core/cooldown.js'
import { parseDistFilename } from '../core/filenames.js'
import type { UpstreamPage } from '../core/upstream-page.js'
import { latestVersionOf } from '../core/versions.js'

/** What the project list shows of a cached upstream page. */
export interface PageSummary {
  /** The latest version among the files the page lists (the cooldown applied), if any. */
  readonly version: string | undefined
  /** The newest PEP 700 upload-time among them, in ms; 0 when none gives one. */
  readonly lastUploadMs: number
  /** When the summary may change (a held file comes of age); Infinity when never. */
  readonly changesAtMs: number
}

/** A project an upstream's cached page knows. */
export interface CachedProject extends PageSummary {
  /** The normalized name. */
  readonly project: string
  /** The label of the upstream whose page it is (its URL without credentials). */
  readonly upstream: string
  /** The latest release's summary, when its core metadata is already cached (never fetched for a list). */
  readonly summary?: string
}

/** The summary of `page` under `rule` at `nowMs`. */
export function summarizePage(page: UpstreamPage, rule: CooldownRule, nowMs: number): PageSummary {
  const cooled = applyCooldown(page, rule, nowMs)
  const releases: { version: string; yanked: boolean }[] = []
  let lastUploadMs = 0
  for (const file of cooled.page.files) {
    const parsed = parseDistFilename(file.filename)
    if (parsed === undefined) continue
    releases.push({ version: parsed.version, yanked: file.yanked !== undefined })
    lastUploadMs = Math.max(lastUploadMs, uploadTimeMs(file.uploadTime) ?? 0)
  }
  return { version: latestVersionOf(releases), lastUploadMs, changesAtMs: cooled.changesAtMs }
}
