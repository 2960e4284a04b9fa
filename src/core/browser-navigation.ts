// Telling a person's browser opening a page from an installer reading it, so that `/` can send
// people to the browse UI while pip, uv, poetry, pdm and easy_install keep getting the exact
// bytes of the original root page.

/** The request headers the decision reads (lowercase names, as Node gives them). */
export interface NavigationHeaders {
  readonly accept?: string | undefined
  readonly 'user-agent'?: string | undefined
  readonly 'upgrade-insecure-requests'?: string | string[] | undefined
  readonly 'sec-fetch-dest'?: string | string[] | undefined
  readonly 'sec-fetch-mode'?: string | string[] | undefined
}

// User agents of the clients that read index pages: pip ("pip/23.0.1 {...}"), uv ("uv/0.4"),
// poetry ("poetry/1.3.2", or python-requests' own), pdm (unearth: "pdm/2.2.1"), easy_install
// (setuptools' package_index: "setuptools/41.2.0 Python-urllib/2.7"), and the usual HTTP
// libraries. None of them sends the navigation headers below either; this is a second fence.
const INSTALLER_AGENT =
  /^(pip|uv|poetry|pdm|setuptools|twine|python-requests|python-urllib|python-httpx|aiohttp|unearth|micropip|curl|wget)\b/i

/**
 * True for a top-level navigation by a web browser that wants HTML. Browsers mark
 * navigations with `Upgrade-Insecure-Requests: 1` (Upgrade Insecure Requests, §3.2.1,
 * sent on every navigation, over http too) and, on secure origins, with
 * `Sec-Fetch-Mode: navigate` + `Sec-Fetch-Dest: document` (Fetch Metadata Request Headers).
 * Package installers send neither, and fetch() calls from pages (micropip) are not navigations.
 * @example isBrowserNavigation({ accept: 'text/html,*\/*;q=0.8', 'upgrade-insecure-requests': '1' }) // true
 */
export function isBrowserNavigation(headers: NavigationHeaders): boolean {
  const navigates =
    first(headers['upgrade-insecure-requests']) === '1' ||
    (first(headers['sec-fetch-mode']) === 'navigate' && first(headers['sec-fetch-dest']) === 'document')
  if (!navigates) return false
  const agent = headers['user-agent'] ?? ''
  if (INSTALLER_AGENT.test(agent)) return false
  // Browsers put text/html first in Accept on navigations; an installer never asks that way.
  return /^\s*text\/html\s*(,|;|$)/i.test(headers.accept ?? '')
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
