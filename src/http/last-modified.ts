// Last-Modified as RFC 9110 §8.8.2.1 wants it: never later than the response's Date.
import type { FastifyReply } from 'fastify'
import { httpDate } from '../core/conditional.js'

/**
 * Set `Last-Modified` from a modification time. A time in the future (a file dated tomorrow)
 * is replaced by the response's own date, as §8.8.2.1 requires. For a time within the last two
 * seconds or later, `Date` is set here as well, from the same clock reading: Node's own Date
 * value is cached for a second and could lag behind. Conditional requests keep comparing the
 * real time (see evaluatePreconditions): a clamped date is no validator of the file (§8.8.2.2:
 * a Last-Modified equal to Date is weak), so sending it back never earns a 304 or a range;
 * the ETag still does.
 */
export function setLastModified(reply: FastifyReply, lastModifiedMs: number, formatted?: string): void {
  const now = Date.now()
  const seconds = Math.floor(lastModifiedMs / 1000)
  const nowSeconds = Math.floor(now / 1000)
  if (seconds < nowSeconds - 1) {
    reply.header('last-modified', formatted ?? httpDate(lastModifiedMs))
    return
  }
  const date = httpDate(now)
  reply.header('date', date)
  reply.header('last-modified', seconds > nowSeconds ? date : (formatted ?? httpDate(lastModifiedMs)))
}
