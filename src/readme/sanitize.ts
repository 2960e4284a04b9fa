// The README sanitizer: the allowlist of PyPI's readme_renderer (readme_renderer/clean.py,
// version 37.3 as packaged by Debian), applied with sanitize-html, plus the rules of this page:
// only http, https and mailto links (with rel="nofollow noopener"), in-page anchors and ids
// prefixed so a README can never clobber the page's own elements, and remote images only
// when the operator allows them.
import sanitizeHtml from 'sanitize-html'

/** How README HTML is cleaned. */
export interface SanitizeOptions {
  /** Keep `<img>` with http(s) sources (`--ui-remote-images`); otherwise images become their alt text. */
  readonly remoteImages: boolean
}

/** Prefix of every id in a README (docutils' and GitHub's convention), so no id can be one of the page's. */
export const ID_PREFIX = 'user-content-'

// readme_renderer's ALLOWED_TAGS.
const TAGS = [
  'a',
  'abbr',
  'acronym',
  'b',
  'blockquote',
  'code',
  'em',
  'i',
  'li',
  'ol',
  'strong',
  'ul',
  'br',
  'caption',
  'cite',
  'col',
  'colgroup',
  'dd',
  'del',
  'details',
  'div',
  'dl',
  'dt',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'img',
  'p',
  'pre',
  'span',
  'sub',
  'summary',
  'sup',
  'table',
  'tbody',
  'td',
  'th',
  'thead',
  'tr',
  'tt',
  'kbd',
  'var',
  'input',
  'section',
  'aside',
  'nav',
  's',
  'figure',
]

// readme_renderer's ALLOWED_ATTRIBUTES, plus the rel this page sets on links itself.
const ATTRIBUTES: Record<string, string[]> = {
  '*': ['id'],
  a: ['href', 'title', 'rel'],
  abbr: ['title'],
  acronym: ['title'],
  hr: ['class'],
  img: ['src', 'width', 'height', 'alt', 'align', 'class'],
  span: ['class'],
  th: ['align', 'class'],
  td: ['align', 'colspan', 'rowspan'],
  div: ['align', 'class'],
  h1: ['align'],
  h2: ['align'],
  h3: ['align'],
  h4: ['align'],
  h5: ['align'],
  h6: ['align'],
  code: ['class'],
  p: ['align', 'class'],
  pre: ['lang'],
  ol: ['start'],
  input: ['type', 'checked', 'disabled'],
  aside: ['class'],
  dd: ['class'],
  dl: ['class'],
  dt: ['class'],
  ul: ['class'],
  nav: ['class'],
  figure: ['class'],
}

// readme_renderer: url_schemes http, https, mailto; link_rel "nofollow" (noopener added here).
const LINK_SCHEMES = ['http', 'https', 'mailto']
const LINK_REL = 'nofollow noopener'

type Attributes = Record<string, string>

/** Clean README HTML (from markdown-it or from readme_renderer) for this page. */
export function sanitizeReadme(html: string, options: SanitizeOptions): string {
  return sanitizeHtml(html, {
    allowedTags: TAGS,
    allowedAttributes: ATTRIBUTES,
    allowedSchemes: LINK_SCHEMES,
    allowedSchemesByTag: { img: options.remoteImages ? ['http', 'https'] : [] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    // The default, and the mode fixed for GHSA-rpr9-rxv7-x643 (CVE-2026-44990, the <xmp> bypass) in 2.17.4:
    // disallowed tags go, and the content of script, style, textarea, xmp and the like with them.
    disallowedTagsMode: 'discard',
    transformTags: {
      a: (tagName: string, attribs: Attributes) => ({ tagName, attribs: link(attribs) }),
      img: (_tagName: string, attribs: Attributes) => image(attribs, options),
      input: (tagName: string, attribs: Attributes) => ({ tagName, attribs: { ...attribs, disabled: '' } }),
      // Runs after the tag's own transform (sanitize-html applies both).
      '*': (tagName: string, attribs: Attributes) => ({
        tagName,
        attribs: attribs.id === undefined ? attribs : { ...attribs, id: prefixed(attribs.id) },
      }),
    },
    // A checkbox is the only input a README may show (readme_renderer's DisabledCheckboxInputsFilter).
    exclusiveFilter: (frame) => frame.tag === 'input' && frame.attribs.type !== 'checkbox',
  })
}

function prefixed(id: string): string {
  return id.startsWith(ID_PREFIX) ? id : `${ID_PREFIX}${id}`
}

// In-page anchors follow the prefixed ids; absolute web and mail links are kept with their
// rel; relative links (to files of the project's repository) cannot resolve here and lose their href.
function link(attribs: Attributes): Attributes {
  const href = attribs.href?.trim()
  const rest = { ...attribs }
  delete rest.href
  delete rest.rel
  if (href === undefined || href === '') return rest
  if (href.startsWith('#')) return href.length > 1 ? { ...rest, href: `#${prefixed(href.slice(1))}` } : rest
  const scheme = schemeOf(href)
  if (scheme === undefined || !LINK_SCHEMES.includes(scheme)) return rest
  return { ...rest, href, rel: LINK_REL }
}

// An image is kept only when remote images are allowed and its URL is http(s); otherwise it
// becomes its alt text, so the README still reads the same.
function image(attribs: Attributes, options: SanitizeOptions): { tagName: string; attribs: Attributes; text?: string } {
  const scheme = attribs.src === undefined ? undefined : schemeOf(attribs.src.trim())
  if (options.remoteImages && (scheme === 'http' || scheme === 'https'))
    return { tagName: 'img', attribs: { ...attribs, src: (attribs.src ?? '').trim() } }
  const alt = attribs.alt?.trim() ?? ''
  return { tagName: 'span', attribs: { class: 'readme-image' }, text: alt === '' ? '[image]' : `[image: ${alt}]` }
}

// The WHATWG URL parser's reading of the scheme (it drops tabs and newlines, so "jav\tascript:" is javascript:).
function schemeOf(url: string): string | undefined {
  try {
    return new URL(url).protocol.slice(0, -1).toLowerCase()
  } catch {
    return undefined
  }
}
