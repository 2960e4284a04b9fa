// The browse UI's home page (the project list with search and recent uploads) and search results.
import { html, type SafeHtml } from '../html.js'
import { dateElement, projectHref, timeElement } from './format.js'
import { copyBlock, renderShell, type AssetNames } from './layout.js'

/** A project as listed: latest version, summary (when read) and last upload. */
export interface ProjectRow {
  readonly project: string
  readonly folder: string
  readonly version: string | undefined
  readonly summary: string | undefined
  readonly lastUploadMs: number
  /** The label of the upstream whose cached page lists it (its URL without credentials); absent for local projects. */
  readonly origin?: string
}

/** A recent upload. */
export interface RecentUpload {
  readonly project: string
  readonly filename: string
  readonly version: string
  readonly mtimeMs: number
}

/** The home page's model. */
export interface HomeView {
  readonly assets: AssetNames
  /** The PEP 503 index URL installers should use. */
  readonly indexUrl: string
  readonly total: number
  readonly rows: readonly ProjectRow[]
  readonly page: number
  readonly pages: number
  readonly sort: 'name' | 'updated'
  readonly recent: readonly RecentUpload[]
  /** True while summaries are still being read after a start. */
  readonly loading: boolean
  /** How many of the projects come from upstreams' cached pages. */
  readonly fromUpstreams?: number
}

/** Render /-/. */
export function renderHome(view: HomeView): string {
  const main = html`<h1>Package index</h1>
<p class="lead">${view.total === 1 ? '1 project' : `${view.total} projects`} on this index.${fromUpstreamsNote(view.fromUpstreams ?? 0)}${view.loading ? ' Summaries are still being read; reload in a moment.' : ''}</p>
<section aria-labelledby="use-heading" class="panel">
<h2 id="use-heading">Install from this index</h2>
${copyBlock('use-pip', 'pip', `pip install --index-url ${view.indexUrl} PROJECT`)}
${copyBlock('use-conf', 'pip.conf', `[global]\nindex-url = ${view.indexUrl}`)}
</section>
<div class="home-grid">
<section aria-labelledby="projects-heading">
<h2 id="projects-heading">Projects</h2>
<nav aria-label="Sort projects" class="sorts">Sort by: ${sortLink(view, 'name', 'name')} · ${sortLink(view, 'updated', 'last upload')}</nav>
${projectTable(view.rows, '')}
${pager(view)}
</section>
<section aria-labelledby="recent-heading">
<h2 id="recent-heading">Recent uploads</h2>
${
  view.recent.length === 0
    ? html`<p>No files yet.</p>`
    : html`<ol class="recent">${view.recent.map(
        (upload) => html`
<li><a href="${projectHref('', upload.project, upload.version)}">${upload.project} ${upload.version}</a><br><span class="muted">${upload.filename}</span><br>${timeElement(upload.mtimeMs)}</li>`,
      )}
</ol>`
}
</section>
</div>`
  return renderShell({ title: 'eggserve: package index', root: '', assets: view.assets, main })
}

/** The search results page's model. */
export interface SearchView {
  readonly assets: AssetNames
  readonly query: string
  readonly rows: readonly ProjectRow[]
  readonly total: number
}

/** Render /-/search?q=… (the search that works without JavaScript). */
export function renderSearch(view: SearchView): string {
  const heading = view.query === '' ? 'Search' : `Search results for “${view.query}”`
  const count = view.total === view.rows.length ? `${view.total}` : `${view.rows.length} of ${view.total}`
  const main = html`<h1>${heading}</h1>
${
  view.query === ''
    ? html`<p>Type a project name or words of its summary.</p>`
    : html`<p class="lead">${count} ${view.total === 1 ? 'project' : 'projects'} found.</p>
${view.rows.length === 0 ? html`` : projectTable(view.rows, '')}`
}`
  return renderShell({ title: `${heading} · eggserve`, root: '', assets: view.assets, main, query: view.query })
}

/** The not-found page of the UI. */
export function renderNotFound(assets: AssetNames, root: string, what: string): string {
  return renderMessage(assets, root, { heading: 'Not found', what })
}

/** A page that says one thing (a 404, a 503), with a link back to the project list. */
export function renderMessage(
  assets: AssetNames,
  root: string,
  { heading, what }: { readonly heading: string; readonly what: string },
): string {
  return renderShell({
    title: `${heading} · eggserve`,
    root,
    assets,
    main: html`<h1>${heading}</h1><p>${what}</p><p><a href="${root}">All projects</a></p>`,
  })
}

function projectTable(rows: readonly ProjectRow[], root: string): SafeHtml {
  return html`<table class="projects">
<thead><tr><th scope="col">Project</th><th scope="col">Latest</th><th scope="col">Summary</th><th scope="col">Last upload</th></tr></thead>
<tbody>${rows.map(
    (row) => html`
<tr${row.origin === undefined ? html`` : html` data-eggserve-origin="upstream"`}><th scope="row"><a href="${projectHref(root, row.project)}">${row.folder}</a>${row.origin === undefined ? html`` : html`<span class="origin muted">upstream <code>${row.origin}</code></span>`}</th><td>${row.version ?? ''}</td><td>${row.summary ?? ''}</td><td>${dateElement(row.lastUploadMs)}</td></tr>`,
  )}
</tbody>
</table>`
}

// Upstream projects are listed once this index has cached their page (docs/ui.md, "Upstream projects").
function fromUpstreamsNote(count: number): string {
  if (count === 0) return ''
  return count === 1
    ? ' 1 of them comes from an upstream index (its page is cached here).'
    : ` ${count} of them come from upstream indexes (their pages are cached here).`
}

function sortLink(view: HomeView, sort: HomeView['sort'], label: string): SafeHtml {
  return view.sort === sort
    ? html`<strong aria-current="true">${label}</strong>`
    : html`<a href="?sort=${sort}">${label}</a>`
}

function pager(view: HomeView): SafeHtml {
  if (view.pages <= 1) return html``
  const href = (page: number): string => `?sort=${view.sort}&page=${page}`
  return html`<nav aria-label="Pages" class="pager">
${view.page > 1 ? html`<a href="${href(view.page - 1)}" rel="prev">Previous</a>` : html``}
<span>Page ${view.page} of ${view.pages}</span>
${view.page < view.pages ? html`<a href="${href(view.page + 1)}" rel="next">Next</a>` : html``}
</nav>`
}
