// The core metadata of one release of an upstream or merged project, for the PyPI JSON API's
// `info` and the browse UI's project page alike (one path, so both show the same): a release
// with a local file takes that file's (the local file wins, as on its pages), any other the
// upstream's (src/upstream/release-metadata.ts).
import type { ProjectSnapshot } from '../live-index/index-service.js'
import type { CoreMetadataStore, MetadataBytes } from '../live-index/metadata-store.js'
import type { ListedRelease } from '../render/pypi-json-listed.js'
import { preferredMetadataFile } from '../render/pypi-json.js'
import type { NoMetadataReason } from '../upstream/release-metadata.js'
import type { UpstreamIndex, UpstreamView } from '../upstream/upstream-index.js'

/** A listed release's metadata, or why there is none (`unreadable`: its local files have none that can be read). */
export type ListedMetadata =
  | ({ readonly kind: 'read' } & MetadataBytes)
  | { readonly kind: 'none'; readonly reason: NoMetadataReason | 'unreadable' }

/** The metadata of `release` of `project`, a merged (`local` set) or upstream project whose upstream page is `view`. */
export async function listedReleaseMetadata(input: {
  readonly metadata: CoreMetadataStore
  readonly upstream: UpstreamIndex
  readonly project: string
  readonly local: ProjectSnapshot | undefined
  readonly view: UpstreamView | undefined
  readonly release: ListedRelease
}): Promise<ListedMetadata> {
  const { release, local, view } = input
  const localFiles = release.files.flatMap((file) => {
    const dist = file.origin === 'local' ? local?.file(file.filename) : undefined
    return dist === undefined ? [] : [dist]
  })
  const source = preferredMetadataFile(localFiles)
  if (source !== undefined) {
    const read = await input.metadata.read(source)
    return read === undefined ? { kind: 'none', reason: 'unreadable' } : { kind: 'read', ...read }
  }
  const names = new Set(release.files.filter((file) => file.origin === 'upstream').map((file) => file.filename))
  if (view === undefined || names.size === 0) return { kind: 'none', reason: 'unreadable' }
  return input.upstream.metadata.read({
    project: input.project,
    files: view.page.files.filter((file) => names.has(file.filename)),
    upstream: view.upstream,
    stale: view.stale,
  })
}
