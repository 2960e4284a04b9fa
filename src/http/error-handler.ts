// The edge: every error becomes a short text/plain answer; 5xx details stay in the log.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, RequestRejected, StoreFailure } from '../errors.js'
import { drainBeforeReply, reasonPhrase } from './early-close.js'
import { notTracked } from './response-over.js'
import { NOSNIFF } from './security-headers.js'

const READ_METHODS = 'GET, HEAD'

/**
 * Route config of the PyPI JSON API's routes: their own 404 is `{"message":"Not Found"}`, as
 * PyPI answers it (Warehouse's legacy/api/json.py); any other error is answered as everywhere.
 */
export const JSON_API_ERRORS = { errorBody: 'json' } as const

/** Install the error and not-found handlers: the one place where failed requests are logged and answered. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(async (err: FastifyError | AppError, request, reply) => {
    const status = err.statusCode ?? 500
    // A refused upload is answered once the rest of its body has been read (or after a while).
    await drainBeforeReply(request, reply)
    if (err instanceof RequestRejected || err instanceof StoreFailure) reply.headers(err.headers)
    const exposed = err instanceof AppError && err.expose
    if (status >= 500 && !exposed) {
      request.log.error({ err }, 'Request failed')
      // Masked: a filesystem error message could carry an absolute path, and Fastify's
      // default handler would send a 500's message as it is.
      return reply.code(500).type('text/plain; charset=utf-8').send('Internal Server Error\n')
    }
    if (status >= 500) request.log.error({ err }, 'Request failed')
    if (err instanceof AppError && err.code === 'EGGSERVE_NOT_FOUND' && wantsJsonErrors(request)) {
      return reply
        .code(404)
        .type('application/json; charset=utf-8')
        .send(JSON.stringify({ message: err.message }))
    }
    // Our messages name no server path; so do Fastify's for bad requests. twine, poetry and pdm
    // show the reason phrase (as Warehouse's forklift fills it), so it carries the message too.
    if (err instanceof AppError) reply.raw.statusMessage = reasonPhrase(err.message)
    return reply.code(status).type('text/plain; charset=utf-8').send(`${err.message}\n`)
  })

  app.setNotFoundHandler((request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return reply
        .code(405)
        .header('allow', READ_METHODS)
        .type('text/plain; charset=utf-8')
        .send('Method Not Allowed\n')
    }
    return reply.code(404).type('text/plain; charset=utf-8').send('Not Found\n')
  })
}

function wantsJsonErrors(request: FastifyRequest): boolean {
  const config: object = request.routeOptions.config
  return 'errorBody' in config && config.errorBody === JSON_API_ERRORS.errorBody
}

/**
 * Fastify's `frameworkErrors` option: a URL that cannot be percent-decoded (FST_ERR_BAD_URL)
 * gets the same plain-text shape as every other error. These requests never reach the
 * route hooks, and Fastify reports no completion for them, so they are logged here.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  notTracked(reply)
  const status = err.statusCode !== undefined && err.statusCode < 500 ? err.statusCode : 400
  request.log.info(
    { remoteAddress: request.ip, method: request.method, url: request.url, statusCode: status, code: err.code },
    'request',
  )
  void reply
    .code(status)
    .header('x-content-type-options', NOSNIFF)
    .type('text/plain; charset=utf-8')
    .send('Bad Request: the URL is not valid\n')
}
