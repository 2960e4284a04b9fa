// Keep-alive connections at a graceful stop. Node's server.close() closes the connections idle
// at that moment; one whose request is still running goes idle when its response ends and then
// stays open until keepAliveTimeout, so the process outlives its last response by that much.
// Fastify answers requests that *arrive* while closing with `Connection: close`, not those
// already running. So, from the stop on: a running response that has not sent its headers yet
// says `Connection: close` (RFC 9112 §9.6: the server closes after it), and as each running
// response ends, the connections idle by then are closed.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

/** Tracks the responses in flight on `server`, so that drain() can end their connections. */
export class KeepAliveDrain {
  readonly #server: Server
  readonly #inFlight = new Set<ServerResponse>()
  #draining = false

  constructor(server: Server) {
    this.#server = server
    server.on('request', this.#onRequest)
  }

  /** Start ending keep-alive connections: each closes as soon as its response in flight ends. */
  drain(): void {
    if (this.#draining) return
    this.#draining = true
    for (const response of this.#inFlight) this.#closeAfter(response)
    this.#inFlight.clear()
  }

  readonly #onRequest = (_request: IncomingMessage, response: ServerResponse): void => {
    if (this.#draining) {
      this.#closeAfter(response)
      return
    }
    this.#inFlight.add(response)
    response.on('close', this.#onClose)
  }

  // One listener shared by every response (`this` is the response that closed), so a request
  // costs a Set entry and no closure of its own.
  readonly #onClose = ((inFlight: Set<ServerResponse>) =>
    function (this: ServerResponse): void {
      inFlight.delete(this)
    })(this.#inFlight)

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
