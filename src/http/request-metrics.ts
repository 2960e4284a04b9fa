// Request metrics: a duration histogram and a bytes-sent counter, labelled by route template
// (`/simple/:project/`, never the project or file a URL names: that would make one series per
// name a client can invent), method and status class.
import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../core/metrics.js'

/** Requests no route matched (404s, 405s, bad URLs) share this route label. */
export const UNMATCHED_ROUTE = 'unmatched'

// Downloads may take minutes; pages take milliseconds. Seconds, as Prometheus wants.
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

// Node accepts only the methods its parser knows, but that is some thirty: the rest share "other".
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])

type RequestLabel = 'route' | 'method' | 'status_class'

/**
 * Record every request once its response is over. The raw response's 'close' event fires
 * after a complete response and after the client went away, so an abandoned download counts
 * too (with the bytes it got). Connections closed before any answer have status class "none".
 */
export function registerRequestMetrics (app: FastifyInstance, metrics: Metrics): void {
  const duration = metrics.histogram<RequestLabel>({
    name: 'eggserve_http_request_duration_seconds',
    help: 'Time from the request to the end of its response, by route template, method and status class',
    labelNames: ['route', 'method', 'status_class'],
    buckets: DURATION_BUCKETS,
  })
  const sent = metrics.counter<RequestLabel>({
    name: 'eggserve_http_response_bytes_total',
    help: 'Bytes written to client sockets (headers and bodies; an abandoned download counts what it got), by route template, method and status class',
    labelNames: ['route', 'method', 'status_class'],
  })
  // A callback hook, not an async one: no promise per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    const socket = request.raw.socket
    // Bytes this socket had written before this response (keep-alive connections carry several).
    // app.inject()'s fake socket counts nothing.
    const before = typeof socket.bytesWritten === 'number' ? socket.bytesWritten : undefined
    reply.raw.once('close', () => {
      const labels = {
        route: request.routeOptions.url ?? UNMATCHED_ROUTE,
        method: METHODS.has(request.method) ? request.method : 'other',
        status_class: reply.raw.headersSent ? statusClass(reply.statusCode) : 'none',
      }
      duration.observe(labels, reply.elapsedTime / 1000)
      if (before !== undefined) sent.inc(labels, socket.bytesWritten - before)
    })
    done()
  })
}

function statusClass (status: number): string {
  const hundreds = Math.floor(status / 100)
  return hundreds >= 1 && hundreds <= 5 ? `${String(hundreds)}xx` : 'other'
}
