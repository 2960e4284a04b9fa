// Project pages of upstream and merged projects (PEP 503 HTML and PEP 691 JSON), from a flat
// list of files that each say where they come from. Every href is local (page-relative), and
// upstream URLs never appear, except for the files of an upstream with direct downloads
// (docs/upstream.md, "Direct downloads"): those keep the upstream's absolute URL.
import type { HashAlgorithm } from '../core/digests.js'
import { parseDistFilename } from '../core/filenames.js'
import type { PageFile } from '../core/index-model.js'
import type { UpstreamFile } from '../core/upstream-page.js'
import { compareVersions, normalizeVersion } from '../core/versions.js'
import { renderLinkPage, type PageLink } from './pages.js'
import { SIMPLE_TREE, type Tree } from './trees.js'

/** Where a file on a page comes from. */
export type FileOrigin = 'local' | 'upstream'

/** A file as a page shows it. */
export interface ListedFile {
  readonly filename: string
  /** Page-relative href, without a fragment. */
  readonly href: string
  readonly hashes: Readonly<Record<string, string>>
  readonly requiresPython?: string
  /** '' when yanked without a reason. */
  readonly yanked?: string
  readonly coreMetadata?: Readonly<Record<string, string>> | true
  readonly size?: number
  readonly uploadTime?: string
  readonly origin: FileOrigin
}

/** How an upstream file is listed. */
export interface UpstreamListing {
  /** The sha256 of the cached bytes, which replaces the page's digests (proxied files only). */
  readonly pinnedSha256?: string | undefined
  /** The tree whose hrefs to use (default: /simple/'s). */
  readonly tree?: Tree
  /** List the file at its upstream URL, so clients download it from there. */
  readonly direct?: boolean
  /**
   * Replaces the page's PEP 658 `core-metadata` (`'none'`: left off): a pinned file the
   * upstream now lists with another hash gets its own METADATA's digest, not the upstream's.
   */
  readonly coreMetadata?: Readonly<Record<string, string>> | 'none'
}

/**
 * An upstream file as listed: at its local URL in the tree, its digests replaced by the pinned
 * sha256 when the file is cached; or, with `direct`, at its upstream URL with the page's digests.
 */
export function listUpstreamFile(project: string, file: UpstreamFile, listing: UpstreamListing = {}): ListedFile {
  const { pinnedSha256, tree = SIMPLE_TREE, direct = false } = listing
  const coreMetadata = listing.coreMetadata ?? file.coreMetadata
  // A cached file is immutable: the page names the bytes that will be served. A direct
  // download gets the upstream's bytes, which its own page describes.
  const hashes = pinnedSha256 === undefined || direct ? file.hashes : { sha256: pinnedSha256 }
  return {
    filename: file.filename,
    href: direct ? directUrl(file.url) : tree.upstreamFileHref(project, file.filename),
    hashes,
    ...(file.requiresPython === undefined ? {} : { requiresPython: file.requiresPython }),
    ...(file.yanked === undefined ? {} : { yanked: file.yanked }),
    ...(coreMetadata === undefined || coreMetadata === 'none' ? {} : { coreMetadata }),
    ...(file.size === undefined ? {} : { size: file.size }),
    ...(file.uploadTime === undefined ? {} : { uploadTime: file.uploadTime }),
    origin: 'upstream',
  }
}

/**
 * An upstream file's own URL, as a page may show it: absolute (it was resolved against the
 * upstream page's URL), without a fragment (the renderers add the hash), and without any
 * user:password an upstream page may have put in it: a page never carries credentials.
 * PEP 658 keeps working: its metadata is at this URL plus ".metadata", at the upstream.
 */
export function directUrl(url: string): string {
  const parsed = new URL(url)
  parsed.username = ''
  parsed.password = ''
  parsed.hash = ''
  return parsed.href
}

/** A local file as listed on a merged page of `tree` (the same facts its own page shows). */
export function listLocalFile({ file, facts }: PageFile, tree: Tree = SIMPLE_TREE): ListedFile {
  const hashes: Record<string, string> = {}
  for (const [algorithm, digest] of Object.entries(facts.digests)) hashes[algorithm] = digest
  return {
    filename: file.filename,
    href: tree.fileHref(file),
    hashes,
    ...(facts.metadata?.requiresPython === undefined ? {} : { requiresPython: facts.metadata.requiresPython }),
    ...(file.yanked === undefined ? {} : { yanked: file.yanked }),
    ...(file.parsed.kind === 'wheel' && facts.metadata !== undefined
      ? { coreMetadata: { sha256: facts.metadata.sha256 } }
      : {}),
    size: file.size,
    uploadTime: new Date(file.mtimeMs).toISOString(),
    origin: 'local',
  }
}

/** PEP 503 HTML; each link carries data-eggserve-origin. */
export function renderListedHtml(project: string, files: readonly ListedFile[], algorithm: HashAlgorithm): string {
  return renderLinkPage({ title: `Links for ${project}`, links: files.map((file) => htmlLink(file, algorithm)) })
}

function htmlLink(file: ListedFile, preferred: HashAlgorithm): PageLink {
  // PEP 503: one fragment; the configured algorithm when known, else the strongest given. On
  // the original tree (md5 by default) an upstream file from PyPI, which gives sha256 alone,
  // gets #sha256=: pip's Link hash regex (models/link.py, pip 9 to 25) and setuptools'
  // HashChecker (package_index.py) read md5, sha1 and the sha2 family alike.
  const algorithm =
    file.hashes[preferred] !== undefined
      ? preferred
      : ['sha256', 'sha512', 'sha384', 'md5'].find((name) => file.hashes[name] !== undefined)
  const digest = algorithm === undefined ? undefined : file.hashes[algorithm]
  const attributes: Record<string, string> = {}
  if (file.requiresPython !== undefined) attributes['data-requires-python'] = file.requiresPython
  if (file.coreMetadata !== undefined) {
    // PEP 714: both names, same value ("true" when the upstream gave no digest, PEP 658).
    const sha256 = file.coreMetadata === true ? undefined : file.coreMetadata.sha256
    const value = sha256 === undefined ? 'true' : `sha256=${sha256}`
    attributes['data-dist-info-metadata'] = value
    attributes['data-core-metadata'] = value
  }
  if (file.yanked !== undefined) attributes['data-yanked'] = file.yanked
  attributes['data-eggserve-origin'] = file.origin
  return {
    href: digest === undefined || algorithm === undefined ? file.href : `${file.href}#${algorithm}=${digest}`,
    text: file.filename,
    attributes,
  }
}

/** PEP 691 JSON (1.1 when every size is known, else 1.0); each file carries `_eggserve-origin` (PEP 691 leaves "_" keys to index servers). */
export function renderListedJson(project: string, files: readonly ListedFile[]): string {
  const complete = files.every((file) => file.size !== undefined)
  const versions = [
    ...new Set(
      files
        .map((file) => parseDistFilename(file.filename)?.version)
        .filter((version) => version !== undefined)
        .map(normalizeVersion),
    ),
  ].sort(compareVersions)
  return JSON.stringify({
    meta: { 'api-version': complete ? '1.1' : '1.0' },
    name: project,
    ...(complete ? { versions } : {}),
    files: files.map((file) => {
      const json: Record<string, unknown> = { filename: file.filename, url: file.href, hashes: file.hashes }
      if (file.requiresPython !== undefined) json['requires-python'] = file.requiresPython
      if (file.coreMetadata !== undefined) {
        json['core-metadata'] = file.coreMetadata
        json['data-dist-info-metadata'] = file.coreMetadata
      }
      json.yanked = file.yanked === undefined ? false : file.yanked === '' ? true : file.yanked
      if (file.size !== undefined) json.size = file.size
      if (file.uploadTime !== undefined) json['upload-time'] = file.uploadTime
      json['_eggserve-origin'] = file.origin
      return json
    }),
  })
}
