// Small reply helpers shared by the route plugins.
import type { FastifyReply, FastifyRequest } from 'fastify'

/** Send an HTML page (the charset in the header: easy_install's package_index decodes as latin-1 without it). */
export function sendHtml (reply: FastifyReply, body: string): FastifyReply {
  return reply.type('text/html; charset=utf-8').send(body)
}

/**
 * 301 to a page-relative location, keeping the query string (PEP 503: the normalized URL, with
 * its trailing slash). Relative locations (RFC 9110 §10.2.2) keep redirects right behind a
 * proxy that adds a path prefix. No Vary: the redirect is the same whatever Accept and
 * Accept-Encoding say, and RFC 9110 §12.5.5 lists only what selected the response, so every
 * cache (pip's, a CDN that refuses to store responses varying on Accept) keeps one copy.
 */
export function redirect (request: FastifyRequest, reply: FastifyReply, location: string): FastifyReply {
  const query = request.url.indexOf('?')
  return reply.code(301).header('location', query < 0 ? location : location + request.url.slice(query)).send()
}
