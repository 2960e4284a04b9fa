// The edge: every error becomes a short text/plain answer; 5xx details stay in the log.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, RequestRejected, StoreFailure } from '../errors.js'
import { drainBeforeReply, reasonPhrase } from './early-close.js'
import { NOSNIFF } from './security-headers.js'

const READ_METHODS = 'GET, HEAD'

/** Install the error and not-found handlers. */
export function registerErrorHandling (app: FastifyInstance): void {
  app.setErrorHandler(async (err: FastifyError | AppError, request, reply) => {
    const status = err.statusCode ?? 500
    // A refused upload is answered once the rest of its body has been read (or after a while).
    await drainBeforeReply(request, reply)
    if (err instanceof RequestRejected || err instanceof StoreFailure) reply.headers(err.headers)
    const exposed = err instanceof AppError && err.expose
    if (status >= 500 && !exposed) {
      request.log.error({ err }, 'Request failed')
      // Masked: a filesystem error message could carry an absolute path (style pitfall 5).
      return reply.code(500).type('text/plain; charset=utf-8').send('Internal Server Error\n')
    }
    if (status >= 500) request.log.error({ err }, 'Request failed')
    // Our messages name no server path; so do Fastify's for bad requests. Checklist U-9: twine,
    // poetry and pdm show the reason phrase, so it carries the message too.
    if (err instanceof AppError) reply.raw.statusMessage = reasonPhrase(err.message)
    return reply.code(status).type('text/plain; charset=utf-8').send(`${err.message}\n`)
  })

  app.setNotFoundHandler((request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return reply.code(405).header('allow', READ_METHODS).type('text/plain; charset=utf-8').send('Method Not Allowed\n')
    }
    return reply.code(404).type('text/plain; charset=utf-8').send('Not Found\n')
  })
}

/**
 * Fastify's `frameworkErrors` option: a URL that cannot be percent-decoded (FST_ERR_BAD_URL)
 * gets the same plain-text shape as every other error. These requests never reach the
 * route hooks, so they are logged here.
 */
export function frameworkErrors (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode !== undefined && err.statusCode < 500 ? err.statusCode : 400
  request.log.info({ remoteAddress: request.ip, method: request.method, url: request.url, statusCode: status, code: err.code }, 'request')
  void reply.code(status).header('x-content-type-options', NOSNIFF).type('text/plain; charset=utf-8').send('Bad Request: the URL is not valid\n')
}
