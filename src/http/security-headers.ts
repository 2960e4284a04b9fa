// Headers that stop a browser from reading a response as something it is not, as PyPI's
// Warehouse sends them: X-Content-Type-Options on everything, a Content-Security-Policy on pages.

/** Every response: no MIME sniffing (a wheel or a text error is never run as a script or page). */
export const NOSNIFF = 'nosniff'

/**
 * The pages are plain link lists: no script, no style, no image, no form, no frame and no
 * base URL, so the policy allows nothing at all (CSP Level 3: `default-src 'none'` covers every
 * fetch; `base-uri`, `form-action` and `frame-ancestors` do not fall back to it).
 */
export const PAGE_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
