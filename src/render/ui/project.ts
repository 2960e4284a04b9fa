// The browse UI's project page: one release (the latest, or the one in the URL) with its README,
// metadata, install commands and files, and the project's release history.
import type { ProjectDetails } from '../../core/project-details.js'
import { formatBytes } from '../../core/bytes.js'
import type { WheelTags } from '../../core/wheel-tags.js'
import type { RenderedReadme } from '../rendered-readme.js'
import { html, SafeHtml } from '../html.js'
import { dateElement, projectHref, timeElement } from './format.js'
import { copyBlock, renderShell, type AssetNames } from './layout.js'

/** A file of the release shown. */
export interface FileView {
  readonly filename: string
  /** Download href, relative to the page. */
  readonly href: string
  /** PEP 658 metadata href, for wheels whose metadata was read. */
  readonly metadataHref?: string
  readonly kind: 'wheel' | 'sdist' | 'egg'
  /** Bytes; unknown for an upstream file whose page gives no size (PEP 700 is optional). */
  readonly size?: number
  /** Upload time: the file's modification time (PEP 700's upload-time, as the JSON APIs give it); 0 when unknown. */
  readonly mtimeMs: number
  readonly sha256?: string
  readonly tags?: WheelTags
  readonly requiresPython?: string
  /** The yank reason ('' for none) when yanked. */
  readonly yanked?: string
  /** Who uploaded it, when eggserve recorded it. */
  readonly uploader?: string
  /** Where it comes from, when upstreams are configured: the eggdir, or an upstream by its label (its URL without credentials). */
  readonly origin?: { readonly kind: 'local' | 'upstream'; readonly label: string }
}

/** A release in the history. */
export interface ReleaseView {
  readonly version: string
  /** Earliest upload of its files. */
  readonly dateMs: number
  readonly yanked: boolean
  readonly yankReason?: string
}

/** The project page's model. */
export interface ProjectView {
  readonly assets: AssetNames
  /** Relative path to the UI root. */
  readonly root: string
  readonly project: string
  /** The name to show: the metadata's Name, else the folder. */
  readonly name: string
  readonly version: string
  readonly latest: string
  readonly indexUrl: string
  readonly details: ProjectDetails | undefined
  readonly readme: RenderedReadme | undefined
  readonly files: readonly FileView[]
  /** Newest first; possibly only the newest ones (see totalReleases). */
  readonly releases: readonly ReleaseView[]
  readonly totalReleases: number
  /** The release shown is yanked: its reason ('' for none). */
  readonly yanked?: string
  /** Why there is no metadata, when `details` is undefined and the usual reason is not the right one. */
  readonly noMetadata?: string
}

/** Where the README sits in the page, so its size can be told from the rest (tests measure both). */
export const README_START = '<!-- readme -->'
export const README_END = '<!-- /readme -->'

/** Render /-/project/<name>/ or /-/project/<name>/<version>/. */
export function renderProject(view: ProjectView): string {
  const { details } = view
  const isLatest = view.version === view.latest
  const pin = isLatest ? view.project : `${view.project}==${view.version}`
  const main = html`<div class="project-header">
<h1>${view.name} <span class="version">${view.version}</span></h1>
${details?.summary === undefined ? html`` : html`<p class="lead">${details.summary}</p>`}
${isLatest ? html`<p class="badge">Latest version</p>` : html`<p class="notice">This is not the latest version. <a href="${projectHref(view.root, view.project)}">The latest is ${view.latest}</a>.</p>`}
${view.yanked === undefined ? html`` : html`<p class="notice yanked" role="note"><strong>Yanked.</strong> ${view.yanked === '' ? 'No reason was given.' : `Reason: ${view.yanked}`} Installers skip this release unless it is pinned with ==.</p>`}
</div>
<nav aria-label="On this page" class="toc"><a href="#install">Install</a> · <a href="#description">Description</a> · <a href="#files">Files</a> · <a href="#history">Release history</a></nav>
<div class="project-grid">
<div class="project-main">
<section id="install" aria-labelledby="install-heading" class="panel">
<h2 id="install-heading">Install</h2>
${copyBlock('install-pip', 'pip', `pip install --index-url ${view.indexUrl} ${pin}`)}
${copyBlock('install-uv', 'uv', `uv pip install --index-url ${view.indexUrl} ${pin}`)}
${copyBlock('install-poetry', 'poetry', `poetry source add --priority=supplemental eggserve ${view.indexUrl}\npoetry add --source eggserve ${isLatest ? view.project : `${view.project}@${view.version}`}`)}
</section>
<section id="description" aria-labelledby="description-heading">
<h2 id="description-heading">Description</h2>
${readme(view.readme)}
</section>
<section id="files" aria-labelledby="files-heading">
<h2 id="files-heading">Files for ${view.project} ${view.version}</h2>
${view.files.map((file) => fileCard(file))}
</section>
<section id="history" aria-labelledby="history-heading">
<h2 id="history-heading">Release history</h2>
${history(view)}
</section>
</div>
${sidebar(view)}
</div>`
  return renderShell({ title: `${view.name} ${view.version} · eggserve`, root: view.root, assets: view.assets, main })
}

function readme(rendered: RenderedReadme | undefined): SafeHtml {
  if (rendered === undefined) return html`<p>This release has no description.</p>`
  const note = rendered.note === undefined ? html`` : html`<p class="notice">${rendered.note}</p>`
  // The README is sanitized HTML (src/readme/sanitize.ts): the one place raw markup enters a page.
  return html`${note}<div class="readme">${new SafeHtml(README_START)}${new SafeHtml(rendered.html)}${new SafeHtml(README_END)}</div>`
}

function fileCard(file: FileView): SafeHtml {
  return html`<article class="file" aria-label="${file.filename}"${file.origin === undefined ? html`` : html` data-eggserve-origin="${file.origin.kind}"`}>
<h3><a href="${file.href}" download>${file.filename}</a>${file.yanked === undefined ? html`` : html` <span class="badge yanked">yanked</span>`}</h3>
<dl class="facts">
<dt>Type</dt><dd>${KIND_NAMES[file.kind]}</dd>
<dt>Size</dt><dd>${file.size === undefined ? 'unknown' : html`${formatBytes(file.size)} <span class="muted">(${file.size} bytes)</span>`}</dd>
${file.origin === undefined ? html`` : html`<dt>Origin</dt><dd>${file.origin.kind === 'local' ? file.origin.label : html`upstream <code>${file.origin.label}</code>`}</dd>`}
<dt>Uploaded</dt><dd>${timeElement(file.mtimeMs)}${file.uploader === undefined ? html`` : html` by ${file.uploader}`}</dd>
${file.tags === undefined ? html`` : tags(file.tags)}
${file.requiresPython === undefined ? html`` : html`<dt>Requires Python</dt><dd><code>${file.requiresPython}</code></dd>`}
${file.sha256 === undefined ? html`` : html`<dt>SHA256</dt><dd><code class="hash">${file.sha256}</code></dd>`}
${file.yanked === undefined || file.yanked === '' ? html`` : html`<dt>Yank reason</dt><dd>${file.yanked}</dd>`}
${file.metadataHref === undefined ? html`` : html`<dt>Metadata</dt><dd><a href="${file.metadataHref}">METADATA</a> (PEP 658)</dd>`}
</dl>
</article>`
}

const KIND_NAMES = {
  wheel: 'Wheel (built distribution)',
  sdist: 'Source distribution',
  egg: 'Egg (legacy built distribution)',
} as const

function tags(decoded: WheelTags): SafeHtml {
  return html`<dt>Python</dt><dd>${decoded.python.join(', ')}</dd><dt>ABI</dt><dd>${decoded.abi.join(', ')}</dd><dt>Platform</dt><dd>${decoded.platform.join(', ')}</dd>`
}

function history(view: ProjectView): SafeHtml {
  const more =
    view.totalReleases > view.releases.length
      ? html`<p><a href="?releases=all">Show all ${view.totalReleases} releases</a></p>`
      : html``
  return html`<ol class="releases" reversed>${view.releases.map(
    (release) => html`
<li${release.version === view.version ? html` aria-current="page"` : html``}><a href="${projectHref(view.root, view.project, release.version)}">${release.version}</a> ${dateElement(release.dateMs)}${release.yanked ? html` <span class="badge yanked">yanked</span>${release.yankReason === undefined || release.yankReason === '' ? html`` : html` <span class="muted">${release.yankReason}</span>`}` : html``}</li>`,
  )}
</ol>${more}`
}

function sidebar(view: ProjectView): SafeHtml {
  const details = view.details
  if (details === undefined)
    return html`<aside class="project-aside" aria-label="Metadata"><p>${view.noMetadata ?? "No metadata could be read from this release's files."}</p></aside>`
  const facts: [string, SafeHtml | string | undefined][] = [
    ['License', details.license],
    [
      'Requires Python',
      details.requiresPython === undefined ? undefined : html`<code>${details.requiresPython}</code>`,
    ],
    ['Author', details.author],
    ['Maintainer', details.maintainer],
    ['Keywords', details.keywords],
    ['Extras', details.providesExtra.length === 0 ? undefined : details.providesExtra.join(', ')],
  ]
  const meta = facts.filter((fact): fact is [string, SafeHtml | string] => fact[1] !== undefined)
  return html`<aside class="project-aside" aria-label="Metadata">
${details.links.length === 0 ? html`` : html`<h2>Project links</h2><ul class="plain">${details.links.map((link) => html`<li><a href="${link.url}" rel="nofollow noopener">${link.label}</a></li>`)}</ul>`}
${meta.length === 0 ? html`` : html`<h2>Meta</h2><dl class="facts">${meta.map(([term, value]) => html`<dt>${term}</dt><dd>${value}</dd>`)}</dl>`}
${details.requiresDist.length === 0 ? html`` : html`<h2>Requirements</h2><ul class="plain requirements">${details.requiresDist.map((requirement) => html`<li><code>${requirement}</code></li>`)}</ul>`}
${details.classifiers.length === 0 ? html`` : html`<h2>Classifiers</h2><ul class="plain classifiers">${details.classifiers.map((classifier) => html`<li>${classifier}</li>`)}</ul>`}
</aside>`
}
