// Request metrics: a duration histogram and a bytes-sent counter, labelled by route template
// (`/simple/:project/`, never the project or file a URL names: that would make one series per
// name a client can invent), method and status class.
import type { BoundCounter, BoundHistogram, CounterMetric, HistogramMetric, Metrics } from '../core/metrics.js'
import type { ResponseOver, ResponseOverController } from './response-over.js'

/** Requests no route matched (404s, 405s, bad URLs) share this route label. */
export const UNMATCHED_ROUTE = 'unmatched'

// Downloads may take minutes; pages take milliseconds. Seconds, as Prometheus wants.
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

// Node accepts only the methods its parser knows, but that is some thirty: the rest share "other".
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'other'] as const

// Status classes by index: 0 = no answer, 1..5 = 1xx..5xx, 6 = anything else.
const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const
const OTHER_CLASS = STATUS_CLASSES.length - 1

type RequestLabel = 'route' | 'method' | 'status_class'

/** The bound series of one (route, method, status class). */
interface Series {
  readonly duration: BoundHistogram
  readonly sent: BoundCounter
}

/**
 * Record every request once its response is over (ResponseOverController: after a complete response
 * and after the client went away, so an abandoned download counts too, with the bytes it got).
 * Connections closed before any answer have status class "none".
 */
export function registerRequestMetrics(responses: ResponseOverController, metrics: Metrics): void {
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
  const series = new SeriesTable(duration, sent)
  const over: ResponseOver = (request, reply, bytesSent) => {
    const status = reply.raw.headersSent ? statusClassIndex(reply.statusCode) : 0
    const bound = series.get(request.routeOptions.url ?? UNMATCHED_ROUTE, methodIndex(request.method), status)
    bound.duration.observe(reply.elapsedTime / 1000)
    if (bytesSent !== undefined) bound.sent.inc(bytesSent)
  }
  // Nothing to read at the start: the same function ends every request (no closure per request).
  responses.onResponseOver(() => over)
}

// Compared, not looked up in a Set: the parser hands over a new string each time, which a Set
// would hash on every request.
function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0
    case 'HEAD':
      return 1
    case 'POST':
      return 2
    case 'PUT':
      return 3
    case 'DELETE':
      return 4
    case 'OPTIONS':
      return 5
    case 'PATCH':
      return 6
    default:
      return 7
  }
}

function statusClassIndex(status: number): number {
  const hundreds = Math.floor(status / 100)
  return hundreds >= 1 && hundreds <= 5 ? hundreds : OTHER_CLASS
}

/**
 * The bound series by route, method and status class, made on first use. Its size is bounded
 * by the labels' own bounds: the registered routes (and "unmatched"), eight method labels and
 * seven status classes.
 */
class SeriesTable {
  // By route, then at methodIndex * STATUS_CLASSES.length + status class index: one Map lookup a request.
  readonly #byRoute = new Map<string, (Series | undefined)[]>()
  readonly #duration: HistogramMetric<RequestLabel>
  readonly #sent: CounterMetric<RequestLabel>

  constructor(duration: HistogramMetric<RequestLabel>, sent: CounterMetric<RequestLabel>) {
    this.#duration = duration
    this.#sent = sent
  }

  get(route: string, method: number, status: number): Series {
    let byRoute = this.#byRoute.get(route)
    if (byRoute === undefined) {
      byRoute = new Array<Series | undefined>(METHODS.length * STATUS_CLASSES.length).fill(undefined)
      this.#byRoute.set(route, byRoute)
    }
    const at = method * STATUS_CLASSES.length + status
    let series = byRoute[at]
    if (series === undefined) {
      const labels = { route, method: METHODS[method] ?? 'other', status_class: STATUS_CLASSES[status] ?? 'other' }
      series = { duration: this.#duration.labels(labels), sent: this.#sent.labels(labels) }
      byRoute[at] = series
    }
    return series
  }
}
