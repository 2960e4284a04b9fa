// The two URL trees over one model: the original server's (/, /<folder>/) and PEP 503's
// (/simple/, /simple/<project>/, /packages/<folder>/<file>). Hrefs are page-relative, so the
// server also works behind a reverse proxy that mounts it under a path prefix (checklist A-4).
import type { HashAlgorithm } from '../core/digests.js'
import type { HashedFile, ProjectPage, ProjectSummary } from '../core/index-model.js'
import type { LinkPage, PageLink } from './pages.js'

/**
 * Percent-encode one path segment. Beyond encodeURIComponent, `!'()*` are encoded too, so
 * no href carries a quote that easy_install's href-scraping regex would stop at (checklist P-7).
 */
export function encodeSegment (segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
}

const ROOT_TITLE = 'Simple index'

/** `GET /`: one link per project folder, as the original server listed them. */
export function legacyRootPage (projects: readonly ProjectSummary[]): LinkPage {
  return { title: ROOT_TITLE, links: projects.map(({ folder }) => ({ href: `${encodeSegment(folder)}/`, text: folder })) }
}

/** `GET /<folder>/`: the folder's files, linked relative to the page with a hash fragment. */
export function legacyProjectPage (page: ProjectPage, algorithm: HashAlgorithm): LinkPage {
  return projectLinks(page, algorithm, (file) => encodeSegment(file.file.filename))
}

/** `GET /simple/` (PEP 503): text is the folder name, href the normalized name (checklist H-2). */
export function simpleRootPage (projects: readonly ProjectSummary[]): LinkPage {
  return { title: ROOT_TITLE, links: projects.map(({ folder, project }) => ({ href: `${project}/`, text: folder })) }
}

/** `GET /simple/<project>/` (PEP 503): files live under /packages/<folder>/. */
export function simpleProjectPage (page: ProjectPage, algorithm: HashAlgorithm): LinkPage {
  return projectLinks(page, algorithm, (file) => `../../packages/${encodeSegment(file.file.folder)}/${encodeSegment(file.file.filename)}`)
}

function projectLinks (page: ProjectPage, algorithm: HashAlgorithm, path: (file: HashedFile) => string): LinkPage {
  const links = page.files.map((file): PageLink => {
    const digest = file.digests[algorithm]
    // Checklist H-4: exactly one fragment, with an algorithm every client knows.
    const href = digest === undefined ? path(file) : `${path(file)}#${algorithm}=${digest}`
    return { href, text: file.file.filename }
  })
  return { title: `Links for ${page.project}`, links }
}
