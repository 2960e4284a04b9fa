// An upstream index's project page, read from PEP 691 JSON or PEP 503 HTML into one model.
// Pure: the text and the URL it came from in, the model out. Anything odd on the page (a file
// that is no distribution, a filename with a path in it, a URL that is not http(s)) is left
// out rather than trusted, because filenames become local URLs and cache paths.
import { Parser } from 'htmlparser2'
import { isDistributionFilename } from './filenames.js'

/** One file of an upstream page, with what PEP 691/700/714/592 let the upstream say about it. */
export interface UpstreamFile {
  readonly filename: string
  /** Absolute http(s) URL of the file at the upstream, without a fragment. */
  readonly url: string
  /** Lowercase algorithm name → lowercase hex digest. */
  readonly hashes: Readonly<Record<string, string>>
  readonly requiresPython?: string
  /** PEP 592: '' when yanked without a reason, else the reason; absent when not yanked. */
  readonly yanked?: string
  /** PEP 714: the digests of the `.metadata` file, or true when it exists without digests. */
  readonly coreMetadata?: Readonly<Record<string, string>> | true
  /** PEP 700: the size in bytes. */
  readonly size?: number
  /** PEP 700: ISO 8601 upload time. */
  readonly uploadTime?: string
}

/** A project page of an upstream. */
export interface UpstreamPage {
  /** The normalized project name. */
  readonly project: string
  readonly files: readonly UpstreamFile[]
}

const HEX = /^[0-9a-f]+$/

/**
 * Read a PEP 691 JSON project page. Throws a SyntaxError when the document is not JSON or not
 * a project page; single files with bad fields are left out.
 */
export function parseJsonPage(text: string, pageUrl: string, project: string): UpstreamPage {
  const doc: unknown = JSON.parse(text)
  if (!isRecord(doc) || !Array.isArray(doc.files)) throw new SyntaxError('not a PEP 691 project page: no "files" list')
  const files: UpstreamFile[] = []
  for (const entry of doc.files as unknown[]) {
    if (!isRecord(entry) || typeof entry.filename !== 'string' || typeof entry.url !== 'string') continue
    const url = absoluteUrl(entry.url, pageUrl)
    if (url === undefined || !usableFilename(entry.filename)) continue
    const file: Mutable<UpstreamFile> = { filename: entry.filename, url: url.href, hashes: digestMap(entry.hashes) }
    if (typeof entry['requires-python'] === 'string' && entry['requires-python'] !== '')
      file.requiresPython = entry['requires-python']
    // PEP 691: yanked is a boolean or a (possibly empty) reason string.
    if (entry.yanked === true) file.yanked = ''
    else if (typeof entry.yanked === 'string') file.yanked = entry.yanked
    // PEP 714 renamed dist-info-metadata to core-metadata; PyPI still sends both.
    const metadata = entry['core-metadata'] ?? entry['dist-info-metadata']
    if (metadata === true) file.coreMetadata = true
    else if (isRecord(metadata)) file.coreMetadata = digestMap(metadata)
    if (typeof entry.size === 'number' && Number.isSafeInteger(entry.size) && entry.size >= 0) file.size = entry.size
    if (typeof entry['upload-time'] === 'string') file.uploadTime = entry['upload-time']
    files.push(file)
  }
  return { project, files }
}

/** Read a PEP 503 HTML project page (with the PEP 592, 629, 658 and 714 attributes). */
export function parseHtmlPage(text: string, pageUrl: string, project: string): UpstreamPage {
  const files: UpstreamFile[] = []
  // PEP 503 does not mention <base>, but pip honours it when resolving hrefs (pip's HTMLLinkParser).
  let base = pageUrl
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (name === 'base' && attributes.href !== undefined) {
          base = absoluteUrl(attributes.href, pageUrl)?.href ?? base
          return
        }
        if (name !== 'a' || attributes.href === undefined) return
        const file = htmlLink(attributes, base)
        if (file !== undefined) files.push(file)
      },
    },
    { decodeEntities: true, lowerCaseAttributeNames: true },
  )
  parser.write(text)
  parser.end()
  return { project, files }
}

function htmlLink(attributes: Readonly<Record<string, string>>, base: string): UpstreamFile | undefined {
  const url = absoluteUrl(attributes.href ?? '', base)
  if (url === undefined) return undefined
  // PEP 503: the filename is the last path segment of the URL.
  const filename = safeDecode(url.pathname.slice(url.pathname.lastIndexOf('/') + 1))
  if (filename === undefined || !usableFilename(filename)) return undefined
  const hashes: Record<string, string> = {}
  // PEP 503: an optional #<hashname>=<hashvalue> fragment.
  const fragment = /^#([a-z0-9]+)=([0-9a-fA-F]+)$/.exec(url.hash)
  if (fragment?.[1] !== undefined && fragment[2] !== undefined) hashes[fragment[1]] = fragment[2].toLowerCase()
  url.hash = ''
  const file: Mutable<UpstreamFile> = { filename, url: url.href, hashes }
  const requiresPython = attributes['data-requires-python']
  if (requiresPython !== undefined && requiresPython !== '') file.requiresPython = requiresPython
  // PEP 592: the attribute's presence marks a yank; its value is the reason.
  if (attributes['data-yanked'] !== undefined) file.yanked = attributes['data-yanked']
  const metadata = attributes['data-core-metadata'] ?? attributes['data-dist-info-metadata']
  if (metadata !== undefined) {
    // PEP 658: "true", or <hashname>=<hashvalue>.
    const digest = /^([a-z0-9]+)=([0-9a-fA-F]+)$/.exec(metadata)
    file.coreMetadata =
      digest?.[1] !== undefined && digest[2] !== undefined ? { [digest[1]]: digest[2].toLowerCase() } : true
  }
  return file
}

function usableFilename(filename: string): boolean {
  // Filenames become a local URL segment and a file in the cache: no separators, no dot-names.
  return !/[/\\\0]/.test(filename) && !filename.startsWith('.') && isDistributionFilename(filename)
}

function absoluteUrl(href: string, base: string): URL | undefined {
  try {
    const url = new URL(href, base)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined
  } catch {
    return undefined
  }
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

function digestMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!isRecord(value)) return out
  for (const [name, digest] of Object.entries(value)) {
    if (typeof digest === 'string' && HEX.test(digest.toLowerCase())) out[name.toLowerCase()] = digest.toLowerCase()
  }
  return out
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
