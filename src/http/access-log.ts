// One access-log line per request: remote address, method, URL, status and duration.
import type { FastifyInstance } from 'fastify'

/**
 * Log every request once its response is over. The raw response's 'close' event fires both
 * after a complete response and after the client went away, so aborted downloads are logged too.
 */
export function registerAccessLog (app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.once('close', () => {
      request.log.info({
        remoteAddress: request.ip,
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        responseTime: Math.round(reply.elapsedTime * 10) / 10,
        ...(reply.raw.writableFinished ? {} : { aborted: true }),
      }, 'request')
    })
  })
}
