// The base of the absolute URLs the JSON API gives (PyPI's are absolute too): --public-url
// when set; else the request's scheme and Host, with X-Forwarded-Proto, -Host and -Prefix
// believed only from the proxies --trust-proxy names.
import type { FastifyRequest } from 'fastify'
import { isValidHost } from '../core/host.js'

/** How absolute URLs are made. */
export interface UrlPolicy {
  /** --public-url, normalized (ends in "/"): every URL starts with it; nothing comes from requests. */
  readonly publicUrl: string | undefined
  /** True for a peer whose X-Forwarded-* headers are believed (Fastify's trustProxy decides for -Proto and -Host). */
  readonly trusted: ((address: string, hop: number) => boolean) | undefined
}

/** The base URL of one request (ending in "/"), or why none can be made (a 400). */
export type BaseUrl = { readonly ok: true; readonly base: string } | { readonly ok: false; readonly reason: string }

// An absolute path of RFC 3986 pchars (commas excepted: they separate the values of several proxies).
const PREFIX = /^(?:\/(?:[A-Za-z0-9\-._~!$&'()*+;=:@]|%[0-9A-Fa-f]{2})*)+$/
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/

/** The base URL for `request` under `policy`. */
export function baseUrlOf(request: FastifyRequest, policy: UrlPolicy): BaseUrl {
  if (policy.publicUrl !== undefined) return { ok: true, base: policy.publicUrl }
  // With trustProxy, Fastify reads these from X-Forwarded-Proto and -Host of trusted peers only.
  const scheme = request.protocol.toLowerCase()
  if (scheme !== 'http' && scheme !== 'https') return { ok: false, reason: 'X-Forwarded-Proto must be http or https' }
  const host = request.host
  if (host === '') return { ok: false, reason: 'no Host to build absolute URLs from (set --public-url)' }
  if (!isValidHost(host)) return { ok: false, reason: 'the Host (or X-Forwarded-Host) is not a valid host[:port]' }
  const prefix = forwardedPrefix(request, policy)
  if (prefix === undefined) return { ok: false, reason: 'X-Forwarded-Prefix must be an absolute path such as /eggs' }
  return { ok: true, base: `${scheme}://${host}${prefix}/` }
}

// X-Forwarded-Prefix (the path a proxy mounts eggserve under), from a trusted peer only; the
// last value when there are several (the nearest proxy's, as Fastify does for -Proto and -Host).
function forwardedPrefix(request: FastifyRequest, policy: UrlPolicy): string | undefined {
  const header = request.headers['x-forwarded-prefix']
  if (header === undefined || policy.trusted === undefined) return ''
  if (!policy.trusted(request.raw.socket.remoteAddress ?? '', 0)) return ''
  const value = (Array.isArray(header) ? header.join(',') : header).split(',').at(-1)?.trim() ?? ''
  if (value === '' || value === '/') return ''
  if (!PREFIX.test(value) || DOT_SEGMENT.test(value)) return undefined
  return value.replace(/\/+$/, '')
}
