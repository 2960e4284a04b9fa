// The ceiling for any Node server on this machine: bare node:http answering GET /static/<name>
// with the bytes of STATIC_DIR/<name>, read once and kept in memory (no framework, no checks).
// Usage: node --import tsx scripts/bench/ceiling-server.ts STATIC_DIR
// Prints "listening PORT" on stdout once it listens on 127.0.0.1 (an OS-chosen port).
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { basename, join } from 'node:path'

const dir = process.argv[2]
if (dir === undefined) {
  process.stderr.write('usage: ceiling-server.ts STATIC_DIR\n')
  process.exit(2)
}
const cache = new Map<string, { body: Buffer; type: string }>()

const server = createServer((request, response) => {
  const name = basename(decodeURIComponent((request.url ?? '').replace(/^\/static\//, '')))
  const cached = cache.get(name)
  if (cached !== undefined) {
    response.writeHead(200, { 'content-type': cached.type, 'content-length': cached.body.length })
    response.end(cached.body)
    return
  }
  readFile(join(dir, name)).then(
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
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`listening ${typeof address === 'object' && address !== null ? address.port : 0}\n`)
})
const stop = (): void => {
  server.close()
  server.closeAllConnections()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
