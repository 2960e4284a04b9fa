// The PyPI JSON API (`/pypi/<project>/json`, `/pypi/<project>/<version>/json`),
// read by renovate and audit tools, built from the same model as the simple pages.
import type { DistFile, PageFile, ProjectPage, ProjectSummary } from '../core/index-model.js'
import type { CoreMetadata } from '../core/metadata.js'
import { canonicalizeVersion, compareVersions, isPrerelease, normalizeVersion } from '../core/versions.js'

/** One release: a normalized version and its files. */
export interface Release {
  readonly version: string
  readonly files: readonly PageFile[]
  /** A release is yanked when every one of its files is. */
  readonly yanked: boolean
}

/** Absolute URLs of the server (the JSON API gives absolute URLs, as PyPI does). */
export interface JsonApiUrls {
  /** Where eggserve's root is, ending in "/": e.g. http://host:31001/ or https://host/eggs/ */
  readonly base: string
}

/** The releases of a page, oldest first (PEP 440 order). */
export function releasesOf(page: ProjectPage): Release[] {
  const byVersion = new Map<string, PageFile[]>()
  for (const file of page.files) {
    const version = normalizeVersion(file.file.parsed.version)
    const list = byVersion.get(version) ?? []
    list.push(file)
    byVersion.set(version, list)
  }
  return [...byVersion]
    .sort(([a], [b]) => compareVersions(a, b))
    .map(([version, files]) => ({
      version,
      files,
      yanked: files.every((file) => file.file.yanked !== undefined),
    }))
}

/** As Warehouse's latest release: the highest non-yanked final release, else non-yanked pre-release, else the highest. */
export function latestRelease<R extends Pick<Release, 'version' | 'yanked'>>(releases: readonly R[]): R | undefined {
  const newestFirst = [...releases].reverse()
  return (
    newestFirst.find((r) => !r.yanked && !isPrerelease(r.version)) ??
    newestFirst.find((r) => !r.yanked) ??
    newestFirst[0]
  )
}

/** By canonical version (trailing zeros insignificant), the exact string winning ties. */
export function findRelease(releases: readonly Release[], version: string): Release | undefined {
  const exact = releases.find((r) => r.version === version || r.files.some((f) => f.file.parsed.version === version))
  if (exact !== undefined) return exact
  const canonical = canonicalizeVersion(version)
  return releases.find((r) => canonicalizeVersion(r.version) === canonical)
}

/** The file whose metadata describes a release best: a wheel, else an sdist, else an egg. */
export function metadataSource(release: Release): DistFile | undefined {
  return preferredMetadataFile(release.files.map((f) => f.file))
}

/** Of `files` (one release's), the one whose metadata describes it best: a wheel, else an sdist, else an egg. */
export function preferredMetadataFile(files: readonly DistFile[]): DistFile | undefined {
  const order = ['wheel', 'sdist', 'egg']
  return [...files].sort((a, b) => order.indexOf(a.parsed.kind) - order.indexOf(b.parsed.kind))[0]
}

/** The body of `/pypi/<project>/json` (with releases) or `/pypi/<project>/<version>/json` (without). */
export function renderPypiJson(options: {
  page: ProjectPage
  release: Release
  releases: readonly Release[] | undefined
  metadata: CoreMetadata | undefined
  urls: JsonApiUrls
}): string {
  const { page, release, releases, metadata, urls } = options
  const yankReasons = release.files.map((f) => f.file.yanked).filter((r): r is string => r !== undefined && r !== '')
  const body: Record<string, unknown> = {
    info: releaseInfo({
      names: page,
      release: { version: release.version, yanked: release.yanked, yankReason: yankReasons[0] },
      metadata,
      urls,
    }),
    // The newest file modification, in seconds: rises with every new file and survives restarts.
    last_serial: Math.floor(Math.max(0, ...page.files.map((f) => f.file.mtimeMs)) / 1000),
    urls: release.files.map((file) => fileJson(file, urls)),
    vulnerabilities: [],
    ownership: { roles: [], organization: null },
  }
  if (releases !== undefined)
    body.releases = Object.fromEntries(releases.map((r) => [r.version, r.files.map((file) => fileJson(file, urls))]))
  return JSON.stringify(body)
}

/** What `info` says of a release: from its core metadata, else (fields the metadata would give) null. */
export function releaseInfo(options: {
  readonly names: ProjectSummary
  readonly release: { readonly version: string; readonly yanked: boolean; readonly yankReason: string | undefined }
  readonly metadata: CoreMetadata | undefined
  readonly urls: JsonApiUrls
  /** Requires-Python when there is no metadata to read it from (an upstream page's `requires-python`). */
  readonly requiresPython?: string | undefined
}): Record<string, unknown> {
  const { names: page, release, metadata, urls } = options
  const text = (name: string): string | null => metadata?.get(name) ?? null
  const list = (name: string): string[] | null => {
    const values = metadata?.getAll(name) ?? []
    return values.length === 0 ? null : [...values]
  }
  return {
    name: text('name') ?? page.folder,
    version: release.version,
    summary: text('summary'),
    description: metadata?.body ?? text('description'),
    description_content_type: text('description-content-type'),
    author: text('author'),
    author_email: text('author-email'),
    maintainer: text('maintainer'),
    maintainer_email: text('maintainer-email'),
    license: text('license'),
    license_expression: text('license-expression'),
    license_files: list('license-file'),
    keywords: text('keywords'),
    classifiers: list('classifier') ?? [],
    platform: text('platform'),
    requires_python: text('requires-python') ?? options.requiresPython ?? null,
    requires_dist: list('requires-dist'),
    provides_extra: list('provides-extra'),
    project_urls: projectUrls(metadata),
    home_page: text('home-page'),
    download_url: text('download-url'),
    package_url: `${urls.base}simple/${page.project}/`,
    project_url: `${urls.base}simple/${page.project}/`,
    release_url: `${urls.base}pypi/${page.project}/${release.version}/json`,
    docs_url: null,
    bugtrack_url: null,
    yanked: release.yanked,
    yanked_reason: release.yanked ? (release.yankReason ?? null) : null,
    dynamic: list('dynamic'),
    downloads: { last_day: -1, last_week: -1, last_month: -1 },
  }
}

// Core metadata `Project-URL: Label, https://...`; Home-page becomes "Homepage" as on PyPI.
function projectUrls(metadata: CoreMetadata | undefined): Record<string, string> | null {
  if (metadata === undefined) return null
  const urls: Record<string, string> = {}
  const home = metadata.get('home-page')
  if (home !== undefined && home !== '' && home !== 'UNKNOWN') urls.Homepage = home
  for (const entry of metadata.getAll('project-url')) {
    const comma = entry.indexOf(',')
    if (comma > 0) urls[entry.slice(0, comma).trim()] = entry.slice(comma + 1).trim()
  }
  return Object.keys(urls).length === 0 ? null : urls
}

/** PyPI's `packagetype` of each kind of distribution. */
export const PACKAGE_TYPES = { wheel: 'bdist_wheel', sdist: 'sdist', egg: 'bdist_egg' } as const

function fileJson({ file, facts }: PageFile, urls: JsonApiUrls): Record<string, unknown> {
  const iso = new Date(file.mtimeMs).toISOString()
  const digests: Record<string, string> = {}
  if (facts.digests.md5 !== undefined) digests.md5 = facts.digests.md5
  if (facts.digests.sha256 !== undefined) digests.sha256 = facts.digests.sha256
  return {
    filename: file.filename,
    url: `${urls.base}packages/${encodeURIComponent(file.folder)}/${encodeURIComponent(file.filename)}`,
    packagetype: PACKAGE_TYPES[file.parsed.kind],
    python_version: file.parsed.kind === 'sdist' ? 'source' : (file.parsed.pythonTag ?? ''),
    size: file.size,
    digests,
    md5_digest: facts.digests.md5 ?? null,
    requires_python: facts.metadata?.requiresPython ?? null,
    // As PyPI: no zone in upload_time, a "Z" in upload_time_iso_8601.
    upload_time: iso.slice(0, 19),
    upload_time_iso_8601: iso,
    yanked: file.yanked !== undefined,
    yanked_reason: file.yanked === undefined || file.yanked === '' ? null : file.yanked,
    comment_text: '',
    has_sig: false,
    downloads: -1,
    'core-metadata':
      file.parsed.kind === 'wheel' && facts.metadata !== undefined ? { sha256: facts.metadata.sha256 } : false,
  }
}
