// --workers N: the primary accepts every connection itself and hands it to the worker with the
// fewest open connections (the worker serves it: cluster-intake.ts).
//
// Why not node:cluster's own scheduler: its round-robin hands a new connection to whichever
// worker acknowledged its previous one first, so a burst of keep-alive connections (wrk's 10, a
// CI fleet's pip runs) splits 7/3 or 3/7 by timing, and the busier worker caps the whole
// service; NODE_CLUSTER_SCHED_POLICY=none leaves the choice to which process the kernel wakes
// in accept(), which measured worse. SO_REUSEPORT (net.Server's `reusePort`) arrives only in
// Node 22.12 and 23.1, and the kernel then picks by a hash of the client's address and port,
// not by load. Counting the connections each worker holds takes a few lines, and works the same
// on every Node version, with socket activation and with TLS (a worker's https.Server does the
// handshake). A connection is accepted paused (pauseOnConnect), so not a byte is read here.
import type { Worker } from 'node:cluster'
import { lookup } from 'node:dns/promises'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { networkInterfaces } from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import { CONNECTION_MESSAGE } from './cluster-channel.js'
import type { InheritedSocket } from './socket-activation.js'

/** A worker as the balancer sees it. */
export interface Destination {
  /** Connections handed to it and not reported closed yet. */
  connections: number
  readonly worker: Worker
}

/** Where to listen: --host/--port, or the socket systemd passed. */
export type ListenTarget =
  { readonly host: string; readonly port: number; readonly socket?: undefined } | { readonly socket: InheritedSocket }

/** Options of ConnectionBalancer. */
export interface BalancerOptions {
  /** The workers that take connections now (started, still connected). */
  readonly destinations: () => readonly Destination[]
  readonly log: FastifyBaseLogger
}

/** The primary's listening sockets, and the hand-off of each connection to a worker. */
export class ConnectionBalancer {
  readonly #options: BalancerOptions
  readonly #servers: Server[] = []
  /** Accepted while no worker could take them (all of them restarting): handed over by offer(). */
  readonly #waiting: Socket[] = []
  /** Where the search for the least busy worker starts: ties go round in turn. */
  #cursor = 0
  #closed = false

  constructor(options: BalancerOptions) {
    this.#options = options
  }

  /**
   * Listen on `target`; resolves with the addresses as Fastify would log them ("http://…").
   * As Fastify does for "localhost", every address it resolves to is listened on (the first must
   * work; the others are best effort).
   */
  async listen(target: ListenTarget, protocol: 'http' | 'https'): Promise<string[]> {
    if (target.socket !== undefined) {
      const server = await this.#listenOn({ fd: target.socket.fd })
      return addressesOf(server, protocol)
    }
    const main = await this.#listenOn({ host: target.host, port: target.port })
    if (target.host === 'localhost') {
      const bound = main.address() as AddressInfo // a TCP server's address is an AddressInfo
      const others = (await lookup(target.host, { all: true }).catch(() => [])).filter(
        (found) => found.address !== bound.address,
      )
      for (const other of others) await this.#listenOn({ host: other.address, port: bound.port }).catch(() => undefined)
    }
    return addressesOf(main, protocol)
  }

  /** A worker can take connections now: it gets those that waited for one. */
  offer(): void {
    for (const socket of this.#waiting.splice(0)) this.#assign(socket, new Set())
  }

  /** Stop accepting; those waiting go to a worker if one is left, or are closed. */
  close(): void {
    this.#closed = true
    for (const server of this.#servers) server.close()
    this.offer()
    for (const socket of this.#waiting.splice(0)) socket.destroy()
  }

  async #listenOn(options: { fd: number } | { host: string; port: number }): Promise<Server> {
    const server = createServer({ pauseOnConnect: true }, (socket) => {
      this.#assign(socket, new Set())
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options, () => {
        server.off('error', reject)
        resolve()
      })
    })
    // Later errors come from accept(2) (EMFILE: out of descriptors): the server goes on.
    server.on('error', (err) => {
      this.#options.log.error({ err }, 'Cannot accept a connection')
    })
    this.#servers.push(server)
    return server
  }

  // To the worker with the fewest open connections, save those it failed to reach (`tried`).
  #assign(socket: Socket, tried: Set<Worker>): void {
    const destination = this.#pick(tried)
    if (destination === undefined) {
      if (tried.size === 0 && !this.#closed) this.#waiting.push(socket)
      else socket.destroy()
      return
    }
    destination.connections++
    // Once sent, the socket here is closed (the worker holds the connection): keepOpen is off.
    destination.worker.send(CONNECTION_MESSAGE, socket, (err) => {
      if (err === null) return
      // The worker went away meanwhile: another one takes the connection.
      destination.connections--
      tried.add(destination.worker)
      this.#assign(socket, tried)
    })
  }

  #pick(tried: ReadonlySet<Worker>): Destination | undefined {
    const candidates = this.#options.destinations().filter((candidate) => !tried.has(candidate.worker))
    let best: Destination | undefined
    for (let index = 0; index < candidates.length; index++) {
      const candidate = candidates[(this.#cursor + index) % candidates.length]
      if (candidate !== undefined && (best === undefined || candidate.connections < best.connections)) best = candidate
    }
    this.#cursor++
    return best
  }
}

// As Fastify logs a server's addresses (lib/server.js, logServerAddress): IPv6 in brackets, and
// for 0.0.0.0 each IPv4 address of the machine, the loopback first.
function addressesOf(server: Server, protocol: 'http' | 'https'): string[] {
  const bound = server.address()
  if (typeof bound === 'string' || bound === null) return [String(bound)]
  if (bound.address.includes(':')) return [`${protocol}://[${bound.address}]:${String(bound.port)}`]
  const hosts =
    bound.address === '0.0.0.0'
      ? Object.values(networkInterfaces())
          .flatMap((list) => list ?? [])
          .filter((entry) => entry.family === 'IPv4')
          .sort((a, b) => Number(b.internal) - Number(a.internal))
          .map((entry) => entry.address)
      : []
  return (hosts.length === 0 ? [bound.address] : hosts).map((host) => `${protocol}://${host}:${String(bound.port)}`)
}
