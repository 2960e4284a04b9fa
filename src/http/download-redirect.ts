// --download-redirect: a download the index allows is answered with a redirect to the store (a
// presigned URL) or to a base URL that mirrors the tree, and the client fetches the bytes there.
import type { FastifyReply } from 'fastify'
import {
  baseLocation,
  signingWindow,
  windowRemainingSeconds,
  type DownloadRedirect,
} from '../core/download-redirect.js'
import { ConfigError } from '../errors.js'
import type { Storage } from '../storage/storage.js'

/** Where one download is sent, and how long the redirect may be kept. */
export interface RedirectTarget {
  readonly location: string
  /** Cache-Control of the redirect; undefined: none beyond the route's. */
  readonly cacheControl: string | undefined
}

/** Makes the redirect target of a stored key. */
export type Redirector = (key: string) => Promise<RedirectTarget>

/**
 * The redirector of a --download-redirect setting. `now` is the clock the presigned URLs'
 * windows are cut from; `filesCacheControl` is what downloads carry (private when they need
 * credentials).
 */
export function redirectorFor(
  setting: DownloadRedirect,
  storage: Pick<Storage, 'presign'>,
  options: { readonly now: () => number; readonly filesCacheControl: string | undefined },
): Redirector {
  if (setting.kind === 'base') {
    const { base } = setting
    return (key) => Promise.resolve({ location: baseLocation(base, key), cacheControl: options.filesCacheControl })
  }
  const { presign } = storage
  if (presign === undefined) throw new ConfigError('--download-redirect presigned needs --storage s3://...')
  const { windowMs } = setting
  return async (key) => {
    const now = options.now()
    const location = await presign.call(storage, key, signingWindow(now, windowMs))
    // The URL carries a signature: kept by the client only (RFC 9111 §5.2.2.7), and no longer
    // than the window it belongs to, so the next request gets the next window's URL.
    return { location, cacheControl: `private, max-age=${String(windowRemainingSeconds(now, windowMs))}` }
  }
}

/**
 * 302 to the target, with no body. The client follows it itself, and sends the store nothing
 * of what it sent eggserve: pip (requests' `should_strip_auth`) drops Authorization on a
 * redirect to another host or port.
 */
export function sendRedirect(reply: FastifyReply, target: RedirectTarget): FastifyReply {
  if (target.cacheControl !== undefined) reply.header('cache-control', target.cacheControl)
  return reply.code(302).header('location', target.location).send()
}
