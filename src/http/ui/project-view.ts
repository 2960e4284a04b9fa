// Builds the model of a project page from the index (files with their facts), the core metadata
// of the release shown, its rendered README and the uploader record.
import type { PageFile, ProjectPage } from '../../core/index-model.js'
import { parseCoreMetadata } from '../../core/metadata.js'
import { projectDetails, type ProjectDetails } from '../../core/project-details.js'
import { decodeWheelTags } from '../../core/wheel-tags.js'
import type { CoreMetadataStore, MetadataBytes } from '../../live-index/metadata-store.js'
import type { ReadmeRenderer } from '../../readme/readme-renderer.js'
import type { RenderedReadme } from '../../render/rendered-readme.js'
import { latestRelease, metadataSource, type Release } from '../../render/pypi-json.js'
import { downloadHref } from '../../render/ui/format.js'
import type { AssetNames } from '../../render/ui/layout.js'
import type { FileView, ProjectView, ReleaseView } from '../../render/ui/project.js'
import type { UploaderRecord } from '../../upload/uploader-log.js'

/** What building a project view needs. */
export interface ProjectViewContext {
  readonly uploaders: UploaderRecord
  readonly metadata: CoreMetadataStore
  readonly readmes: ReadmeRenderer
  readonly assets: AssetNames
  /** Upstreams are configured: every file says where it comes from. */
  readonly showOrigin?: boolean
}

/** How the UI names files of the eggdir when origins are shown. */
export const LOCAL_ORIGIN = { kind: 'local', label: 'this index' } as const

/** Releases shown on a project page unless all are asked for (`?releases=all`): keeps pages small. */
export const RELEASES_SHOWN = 100

/** The model of the page of `release` (one of `releases`, oldest first) of `page`. */
export async function projectView(
  context: ProjectViewContext,
  input: {
    readonly page: ProjectPage
    readonly releases: readonly Release[]
    readonly release: Release
    readonly root: string
    readonly indexUrl: string
    readonly allReleases: boolean
  },
): Promise<ProjectView> {
  const { page, releases, release, root } = input
  const source = metadataSource(release)
  const { details, readme } = await releaseDetails(
    context,
    source === undefined ? undefined : await context.metadata.read(source),
  )
  const files = [...release.files]
    .sort((a, b) => a.file.filename.localeCompare(b.file.filename))
    .map((file) => fileView(context, file, root))
  const newestFirst = [...releases].reverse()
  const shown = input.allReleases ? newestFirst : newestFirst.slice(0, RELEASES_SHOWN)
  const yankReason = release.files
    .map((file) => file.file.yanked)
    .find((reason) => reason !== undefined && reason !== '')
  return {
    assets: context.assets,
    root,
    project: page.project,
    name: details?.name ?? page.folder,
    version: release.version,
    latest: latestRelease(releases)?.version ?? release.version,
    indexUrl: input.indexUrl,
    details,
    readme,
    files,
    releases: shown.map(releaseView),
    totalReleases: releases.length,
    ...(release.yanked ? { yanked: yankReason ?? '' } : {}),
  }
}

/** The details and README of a release from its core metadata (a local file's, or an upstream's). */
export async function releaseDetails(
  context: ProjectViewContext,
  read: MetadataBytes | undefined,
): Promise<{ details: ProjectDetails | undefined; readme: RenderedReadme | undefined }> {
  const details: ProjectDetails | undefined =
    read === undefined ? undefined : projectDetails(parseCoreMetadata(read.bytes))
  const readme: RenderedReadme | undefined =
    read === undefined || details?.description === undefined
      ? undefined
      : await context.readmes.render(read.identity, details.description)
  return { details, readme }
}

function releaseView(release: Release): ReleaseView {
  const reason = release.files.map((file) => file.file.yanked).find((value) => value !== undefined && value !== '')
  return {
    version: release.version,
    dateMs: Math.min(...release.files.map((file) => file.file.mtimeMs)),
    yanked: release.yanked,
    ...(release.yanked && reason !== undefined ? { yankReason: reason } : {}),
  }
}

/** A local file as the project page shows it. */
export function fileView(context: ProjectViewContext, { file, facts }: PageFile, root: string): FileView {
  const href = downloadHref(root, file.folder, file.filename)
  const tags = decodeWheelTags(file.filename)
  const uploader = context.uploaders.userOf(file.identity)
  return {
    filename: file.filename,
    href,
    kind: file.parsed.kind,
    size: file.size,
    mtimeMs: file.mtimeMs,
    ...(file.parsed.kind === 'wheel' && facts.metadata !== undefined ? { metadataHref: `${href}.metadata` } : {}),
    ...(facts.digests.sha256 === undefined ? {} : { sha256: facts.digests.sha256 }),
    ...(tags === undefined ? {} : { tags }),
    ...(facts.metadata?.requiresPython === undefined ? {} : { requiresPython: facts.metadata.requiresPython }),
    ...(file.yanked === undefined ? {} : { yanked: file.yanked }),
    ...(uploader === undefined ? {} : { uploader }),
    ...(context.showOrigin === true ? { origin: LOCAL_ORIGIN } : {}),
  }
}
