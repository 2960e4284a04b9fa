// Small formatting helpers of the browse UI: sizes, dates and hrefs, all pure.
import { html, type SafeHtml } from '../html.js'
import { encodeSegment } from '../trees.js'

/** A `<time>` element: machine-readable ISO 8601 in the attribute, "2024-05-01 13:45 UTC" as text. */
export function timeElement(ms: number): SafeHtml {
  if (ms <= 0) return html`<span>unknown</span>`
  const iso = new Date(ms).toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC</time>`
}

/** Just the date of a `<time>`, for lists. */
export function dateElement(ms: number): SafeHtml {
  if (ms <= 0) return html`<span>unknown</span>`
  const iso = new Date(ms).toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 10)}</time>`
}

/** Href of a project's UI page from the UI root (`-/`). */
export function projectHref(root: string, project: string, version?: string): string {
  return version === undefined
    ? `${root}project/${encodeSegment(project)}/`
    : `${root}project/${encodeSegment(project)}/${encodeSegment(version)}/`
}

/** Href of a file's download URL (the PEP 503 tree's) from the UI root. */
export function downloadHref(root: string, folder: string, filename: string): string {
  return `${root}../packages/${encodeSegment(folder)}/${encodeSegment(filename)}`
}
