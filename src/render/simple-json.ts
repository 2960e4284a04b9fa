// PEP 691 JSON (with PEP 700 and 714) for both trees, from the same model as the HTML.
import type { DistFile, PageFile, ProjectPage, ProjectSummary } from '../core/index-model.js'
import { compareVersions, normalizeVersion } from '../core/versions.js'
import type { Tree } from './trees.js'

/** API version declared in `meta` (1.1: PEP 700's versions, size and upload-time). */
export const JSON_API_VERSION = '1.1'

/** `/simple/` as JSON: `projects[].name` is the folder name (PEP 691). */
export function renderRootJson(projects: readonly ProjectSummary[]): string {
  return JSON.stringify({
    meta: { 'api-version': JSON_API_VERSION },
    projects: projects.map(({ folder }) => ({ name: folder })),
  })
}

/** A project page as JSON. No key ever holds null where uv rejects one (PEP 691). */
export function renderProjectJson(page: ProjectPage, tree: Tree): string {
  return JSON.stringify({
    meta: { 'api-version': JSON_API_VERSION },
    name: page.project,
    versions: projectVersions(page.files.map(({ file }) => file)),
    files: page.files.map((file) => fileJson(file, tree)),
  })
}

/** The distinct versions of the files, PEP 440-normalized where valid, in PEP 440 order (PEP 700). */
export function projectVersions(files: readonly DistFile[]): string[] {
  return [...new Set(files.map((file) => normalizeVersion(file.parsed.version)))].sort(compareVersions)
}

function fileJson({ file, facts }: PageFile, tree: Tree): Record<string, unknown> {
  // PEP 691: hashes always present, md5 and sha256 from the same read; url without a fragment.
  const hashes: Record<string, string> = {}
  if (facts.digests.md5 !== undefined) hashes.md5 = facts.digests.md5
  if (facts.digests.sha256 !== undefined) hashes.sha256 = facts.digests.sha256
  const json: Record<string, unknown> = {
    filename: file.filename,
    url: tree.fileHref(file),
    hashes,
    size: file.size,
    // PEP 700: UTC with Z; toISOString's three fraction digits are accepted by every client.
    'upload-time': new Date(file.mtimeMs).toISOString(),
    // PEP 691: false, true, or a non-empty reason.
    yanked: file.yanked === undefined ? false : file.yanked === '' ? true : file.yanked,
  }
  if (facts.metadata?.requiresPython !== undefined) json['requires-python'] = facts.metadata.requiresPython
  if (file.parsed.kind === 'wheel' && facts.metadata !== undefined) {
    // PEP 714: core-metadata, plus PyPI's historical "data-dist-info-metadata"; never "dist-info-metadata".
    json['core-metadata'] = { sha256: facts.metadata.sha256 }
    json['data-dist-info-metadata'] = { sha256: facts.metadata.sha256 }
  }
  return json
}
