// One access-log line per request: remote address, method, URL, status, duration, bytes sent.
import type { FastifyInstance } from 'fastify'

const QUIET_LEVELS = new Set(['warn', 'error', 'fatal', 'silent'])

/**
 * Log every request once its response is over. The raw response's 'close' event fires both
 * after a complete response and after the client went away, so abandoned downloads are
 * logged too. Everything about the connection is read in onRequest: by 'close' the socket
 * may already be destroyed and have forgotten its remote address.
 */
export function registerAccessLog (app: FastifyInstance): void {
  // With request lines switched off (--log-level warn or above), add nothing to every request.
  if (QUIET_LEVELS.has(app.log.level)) return
  // A callback hook, not an async one: no promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    const remoteAddress = request.ip
    const socket = request.raw.socket
    // Bytes this socket had written before this response (keep-alive connections carry several).
    const before = socket.bytesWritten
    reply.raw.once('close', () => {
      const response = reply.raw
      request.log.info({
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
        // client abandoned shows fewer bytes than its Content-Length.
        bytesSent: socket.bytesWritten - before,
      }, 'request')
    })
    done()
  })
}
