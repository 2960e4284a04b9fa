// PEP 503 HTML (with PEP 592, 629, 658/714 attributes) for both trees, from the index model.
import type { HashAlgorithm } from '../core/digests.js'
import type { PageFile, ProjectPage, ProjectSummary } from '../core/index-model.js'
import { renderLinkPage, type PageLink } from './pages.js'
import type { Tree } from './trees.js'

const ROOT_TITLE = 'Simple index'

/** The root page: one link per project; the text is the folder name (PEP 503). */
export function renderRootHtml(projects: readonly ProjectSummary[], tree: Tree): string {
  return renderLinkPage({
    title: ROOT_TITLE,
    links: projects.map((project) => ({ href: tree.projectHref(project), text: project.folder })),
  })
}

/** A project page: one link per file, text = filename = last href segment (PEP 503). */
export function renderProjectHtml(page: ProjectPage, tree: Tree, algorithm: HashAlgorithm): string {
  return renderLinkPage({
    title: `Links for ${page.project}`,
    links: page.files.map((file) => fileLink(file, tree, algorithm)),
  })
}

function fileLink({ file, facts }: PageFile, tree: Tree, algorithm: HashAlgorithm): PageLink {
  const digest = facts.digests[algorithm]
  // PEP 503: exactly one fragment, with an algorithm every client knows.
  const href = digest === undefined ? tree.fileHref(file) : `${tree.fileHref(file)}#${algorithm}=${digest}`
  const attributes: Record<string, string> = {}
  // PEP 503: only when the metadata has a non-empty Requires-Python; escaped by the renderer.
  if (facts.metadata?.requiresPython !== undefined) attributes['data-requires-python'] = facts.metadata.requiresPython
  // PEP 714: both names, same value; pip 22.3-23.1 read only the old one.
  if (file.parsed.kind === 'wheel' && facts.metadata !== undefined) {
    attributes['data-dist-info-metadata'] = `sha256=${facts.metadata.sha256}`
    attributes['data-core-metadata'] = `sha256=${facts.metadata.sha256}`
  }
  // PEP 592: never a bare attribute; "" when there is no reason.
  if (file.yanked !== undefined) attributes['data-yanked'] = file.yanked
  return { href, text: file.filename, attributes }
}
