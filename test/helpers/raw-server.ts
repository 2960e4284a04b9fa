// A TCP server that answers HTTP requests with bytes written by hand (a status line, fields and
// framing no HTTP server library would write, or a connection cut mid-body), for the clients
// that read answers themselves (src/storage/plain-answer.ts).
import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import type { TestContext } from 'node:test'

/** The server: its URL for `path`, the request heads it read, and how many connections closed. */
export interface RawServer {
  readonly url: URL
  readonly heads: string[]
  closed(): number
}

/** A server that reads each connection's request head and calls `reply` with it (closed after the test). */
export async function rawServer(
  t: TestContext,
  path: string,
  reply: (socket: Socket, head: string) => void,
): Promise<RawServer> {
  const heads: string[] = []
  let closed = 0
  const server = createServer((socket) => {
    let head = ''
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      heads.push(head)
      socket.removeAllListeners('data')
      reply(socket, head)
    })
    socket.on('error', () => undefined)
    socket.once('close', () => {
      closed++
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.close()
  })
  const { port } = server.address() as AddressInfo // a TCP listener's address
  return { url: new URL(`http://127.0.0.1:${String(port)}${path}`), heads, closed: () => closed }
}
