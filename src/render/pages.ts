// The two page shapes every tree uses: a list of projects and a list of files (PEP 503 HTML).
import { html, type SafeHtml } from './html.js'

/** A link on a page; attribute values are escaped, and so are href and text. */
export interface PageLink {
  readonly href: string
  readonly text: string
  readonly attributes?: Readonly<Record<string, string>>
}

/** A page of links. */
export interface LinkPage {
  readonly title: string
  readonly links: readonly PageLink[]
}

// The repository version this HTML declares (PEP 629): the API version served, 1.1 (PEP 700).
const REPOSITORY_VERSION = '1.1'

/**
 * Render a page of links. It starts with the exact bytes `<!DOCTYPE html>` (pip 22.0.x
 * fails without them: its index/collector.py raised BadHTMLDoctypeDeclaration) and carries `pypi:repository-version` (PEP 629).
 */
export function renderLinkPage(page: LinkPage): string {
  const links = page.links.map(
    (link) => html`    <a href="${link.href}"${attributes(link.attributes)}>${link.text}</a><br>
`,
  )
  return html`<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <meta name="pypi:repository-version" content="${REPOSITORY_VERSION}">
    <title>${page.title}</title>
  </head>
  <body>
    <h1>${page.title}</h1>
${links}  </body>
</html>
`.value
}

function attributes(attrs: Readonly<Record<string, string>> | undefined): SafeHtml {
  if (attrs === undefined) return html``
  // PEP 592 and PEP 714: always name=value, never a bare attribute (html.parser reads a bare one as None).
  return html`${Object.entries(attrs).map(([name, value]) => html` ${name}="${value}"`)}`
}
