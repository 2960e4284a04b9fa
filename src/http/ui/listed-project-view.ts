// The model of the project page of an upstream or merged project, from the files its /simple/
// page lists (src/render/listed-files.ts) and the release's core metadata (src/http/
// listed-release-metadata.ts: a local file's, else the upstream's PEP 658 file), shown as a local
// release's is: summary, README, requirements, links. Without metadata the page says why.
import { parseDistFilename } from '../../core/filenames.js'
import type { DistFile } from '../../core/index-model.js'
import { decodeWheelTags } from '../../core/wheel-tags.js'
import type { ListedFile } from '../../render/listed-files.js'
import { uploadTimeMs, type ListedRelease } from '../../render/pypi-json-listed.js'
import { latestRelease } from '../../render/pypi-json.js'
import type { FileView, ProjectView, ReleaseView } from '../../render/ui/project.js'
import type { NoMetadataReason } from '../../upstream/release-metadata.js'
import type { ListedMetadata } from '../listed-release-metadata.js'
import { LOCAL_ORIGIN, RELEASES_SHOWN, releaseDetails, type ProjectViewContext } from './project-view.js'

/** The model of the page of `release` (one of `releases`, oldest first) of an upstream or merged project. */
export async function listedProjectView(
  context: ProjectViewContext,
  input: {
    /** The normalized name. */
    readonly project: string
    /** The local project of a merged one (its files, their metadata and uploaders). */
    readonly local: { readonly folder: string; file(filename: string): DistFile | undefined } | undefined
    /** The label of the upstream that owns the project (its URL without credentials). */
    readonly upstreamLabel: string | undefined
    /** The release's core metadata, or why there is none. */
    readonly metadata: ListedMetadata
    readonly releases: readonly ListedRelease[]
    readonly release: ListedRelease
    readonly root: string
    readonly indexUrl: string
    readonly allReleases: boolean
  },
): Promise<ProjectView> {
  const { project, local, release, releases, root } = input
  const localFile = (file: ListedFile): DistFile | undefined =>
    file.origin === 'local' ? local?.file(file.filename) : undefined
  const { details, readme } = await releaseDetails(context, input.metadata.kind === 'read' ? input.metadata : undefined)
  const files = [...release.files]
    .sort((a, b) => a.filename.localeCompare(b.filename))
    .map((file) => listedFileView(context, { file, root, dist: localFile(file), upstreamLabel: input.upstreamLabel }))
  const newestFirst = [...releases].reverse()
  const shown = input.allReleases ? newestFirst : newestFirst.slice(0, RELEASES_SHOWN)
  const yankReason = release.files.map((file) => file.yanked).find((reason) => reason !== undefined && reason !== '')
  return {
    assets: context.assets,
    root,
    project,
    name: details?.name ?? local?.folder ?? project,
    version: release.version,
    latest: latestRelease(releases)?.version ?? release.version,
    indexUrl: input.indexUrl,
    details,
    readme,
    files,
    releases: shown.map(releaseView),
    totalReleases: releases.length,
    ...(release.yanked ? { yanked: yankReason ?? '' } : {}),
    ...(input.metadata.kind === 'none' && input.metadata.reason !== 'unreadable'
      ? { noMetadata: noMetadataText(input.metadata.reason, input.upstreamLabel ?? 'an upstream index') }
      : {}),
  }
}

// Why an upstream release shows no metadata (docs/ui.md, "Upstream projects").
function noMetadataText(reason: NoMetadataReason, label: string): string {
  const from = `This release comes from the upstream index ${label}`
  switch (reason) {
    case 'not-offered':
      return `${from}, which offers no metadata file (PEP 658) for it, and none of its files is cached here; installers read its metadata when they install.`
    case 'offline':
      return `${from}. This index is offline and has not cached its metadata.`
    case 'unavailable':
      return `${from}, which cannot be asked for its metadata now; it is shown once it can.`
  }
}

function releaseView(release: ListedRelease): ReleaseView {
  const reason = release.files.map((file) => file.yanked).find((value) => value !== undefined && value !== '')
  const times = release.files.map(uploadTimeMs).filter((ms) => ms !== undefined)
  return {
    version: release.version,
    dateMs: times.length === 0 ? 0 : Math.min(...times),
    yanked: release.yanked,
    ...(release.yanked && reason !== undefined ? { yankReason: reason } : {}),
  }
}

function listedFileView(
  context: ProjectViewContext,
  input: {
    readonly file: ListedFile
    readonly root: string
    readonly dist: DistFile | undefined
    readonly upstreamLabel: string | undefined
  },
): FileView {
  const { file, dist } = input
  // Listed hrefs are relative to /simple/<project>/, two levels below the server root; the
  // UI root (`root`) is one level below it. A direct download's href is the upstream's absolute URL.
  const href = /^https?:\/\//.test(file.href) ? file.href : `${input.root}../${file.href.replace(/^\.\.\/\.\.\//, '')}`
  const tags = decodeWheelTags(file.filename)
  const kind = parseDistFilename(file.filename)?.kind ?? 'sdist'
  const uploader = dist === undefined ? undefined : context.uploaders.userOf(dist.identity)
  return {
    filename: file.filename,
    href,
    kind,
    mtimeMs: uploadTimeMs(file) ?? 0,
    ...(file.size === undefined ? {} : { size: file.size }),
    ...(kind === 'wheel' && file.coreMetadata !== undefined ? { metadataHref: `${href}.metadata` } : {}),
    ...(file.hashes.sha256 === undefined ? {} : { sha256: file.hashes.sha256 }),
    ...(tags === undefined ? {} : { tags }),
    ...(file.requiresPython === undefined ? {} : { requiresPython: file.requiresPython }),
    ...(file.yanked === undefined ? {} : { yanked: file.yanked }),
    ...(uploader === undefined ? {} : { uploader }),
    origin:
      file.origin === 'local' ? LOCAL_ORIGIN : { kind: 'upstream', label: input.upstreamLabel ?? 'an upstream index' },
  }
}
