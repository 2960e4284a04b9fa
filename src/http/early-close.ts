// Answering before the request body has been read (a refused upload): the client, which sends
// the whole body before it reads the answer (twine, poetry, pdm), must still get the answer.
import type { FastifyReply, FastifyRequest } from 'fastify'

/** How long the rest of a refused body is read and dropped before the connection is cut. */
export const LINGER_MS = 10_000

/**
 * When the body of `request` is still arriving: answer with `Connection: close`, keep reading
 * and dropping the rest (closing a socket with unread data makes the kernel reset it, and the
 * client would see a reset instead of the answer), and cut the connection after LINGER_MS
 * (nginx's lingering close), so a refused 10 GB body costs at most that long.
 */
export function closeAfterReply (request: FastifyRequest, reply: FastifyReply): void {
  const raw = request.raw
  // Only a real, unfinished body (light-my-request's injected requests have no `complete`).
  const complete: unknown = raw.complete
  if (complete !== false || raw.destroyed || request.method === 'GET' || request.method === 'HEAD') return
  reply.header('connection', 'close')
  raw.resume()
  const socket = raw.socket
  reply.raw.once('finish', () => {
    if (raw.complete) return
    const timer = setTimeout(() => { socket.destroy() }, LINGER_MS)
    timer.unref()
    socket.once('close', () => { clearTimeout(timer) })
  })
}

/**
 * A reason phrase from a message (checklist U-9, Z-7): latin-1 only (anything else becomes "?"),
 * no CR/LF or other control characters, at most 200 characters.
 */
export function reasonPhrase (message: string): string {
  const clean = message.replace(/[^\u0020-\u007e\u00a0-\u00ff]/g, '?').trim()
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean
}
