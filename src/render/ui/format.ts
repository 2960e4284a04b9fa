// Small formatting helpers of the browse UI: sizes, dates and hrefs, all pure.
import { html, type SafeHtml } from '../html.js'
import { encodeSegment } from '../trees.js'

/**
 * A size in decimal units, as PyPI shows them.
 * @example formatSize(1536) // '1.5 kB'
 */
export function formatSize (bytes: number): string {
  if (bytes < 1000) return `${bytes} bytes`
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = bytes / 1000
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value).toString()} ${units[unit] ?? ''}`
}

/** A `<time>` element: machine-readable ISO 8601 in the attribute, "2024-05-01 13:45 UTC" as text. */
export function timeElement (ms: number): SafeHtml {
  if (ms <= 0) return html`<span>unknown</span>`
  const iso = new Date(ms).toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC</time>`
}

/** Just the date of a `<time>`, for lists. */
export function dateElement (ms: number): SafeHtml {
  if (ms <= 0) return html`<span>unknown</span>`
  const iso = new Date(ms).toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 10)}</time>`
}

/** Href of a project's UI page from the UI root (`-/`). */
export function projectHref (root: string, project: string, version?: string): string {
  return version === undefined ? `${root}project/${encodeSegment(project)}/` : `${root}project/${encodeSegment(project)}/${encodeSegment(version)}/`
}

/** Href of a file's download URL (the PEP 503 tree's) from the UI root. */
export function downloadHref (root: string, folder: string, filename: string): string {
  return `${root}../packages/${encodeSegment(folder)}/${encodeSegment(filename)}`
}
