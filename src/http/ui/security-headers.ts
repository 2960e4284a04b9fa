// Response headers of every browse UI response: a strict Content-Security-Policy (no inline
// script or style, nothing from other origins, unless remote README images are allowed),
// no MIME sniffing, no referrer, no framing.
import type { FastifyReply } from 'fastify'

/** The CSP of UI pages (CSP Level 3). `connect-src 'self'` is for the search-as-you-type requests. */
export function contentSecurityPolicy(remoteImages: boolean): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self'${remoteImages ? ' https: http:' : ''}`,
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

/** Set the UI's security headers on a reply. */
export function setSecurityHeaders(reply: FastifyReply, csp: string): FastifyReply {
  return reply.headers({
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  })
}
