// Answering before the request body has been read (a refused upload): the client, which sends
// the whole body before it reads the answer (twine, poetry, pdm), must still get the answer.
import type { IncomingMessage } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { awaitsContinue } from './expect-continue.js'

/** How long the rest of a refused body is read and dropped before answering anyway. */
export const LINGER_MS = 10_000

/**
 * When the body of `request` is still arriving: read and drop the rest before answering, for
 * at most LINGER_MS. Answering at once would not help: Node closes the connection after an
 * answer to a request that said `Connection: close`, and closing a socket with unread data
 * makes the kernel reset it, so the client would see a reset instead of the answer. A body
 * still arriving after LINGER_MS gets its answer and a closed connection (nginx's lingering
 * close works the same way), so a refused 10 GB body costs at most that long.
 */
export async function drainBeforeReply(
  request: FastifyRequest,
  reply: FastifyReply,
  lingerMs = LINGER_MS,
): Promise<void> {
  const raw = request.raw
  // Only a real, unfinished body (light-my-request's injected requests have no `complete`).
  const complete: unknown = raw.complete
  if (complete !== false || raw.destroyed || request.method === 'GET' || request.method === 'HEAD') return
  // A client waiting for "100 Continue" sends no body to drain: answer now (and close).
  if (awaitsContinue(raw)) return
  if (await drain(raw, lingerMs)) return
  reply.header('connection', 'close')
  reply.raw.once('finish', () => {
    raw.socket.destroy()
  })
}

function drain(raw: IncomingMessage, maxMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const finish = (drained: boolean): void => {
      clearTimeout(timer)
      raw.off('end', onEnd)
      raw.off('close', onEnd)
      resolve(drained)
    }
    const onEnd = (): void => {
      finish(true)
    }
    const timer = setTimeout(() => {
      finish(false)
    }, maxMs)
    timer.unref()
    raw.once('end', onEnd)
    raw.once('close', onEnd)
    raw.resume()
  })
}

/**
 * A reason phrase from a message (RFC 9110 §15.1, reason-phrase; twine, poetry and pdm print it): latin-1 only (anything else becomes "?"),
 * no CR/LF or other control characters, at most 200 characters.
 */
export function reasonPhrase(message: string): string {
  const clean = message.replace(/[^\u0020-\u007e\u00a0-\u00ff]/g, '?').trim()
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean
}
