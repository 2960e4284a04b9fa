// Keep-alive connections at a graceful stop. Node's server.close() closes the connections idle
// at that moment; one whose request is still running goes idle when its response ends and then
// stays open until keepAliveTimeout, so the process outlives its last response by that much.
// Fastify answers requests that *arrive* while closing with `Connection: close`, not those
// already running. So, from the stop on: a running response that has not sent its headers yet
// says `Connection: close` (RFC 9112 §9.6: the server closes after it), and as each running
// response ends, the connections idle by then are closed.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

// The latest response started on a connection, in a property of its socket: a request costs
// one property store, where a Set entry and a 'close' listener per response cost every small
// download a listener added and removed (a CPU profile of the small-file row, docs/benchmarks.md).
// The price: an idle keep-alive connection keeps its last response object (and its request)
// until its next request or its close, one per open connection.
const LATEST = Symbol('eggserve.keepAliveDrain.latest')

type Tracked = Socket & { [LATEST]?: ServerResponse }

/** Tracks the responses in flight on `server`, so that drain() can end their connections. */
export class KeepAliveDrain {
  readonly #server: Server
  // The connections that have carried a request, until they close: a listener per connection,
  // not per request. (The request's socket: under TLS, not the one of the 'connection' event.)
  readonly #connections = new Set<Tracked>()
  #draining = false

  constructor(server: Server) {
    this.#server = server
    server.on('request', this.#onRequest)
  }

  /** Start ending keep-alive connections: each closes as soon as its response in flight ends. */
  drain(): void {
    if (this.#draining) return
    this.#draining = true
    // Responses on a connection end in order (pipelined ones too), so the latest one still open
    // is the one after which the connection can close.
    for (const socket of this.#connections) {
      const latest = socket[LATEST]
      if (latest !== undefined && !latest.closed) this.#closeAfter(latest)
    }
    this.#connections.clear()
  }

  readonly #onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    if (this.#draining) {
      this.#closeAfter(response)
      return
    }
    const socket = request.socket as Tracked
    if (socket[LATEST] === undefined) this.#track(socket)
    socket[LATEST] = response
  }

  #track(socket: Tracked): void {
    const connections = this.#connections
    connections.add(socket)
    socket.once('close', () => {
      connections.delete(socket)
    })
  }

  #closeAfter(response: ServerResponse): void {
    if (!response.headersSent && !response.writableEnded) response.setHeader('connection', 'close')
    // Headers already sent (a download under way): its connection is idle once the response
    // is over, and closed then; a turn later, once the server has marked it idle.
    response.once('close', () => {
      setImmediate(() => {
        this.#server.closeIdleConnections()
      })
    })
  }
}
