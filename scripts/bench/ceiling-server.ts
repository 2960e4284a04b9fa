// The ceiling for any Node server on this machine: bare node:http answering GET /static/<name>
// with the bytes of STATIC_DIR/<name>, read once and kept in memory (no framework, no checks).
// With PROCESSES above 1, that many processes serve the one port through node:cluster, with
// its default scheduling (the primary accepts and hands each connection to a worker in turn),
// as `eggserve --workers N` does: what any Node server could do with N processes here.
// Usage: node --import tsx scripts/bench/ceiling-server.ts STATIC_DIR [PROCESSES]
// Prints "listening PORT" on stdout once every process listens on 127.0.0.1 (an OS-chosen port).
import cluster from 'node:cluster'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { basename, join } from 'node:path'

const dir = process.argv[2]
const processes = Number(process.argv[3] ?? '1')
if (dir === undefined || !Number.isInteger(processes) || processes < 1) {
  process.stderr.write('usage: ceiling-server.ts STATIC_DIR [PROCESSES]\n')
  process.exit(2)
}

if (processes > 1 && cluster.isPrimary) runPrimary(processes)
else serve(dir)

/** Fork the workers, say the port once all of them listen, and stop them on a signal. */
function runPrimary(count: number): void {
  let listening = 0
  cluster.on('listening', (_worker, address) => {
    if (++listening === count) process.stdout.write(`listening ${address.port}\n`)
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
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
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
  // In a cluster worker, port 0 is one port chosen once for every worker.
  server.listen(0, '127.0.0.1', () => {
    if (cluster.isWorker) return
    const address = server.address()
    process.stdout.write(`listening ${typeof address === 'object' && address !== null ? address.port : 0}\n`)
  })
  const stop = (): void => {
    server.close()
    server.closeAllConnections()
    // A worker's IPC channel would keep it running.
    cluster.worker?.disconnect()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
