// The ceiling for any Node server on this machine: bare node:http answering GET /static/<name>
// with the bytes of STATIC_DIR/<name>, read once and kept in memory (no framework, no checks).
// With PROCESSES above 1, that many processes serve the one port the way `eggserve --workers N`
// does: the primary accepts each connection and hands it to the worker with the fewest open ones
// (eggserve's own ConnectionBalancer and ConnectionIntake), so the row is what any Node server
// could do with N processes here, spread as eggserve spreads them.
// Usage: node --import tsx scripts/bench/ceiling-server.ts STATIC_DIR [PROCESSES]
// Prints "listening PORT" on stdout once every process listens on 127.0.0.1 (an OS-chosen port).
import cluster, { type Worker } from 'node:cluster'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { basename, join } from 'node:path'
import { pino } from 'pino'
import { ConnectionBalancer, type Destination } from '../../src/daemon/cluster-balancer.js'
import { isConnectionMessage } from '../../src/daemon/cluster-channel.js'
import { ConnectionIntake } from '../../src/daemon/cluster-intake.js'

const dir = process.argv[2]
const processes = Number(process.argv[3] ?? '1')
if (dir === undefined || !Number.isInteger(processes) || processes < 1) {
  process.stderr.write('usage: ceiling-server.ts STATIC_DIR [PROCESSES]\n')
  process.exit(2)
}

/** A worker's reports: it takes connections now; this many handed-over connections closed. */
type Report = { readonly ready: true } | { readonly closed: number }

if (processes > 1 && cluster.isPrimary) runPrimary(processes)
else serve(dir)

/** Fork the workers, listen once all of them are up, hand them connections, stop them on a signal. */
function runPrimary(count: number): void {
  const destinations = new Map<Worker, Destination>()
  const balancer = new ConnectionBalancer({
    destinations: () => [...destinations.values()],
    log: pino({ level: 'warn' }),
  })
  // A worker counts once it says it takes connections (its message listener is in place).
  cluster.on('message', (worker, message: Report) => {
    if ('closed' in message) {
      const destination = destinations.get(worker)
      if (destination !== undefined) destination.connections -= message.closed
      return
    }
    destinations.set(worker, { connections: 0, worker })
    if (destinations.size < count) return
    balancer.listen({ host: '127.0.0.1', port: 0 }, 'http').then(
      (addresses) => {
        process.stdout.write(`listening ${new URL(addresses[0] ?? '').port}\n`)
      },
      (err: unknown) => {
        process.stderr.write(`ceiling primary cannot listen: ${String(err)}\n`)
        process.exit(1)
      },
    )
  })
  cluster.on('exit', (worker, code) => {
    if (stopping) return
    // A worker that dies is not replaced: the measurement would be of fewer processes.
    process.stderr.write(`ceiling worker ${String(worker.process.pid)} exited (code ${String(code)})\n`)
    process.exit(1)
  })
  let stopping = false
  const stop = (): void => {
    stopping = true
    balancer.close()
    for (const worker of destinations.keys()) worker.process.kill('SIGTERM')
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  for (let index = 0; index < count; index++) cluster.fork()
}

function serve(root: string): void {
  const cache = new Map<string, { body: Buffer; type: string }>()
  const server = createServer((request, response) => {
    const name = basename(decodeURIComponent((request.url ?? '').replace(/^\/static\//, '')))
    const cached = cache.get(name)
    if (cached !== undefined) {
      response.writeHead(200, { 'content-type': cached.type, 'content-length': cached.body.length })
      response.end(cached.body)
      return
    }
    readFile(join(root, name)).then(
      (body) => {
        const type = name.endsWith('.json') ? 'application/vnd.pypi.simple.v1+json' : 'text/html; charset=utf-8'
        cache.set(name, { body, type })
        response.writeHead(200, { 'content-type': type, 'content-length': body.length })
        response.end(body)
      },
      () => {
        response.writeHead(404).end()
      },
    )
  })
  server.keepAliveTimeout = 5_000
  if (cluster.isWorker) {
    // The primary listens and hands connections over; closes go back so its counts stay right.
    const intake = new ConnectionIntake(server, (closed) => {
      process.send?.({ closed } satisfies Report)
    })
    process.on('message', (message: unknown, handle: unknown) => {
      if (isConnectionMessage(message)) intake.take(handle)
    })
    process.send?.({ ready: true } satisfies Report)
  } else {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      process.stdout.write(`listening ${typeof address === 'object' && address !== null ? address.port : 0}\n`)
    })
  }
  const stop = (): void => {
    server.close()
    server.closeAllConnections()
    // A worker's IPC channel would keep it running.
    cluster.worker?.disconnect()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
