// CORS on the read endpoints, as PyPI does, so browser clients such as
// pyodide's micropip can read pages, metadata and files. No credentials are ever allowed.
import type { FastifyReply, FastifyRequest } from 'fastify'

const HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD',
  'access-control-allow-headers':
    'Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since, Range',
  'access-control-expose-headers': 'Content-Length, Content-Range, ETag, Last-Modified',
  'access-control-max-age': '86400',
} as const

/**
 * Add CORS headers to GET/HEAD responses to browsers (requests with Origin) and answer preflight
 * requests with 204. Returns true when it answered (a preflight). Called from the request
 * guard's onRequest hook (request-guard.ts), so that every request meets one hook, not two.
 */
export function applyCors(request: FastifyRequest, reply: FastifyReply): boolean {
  const method = request.method
  // Only browsers make CORS requests, and they always send Origin: pip, uv and the rest get
  // no extra headers.
  if (method === 'GET' || method === 'HEAD') {
    if (request.headers.origin !== undefined) {
      reply.header('access-control-allow-origin', HEADERS['access-control-allow-origin'])
      reply.header('access-control-expose-headers', HEADERS['access-control-expose-headers'])
    }
    return false
  }
  if (method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
    // A preflight: only reads are offered. Replying ends the request here.
    void reply.code(204).headers(HEADERS).send()
    return true
  }
  return false
}
