// The PyPI JSON API of upstream and merged projects, from the files their simple pages list
// (src/render/listed-files.ts): the same keys as a local project's, plus "_eggserve-origin" on
// every file. `info` is filled from the release's core metadata as a local project's is (a
// local file's, else the upstream's PEP 658 file); without any, its metadata fields are null.
import { parseDistFilename } from '../core/filenames.js'
import type { CoreMetadata } from '../core/metadata.js'
import type { ProjectSummary } from '../core/index-model.js'
import { canonicalizeVersion, compareVersions, normalizeVersion } from '../core/versions.js'
import type { ListedFile } from './listed-files.js'
import { PACKAGE_TYPES, releaseInfo, type JsonApiUrls } from './pypi-json.js'

/** One release of listed files. */
export interface ListedRelease {
  readonly version: string
  readonly files: readonly ListedFile[]
  /** Every file of it is yanked. */
  readonly yanked: boolean
}

/** The releases of listed files, oldest first (PEP 440 order); files that are no distribution's are left out. */
export function listedReleases(files: readonly ListedFile[]): ListedRelease[] {
  const byVersion = new Map<string, ListedFile[]>()
  for (const file of files) {
    const parsed = parseDistFilename(file.filename)
    if (parsed === undefined) continue
    const version = normalizeVersion(parsed.version)
    const list = byVersion.get(version)
    if (list === undefined) byVersion.set(version, [file])
    else list.push(file)
  }
  return [...byVersion]
    .sort(([a], [b]) => compareVersions(a, b))
    .map(([version, list]) => ({ version, files: list, yanked: list.every((file) => file.yanked !== undefined) }))
}

/** The release `version` names: exactly, else by canonical version (trailing zeros insignificant). */
export function findListedRelease(releases: readonly ListedRelease[], version: string): ListedRelease | undefined {
  const exact = releases.find(
    (release) =>
      release.version === version ||
      release.files.some((file) => parseDistFilename(file.filename)?.version === version),
  )
  if (exact !== undefined) return exact
  const canonical = canonicalizeVersion(version)
  return releases.find((release) => canonicalizeVersion(release.version) === canonical)
}

/** Milliseconds of a PEP 700 upload-time, or undefined when it is absent or unreadable. */
export function uploadTimeMs(file: Pick<ListedFile, 'uploadTime'>): number | undefined {
  const ms = file.uploadTime === undefined ? Number.NaN : Date.parse(file.uploadTime)
  return Number.isNaN(ms) ? undefined : ms
}

/** The body of `/pypi/<project>/json` (with releases) or `/pypi/<project>/<version>/json` of a merged or upstream project. */
export function renderListedPypiJson(options: {
  readonly names: ProjectSummary
  readonly release: ListedRelease
  readonly releases: readonly ListedRelease[] | undefined
  /** Core metadata of the release (a local file's, else the upstream's), when it could be had. */
  readonly metadata: CoreMetadata | undefined
  readonly urls: JsonApiUrls
}): string {
  const { names, release, releases, urls } = options
  // Hrefs are relative to /simple/<project>/; this API's URLs are absolute, as PyPI's.
  const pageUrl = `${urls.base}simple/${names.project}/`
  const all = releases ?? [release]
  const times = all.flatMap((r) => r.files.map(uploadTimeMs)).filter((ms) => ms !== undefined)
  const body: Record<string, unknown> = {
    info: releaseInfo({
      names,
      release: {
        version: release.version,
        yanked: release.yanked,
        yankReason: release.files.map((file) => file.yanked).find((reason) => reason !== undefined && reason !== ''),
      },
      metadata: options.metadata,
      urls,
      requiresPython: release.files.find((file) => file.requiresPython !== undefined)?.requiresPython,
    }),
    // The newest upload, in seconds, as for local projects.
    last_serial: Math.floor(Math.max(0, ...times) / 1000),
    urls: release.files.map((file) => fileJson(file, pageUrl)),
    vulnerabilities: [],
    ownership: { roles: [], organization: null },
  }
  if (releases !== undefined)
    body.releases = Object.fromEntries(releases.map((r) => [r.version, r.files.map((file) => fileJson(file, pageUrl))]))
  return JSON.stringify(body)
}

function fileJson(file: ListedFile, pageUrl: string): Record<string, unknown> {
  const parsed = parseDistFilename(file.filename)
  const ms = uploadTimeMs(file)
  const iso = ms === undefined ? undefined : new Date(ms).toISOString()
  const digests: Record<string, string> = {}
  if (file.hashes.md5 !== undefined) digests.md5 = file.hashes.md5
  if (file.hashes.sha256 !== undefined) digests.sha256 = file.hashes.sha256
  return {
    filename: file.filename,
    url: new URL(file.href, pageUrl).href,
    packagetype: parsed === undefined ? null : PACKAGE_TYPES[parsed.kind],
    python_version: parsed === undefined ? '' : parsed.kind === 'sdist' ? 'source' : (parsed.pythonTag ?? ''),
    // PEP 700 sizes and times are optional on an upstream's page (an HTML page has neither).
    size: file.size ?? null,
    digests,
    md5_digest: file.hashes.md5 ?? null,
    requires_python: file.requiresPython ?? null,
    upload_time: iso === undefined ? null : iso.slice(0, 19),
    upload_time_iso_8601: iso ?? null,
    yanked: file.yanked !== undefined,
    yanked_reason: file.yanked === undefined || file.yanked === '' ? null : file.yanked,
    comment_text: '',
    has_sig: false,
    downloads: -1,
    'core-metadata': file.coreMetadata ?? false,
    '_eggserve-origin': file.origin,
  }
}
