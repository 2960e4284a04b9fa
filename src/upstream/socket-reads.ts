// Upstream sockets that read into one buffer of their own, used again for every read, instead
// of a new 64 KiB buffer per read (Node's default). A first download of a 200 MB file otherwise
// leaves 200 MB of dead read buffers behind it, which V8 frees only once tens of MB of them
// have piled up (its external-memory trigger), besides the 200 MB of body chunks node:http
// copies out of them (docs/benchmarks.md). Reads of up to SOCKET_READ bytes also mean fewer
// trips through the parser and the streams than reads of 64 KiB.
//
// net.Socket's `onread` reads into a buffer we give it, and then emits nothing: node:http's
// client parses what its socket emits as 'data', so each read is emitted as 'data' here, a view
// of the buffer. Nothing keeps that view past the event: the parser copies the body it finds in
// it into a buffer of its own (node_http_parser.cc, on_body: Buffer::Copy) and the headers into
// strings; test/unit/upstream-socket-reads.test.ts checks this on every Node the CI runs. Only a
// parse error keeps it (as the error's rawPacket): a socket that erred does not give its buffer
// back.
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import type { Socket } from 'node:net'
import { BufferPool } from '../storage/sink-buffers.js'

/** What each socket reads at most at a time (Node's default is 64 KiB). */
export const SOCKET_READ = 256 * 1024

/** Buffers of closed sockets, for the next ones (at most 8 kept); plain-file-get.ts's sockets share them. */
export const socketReadPool = new BufferPool(SOCKET_READ, 8)

/** Read buffers allocated for sockets so far (reused ones are not counted), and reads into them (for tests). */
export const socketReadStats = {
  get allocated(): number {
    return socketReadPool.allocated
  },
  reads: 0,
}

/** The socket option that makes reads go into `buffer` and out as 'data' of the socket `socket()` returns. */
function onreadFor(buffer: Buffer, socket: () => Socket | undefined): object {
  return {
    onread: {
      buffer,
      callback: (bytes: number, into: Uint8Array): void => {
        socketReadStats.reads++
        socket()?.emit('data', Buffer.from(into.buffer, into.byteOffset, bytes))
      },
    },
  }
}

/** `socket` (created with `buffer` as its onread buffer) gives it back when it closes, unless it erred. */
function track(socket: Socket, buffer: Buffer): Socket {
  let failed = false
  socket.once('error', () => {
    failed = true
  })
  socket.once('close', () => {
    if (!failed) socketReadPool.give([buffer])
  })
  return socket
}

/** A socket made by an agent's own `create` (the same options, plus onread into a buffer of its own). */
function readingConnection(options: object, create: (options: object) => Socket): Socket {
  const buffer = socketReadPool.take()
  let socket: Socket | undefined = undefined
  socket = create({ ...options, ...onreadFor(buffer, () => socket) })
  return track(socket, buffer)
}

/** An http agent whose sockets read into a buffer of their own (see above). */
class ReadingHttpAgent extends HttpAgent {
  override createConnection(options: object): Socket {
    // Agent's own createConnection is net.createConnection.
    return readingConnection(options, (withRead) => super.createConnection(withRead) as Socket)
  }
}

/** The same for https: TLS sockets take `onread` too, and give it the decrypted bytes. */
class ReadingHttpsAgent extends HttpsAgent {
  override createConnection(options: object): Socket {
    return readingConnection(options, (withRead) => super.createConnection(withRead) as Socket)
  }
}

const agents: { http?: HttpAgent; https?: HttpsAgent } = {}

// As Node's global agents are made (keep-alive since Node 19).
const AGENT_OPTIONS = { keepAlive: true, scheduling: 'lifo', timeout: 5000 } as const

/** The agent for upstream requests: its sockets read into a buffer of their own. */
export function readingAgent(protocol: string): HttpAgent {
  if (protocol === 'https:') return (agents.https ??= new ReadingHttpsAgent(AGENT_OPTIONS))
  return (agents.http ??= new ReadingHttpAgent(AGENT_OPTIONS))
}
