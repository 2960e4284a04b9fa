// One access-log line per request: remote address, method, URL, status, duration, bytes sent.
import type { FastifyInstance } from 'fastify'
import type { ResponseOverController } from './response-over.js'

const QUIET_LEVELS = new Set(['warn', 'error', 'fatal', 'silent'])

/**
 * Log every request once its response is over (ResponseOverController: after a complete response and
 * after the client went away, so abandoned downloads are logged too). The remote address is
 * read when the request starts: by the end the socket may already be destroyed and have
 * forgotten it.
 */
export function registerAccessLog(app: FastifyInstance, responses: ResponseOverController): void {
  // With request lines switched off (--log-level warn or above), add nothing to every request.
  if (QUIET_LEVELS.has(app.log.level)) return
  // The line request.log would write, written by the app's logger with the request id as its
  // first field: the same bytes (a child's bindings are written right before the fields), and
  // no pino child made for every request (request-logger.ts) only to write this line.
  const log = app.log
  responses.onResponseOver((started) => {
    const remoteAddress = started.ip
    return (request, reply, bytesSent) => {
      const response = reply.raw
      log.info(
        {
          reqId: request.id,
          remoteAddress,
          method: request.method,
          url: request.url,
          // A connection closed before any answer (an upload cut off by shutdown, a client that
          // hung up mid-upload) has no status: reply.statusCode would still say its default 200.
          ...(response.headersSent ? { statusCode: reply.statusCode } : {}),
          // The response was not sent to its end: the client went away or the connection was closed.
          ...(response.writableFinished ? {} : { aborted: true }),
          responseTime: Math.round(reply.elapsedTime * 10) / 10,
          // Headers and body handed to the socket, like nginx's $bytes_sent: a download the
          // client abandoned shows fewer bytes than its Content-Length. (app.inject()'s socket
          // counts nothing, and then there is no figure.)
          ...(bytesSent === undefined ? {} : { bytesSent }),
        },
        'request',
      )
    }
  })
}
