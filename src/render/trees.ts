// The two URL trees over one model: the original server's (/, /<folder>/) and PEP 503's
// (/simple/, /simple/<project>/, /packages/<folder>/<file>). Hrefs are page-relative, so the
// server also works behind a reverse proxy that mounts it under a path prefix.
import type { DistFile, ProjectSummary } from '../core/index-model.js'

/** How one tree spells its links. */
export interface Tree {
  /** Href of a project page, relative to the root page. */
  projectHref(project: ProjectSummary): string
  /** Href of a file (no fragment), relative to its project page. */
  fileHref(file: DistFile): string
  /** Href of an upstream project's file (no fragment), relative to the project's page (docs/upstream.md). */
  upstreamFileHref(project: string, filename: string): string
  /** The name a project's page is found under in this tree: the folder, or the normalized name. */
  pageName(project: ProjectSummary): string
}

/**
 * Percent-encode one path segment. Beyond encodeURIComponent, `!'()*` are encoded too, so
 * no href carries a quote that easy_install's href-scraping regex would stop at (setuptools' package_index HREF regex).
 */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** The original server's tree: `/<folder>/` pages link their files by bare (encoded) filename. */
export const LEGACY_TREE: Tree = {
  projectHref: ({ folder }) => `${encodeSegment(folder)}/`,
  fileHref: (file) => encodeSegment(file.filename),
  // Beside the local files' shape: /<project>/<file> downloads through the upstream path too.
  upstreamFileHref: (_project, filename) => encodeSegment(filename),
  pageName: ({ folder }) => folder,
}

/** PEP 503's tree: project pages at the normalized name, files under /packages/<folder>/. */
export const SIMPLE_TREE: Tree = {
  projectHref: ({ project }) => `${project}/`,
  fileHref: (file) => `../../packages/${encodeSegment(file.folder)}/${encodeSegment(file.filename)}`,
  upstreamFileHref: (project, filename) => `../../files/upstream/${encodeSegment(project)}/${encodeSegment(filename)}`,
  pageName: ({ project }) => project,
}
