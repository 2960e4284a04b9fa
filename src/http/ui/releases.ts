// A project's releases for the UI's pages, as releasesOf (the JSON API's) groups them, but
// cheaper for projects with many files: each distinct version string is parsed once (to
// normalize it, and once more to sort: sortByVersion), and the
// grouping is kept per project generation, so the version pages of one project share it.
import type { PageFile, ProjectPage } from '../../core/index-model.js'
import { normalizeVersion, sortByVersion } from '../../core/versions.js'
import type { Release } from '../../render/pypi-json.js'

const MAX_PROJECTS = 256

/** Releases of project pages, remembered by project and generation. */
export class ReleaseCache {
  readonly #cache = new Map<string, { readonly generation: number; readonly releases: readonly Release[] }>()

  /** The releases of `page` (oldest first), as of `generation`. */
  releases(page: ProjectPage, generation: number): readonly Release[] {
    const cached = this.#cache.get(page.project)
    if (cached?.generation === generation) return cached.releases
    const releases = groupReleases(page)
    if (this.#cache.size >= MAX_PROJECTS) this.#cache.clear()
    this.#cache.set(page.project, { generation, releases })
    return releases
  }
}

/** The files of a page grouped by normalized version, oldest first (PEP 440 order). */
export function groupReleases(page: ProjectPage): Release[] {
  // The ten wheels of one release share their version string: normalize each string once.
  const normalized = new Map<string, string>()
  const byVersion = new Map<string, PageFile[]>()
  for (const file of page.files) {
    const raw = file.file.parsed.version
    let version = normalized.get(raw)
    if (version === undefined) {
      version = normalizeVersion(raw)
      normalized.set(raw, version)
    }
    const list = byVersion.get(version)
    if (list === undefined) byVersion.set(version, [file])
    else list.push(file)
  }
  return sortByVersion(byVersion, ([version]) => version).map(([version, files]) => ({
    version,
    files,
    yanked: files.every((file) => file.file.yanked !== undefined),
  }))
}
