// What a person wants to read about a release, taken from its core metadata (the "Core
// metadata specifications"): summary, license, Requires-Python, requirements, URLs, classifiers,
// authors and the long description with its content type.
import type { CoreMetadata } from './metadata.js'

/** A labelled URL of a project (Project-URL, Home-page, Download-URL). */
export interface ProjectLink {
  readonly label: string
  readonly url: string
}

/** The long description and how it is written. */
export interface Description {
  readonly text: string
  /** `markdown`, `rst` (the default when no type is given, as on PyPI) or `text`. */
  readonly format: 'markdown' | 'rst' | 'text'
}

/** The displayable metadata of a release; absent fields were not in its metadata. */
export interface ProjectDetails {
  readonly name?: string
  readonly summary?: string
  readonly license?: string
  readonly requiresPython?: string
  readonly requiresDist: readonly string[]
  readonly providesExtra: readonly string[]
  readonly links: readonly ProjectLink[]
  readonly classifiers: readonly string[]
  readonly author?: string
  readonly maintainer?: string
  readonly keywords?: string
  readonly description?: Description
}

// Values setuptools writes for "not given".
const UNKNOWN = new Set(['', 'UNKNOWN', 'None'])
// A long license text (the whole LICENSE in the License field) is cut for the sidebar.
const MAX_LICENSE = 200

/** The details of a release from its parsed core metadata. */
export function projectDetails(metadata: CoreMetadata): ProjectDetails {
  const text = (name: string): string | undefined => {
    const value = metadata.get(name)?.trim()
    return value === undefined || UNKNOWN.has(value) ? undefined : value
  }
  const license = text('license-expression') ?? text('license')
  const details: ProjectDetails = {
    requiresDist: metadata
      .getAll('requires-dist')
      .map((value) => value.trim())
      .filter((value) => value !== ''),
    providesExtra: metadata
      .getAll('provides-extra')
      .map((value) => value.trim())
      .filter((value) => value !== ''),
    links: projectLinks(metadata),
    classifiers: metadata
      .getAll('classifier')
      .map((value) => value.trim())
      .filter((value) => value !== ''),
  }
  const description = describe(metadata)
  return {
    ...details,
    ...optional('name', text('name')),
    ...optional('summary', text('summary')?.replace(/\s+/g, ' ')),
    ...optional('license', license === undefined ? undefined : shorten(license, MAX_LICENSE)),
    ...optional('requiresPython', text('requires-python')),
    ...optional('author', person(text('author'), text('author-email'))),
    ...optional('maintainer', person(text('maintainer'), text('maintainer-email'))),
    ...optional('keywords', text('keywords')),
    ...(description === undefined ? {} : { description }),
  }
}

/**
 * Only http and https URLs become links: a `javascript:`, `data:` or `file:` URL in
 * metadata is dropped (and so is anything that is not a URL at all).
 * @example isWebUrl('https://example.org/docs') // true
 */
export function isWebUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === 'https:' || url.protocol === 'http:'
  } catch {
    return false
  }
}

/** A one-line summary of at most `max` characters, for lists and search results. */
export function shorten(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length <= max ? line : `${line.slice(0, max - 1).trimEnd()}…`
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  // The cast names the one key this object may have; TypeScript widens computed keys to string.
  return (value === undefined || value === '' ? {} : { [key]: value }) as Partial<Record<K, string>>
}

function person(name: string | undefined, email: string | undefined): string | undefined {
  if (name !== undefined && email !== undefined) return `${name} <${email}>`
  return name ?? email
}

// Core metadata "Project-URL": "Label, https://...". Home-page and Download-URL are the
// older single-URL fields (PyPI shows them as "Homepage" and "Download").
function projectLinks(metadata: CoreMetadata): ProjectLink[] {
  const links: ProjectLink[] = []
  const add = (label: string, url: string): void => {
    if (label !== '' && isWebUrl(url) && !links.some((link) => link.url === url && link.label === label))
      links.push({ label, url })
  }
  const home = metadata.get('home-page')?.trim()
  if (home !== undefined) add('Homepage', home)
  const download = metadata.get('download-url')?.trim()
  if (download !== undefined) add('Download', download)
  for (const entry of metadata.getAll('project-url')) {
    const comma = entry.indexOf(',')
    if (comma > 0) add(entry.slice(0, comma).trim(), entry.slice(comma + 1).trim())
  }
  return links
}

// The description is the body (Metadata 2.1+) or the Description field, whose continuation
// lines carry 8 spaces and a "|" (the spec's folding), undone here as packaging does.
function describe(metadata: CoreMetadata): Description | undefined {
  const body = metadata.body
  const field = metadata.get('description')
  const text = body ?? (field === undefined ? undefined : unfold(field))
  if (text === undefined || text.trim() === '' || text.trim() === 'UNKNOWN') return undefined
  return { text, format: descriptionFormat(metadata.get('description-content-type')) }
}

function unfold(value: string): string {
  return value
    .split('\n')
    .map((line, i) => (i === 0 ? line : line.replace(/^ {7}\|/, '').replace(/^ {8}/, '')))
    .join('\n')
}

/**
 * The Description-Content-Type's format: text/markdown, text/x-rst or text/plain; an absent
 * or unknown type is reStructuredText, as PyPI (readme_renderer) treats it.
 * @example descriptionFormat('text/markdown; charset=UTF-8; variant=GFM') // 'markdown'
 */
export function descriptionFormat(contentType: string | undefined): Description['format'] {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (type === 'text/markdown') return 'markdown'
  if (type === 'text/plain') return 'text'
  return 'rst'
}
