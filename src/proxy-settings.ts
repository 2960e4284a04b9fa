// Parsing of the settings that say how eggserve is reached: --public-url and --trust-proxy.
import proxyAddr from '@fastify/proxy-addr'
import { ConfigError } from './errors.js'

/**
 * The public base URL: http or https, no credentials, query or fragment; normalized by the
 * WHATWG URL parser (lowercase host, no default port, dot segments resolved), ending in one "/".
 * @example parsePublicUrl('https://PyPI.example.com:443/eggs') // 'https://pypi.example.com/eggs/'
 */
export function parsePublicUrl(value: string, source = '--public-url'): string {
  const invalid = (why: string): ConfigError =>
    new ConfigError(`Invalid public URL "${value}" (${source}): ${why}, e.g. https://pypi.example.com/eggs/`)
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw invalid('expected an absolute http or https URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('expected an http or https URL')
  // The parser drops an empty "?" or "#", so look at the text as well.
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(value))
    throw invalid('a query or fragment cannot be part of a base URL')
  if (url.username !== '' || url.password !== '') throw invalid('credentials would be shown in every API document')
  if (url.hostname === '') throw invalid('expected a host')
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}/`
}

/**
 * The proxies whose X-Forwarded-Proto, -Host and -Prefix are believed: a comma-separated list
 * of IP addresses, CIDR ranges and the names loopback, linklocal and uniquelocal.
 * @example parseTrustProxy('127.0.0.1, 10.0.0.0/8') // ['127.0.0.1', '10.0.0.0/8']
 */
export function parseTrustProxy(value: string, source = '--trust-proxy'): string[] {
  const entries = value.split(',').map((entry) => entry.trim())
  for (const entry of entries) {
    try {
      // The parser Fastify's trustProxy uses, so what is accepted here is what it understands.
      proxyAddr.compile([entry])
    } catch {
      throw new ConfigError(
        `Invalid proxy address "${entry}" in "${value}" (${source}): expected IP addresses or CIDR ranges (e.g. 127.0.0.1,10.0.0.0/8), or loopback, linklocal, uniquelocal, comma-separated`,
      )
    }
  }
  return entries
}
