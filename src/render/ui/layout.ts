// The page shell of the browse UI: one stylesheet and one deferred script (both same-origin,
// content-hashed), a skip link, the search box, and a footer. Nothing inline: the CSP forbids it.
import { html, type SafeHtml } from '../html.js'

/** Names of the hashed static files, relative to the UI root. */
export interface AssetNames {
  readonly css: string
  readonly js: string
  readonly icon: string
}

/** What every page gives the shell. */
export interface Shell {
  readonly title: string
  /** Relative path from the page to the UI root, e.g. '' for /-/ or '../../' for /-/project/foo/. */
  readonly root: string
  readonly assets: AssetNames
  readonly main: SafeHtml
  /** The search box's current text (search results page). */
  readonly query?: string
}

/** Render a complete UI page. */
export function renderShell(shell: Shell): string {
  const { root, assets } = shell
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>${shell.title}</title>
<link rel="icon" href="${root}static/${assets.icon}" type="image/svg+xml">
<link rel="stylesheet" href="${root}static/${assets.css}">
<script src="${root}static/${assets.js}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
<div class="wrap site-bar">
<a class="brand" href="${root}">eggserve</a>
<form class="search" role="search" action="${root}search" method="get">
<label for="q" class="visually-hidden">Search projects by name or summary</label>
<input id="q" name="q" type="search" value="${shell.query ?? ''}" placeholder="Search projects" autocomplete="off" spellcheck="false" data-suggest="${root}api/search" data-root="${root}" aria-describedby="suggest-status">
<button type="submit">Search</button>
</form>
</div>
<div class="wrap">
<p id="suggest-status" class="visually-hidden" aria-live="polite"></p>
<ul id="suggestions" class="suggestions" hidden></ul>
</div>
</header>
<main id="main" class="wrap">
${shell.main}
</main>
<footer class="site wrap">
<p>Served by eggserve. Installers read <a href="${root}../simple/">/simple/</a> (PEP 503) or the original tree at <a href="${root}../?format=text/html">/</a>.</p>
<p id="copy-status" class="visually-hidden" aria-live="polite"></p>
</footer>
</body>
</html>
`.value
}

/** A copyable command: the text in a `<pre>`, and a button the script shows and wires. */
export function copyBlock(id: string, label: string, text: string): SafeHtml {
  return html`<div class="snippet">
<p class="snippet-label" id="${id}-label">${label}</p>
<pre id="${id}" aria-labelledby="${id}-label"><code>${text}</code></pre>
<button type="button" class="copy" data-copy="${id}" hidden>Copy<span class="visually-hidden"> the ${label} command</span></button>
</div>`
}
