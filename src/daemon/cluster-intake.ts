// A --workers worker's side of the primary's connection hand-off (cluster-balancer.ts): each
// connection the primary accepted arrives as the handle of an IPC message and is served by
// this process's http or https server as if the server had accepted it; closes are reported
// back, a few at a time, so the primary's count of what each worker holds stays right.
import type { Server } from 'node:http'
import { Socket } from 'node:net'

/** The connections handed to this worker. */
export class ConnectionIntake {
  readonly #server: Server
  readonly #report: (closed: number) => void
  readonly #open = new Set<Socket>()
  #unreported = 0
  readonly #drainWaiters: (() => void)[] = []

  /**
   * Serve handed-over connections on `server` (Fastify's, never listening itself); `report`
   * hears how many closed since its last call.
   */
  constructor(server: Server, report: (closed: number) => void) {
    this.#server = server
    this.#report = report
    // An http.Server starts tracking its connections (the list behind requestTimeout,
    // headersTimeout, closeIdleConnections() and closeAllConnections()) on its 'listening'
    // event; this one never listens, so it is told here (Node's own tests start it this way).
    // Its close() (Fastify's app.close()) stops the tracking again.
    server.emit('listening')
  }

  /** Connections open now. */
  get size(): number {
    return this.#open.size
  }

  /** Serve `handle`, a connection the primary accepted (anything else is dropped and counted closed). */
  take(handle: unknown): void {
    if (!(handle instanceof Socket)) {
      this.#closed()
      return
    }
    this.#open.add(handle)
    handle.once('close', () => {
      this.#open.delete(handle)
      this.#closed()
    })
    // As net.Server would on accept: the http (or, for TLS, the tls) server's own listener serves it.
    this.#server.emit('connection', handle)
  }

  /** Resolves once every handed-over connection has closed (the server's close() closes the idle ones). */
  drained(): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.#drainWaiters.push(resolve)
    })
  }

  // One report per turn of the event loop, however many closed in it.
  #closed(): void {
    if (this.#unreported++ === 0) {
      setImmediate(() => {
        const count = this.#unreported
        this.#unreported = 0
        this.#report(count)
      })
    }
    if (this.#open.size === 0) for (const waiter of this.#drainWaiters.splice(0)) waiter()
  }
}
