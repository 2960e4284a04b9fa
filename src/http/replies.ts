// The redirect the route plugins share.
import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * 301 to a page-relative location, keeping the query string (PEP 503: the normalized URL, with
 * its trailing slash). Relative locations (RFC 9110 §10.2.2) keep redirects right behind a
 * proxy that adds a path prefix. No Vary: the redirect is the same whatever Accept and
 * Accept-Encoding say, and RFC 9110 §12.5.5 lists only what selected the response, so every
 * cache (pip's, a CDN that refuses to store responses varying on Accept) keeps one copy.
 */
export function redirect(request: FastifyRequest, reply: FastifyReply, location: string): FastifyReply {
  const query = request.url.indexOf('?')
  return reply
    .code(301)
    .header('location', query < 0 ? location : location + request.url.slice(query))
    .send()
}
