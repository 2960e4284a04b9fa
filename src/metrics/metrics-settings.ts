// --metrics and --metrics-listen, parsed (pure: config.ts merges them with the rest).
import { ConfigError } from '../errors.js'

/** An address to listen on. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

/** Where /metrics is served: off, on the main listener, or on an address of its own. */
export type MetricsSetting =
  { readonly enabled: false } | { readonly enabled: true; readonly listen: ListenAddress | undefined }

/**
 * `HOST:PORT`, an IPv6 host in brackets (RFC 3986 §3.2.2).
 * @example parseListenAddress('127.0.0.1:9464') // { host: '127.0.0.1', port: 9464 }
 * @example parseListenAddress('[::1]:9464') // { host: '::1', port: 9464 }
 */
export function parseListenAddress(value: string, source = '--metrics-listen'): ListenAddress {
  const match = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([^\s:[\]/]+):(\d{1,5})$/.exec(value)
  const port = match === null ? NaN : Number(match[2])
  if (match?.[1] === undefined || !Number.isInteger(port) || port > 65535) {
    throw new ConfigError(
      `Invalid address "${value}" (${source}): expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464`,
    )
  }
  return { host: match[1], port }
}

/** --metrics (a boolean) and --metrics-listen together: an address of its own wins. */
export function resolveMetrics(
  enabled: boolean,
  listen: { readonly value: string | undefined; readonly source: string },
): MetricsSetting {
  if (listen.value !== undefined) return { enabled: true, listen: parseListenAddress(listen.value, listen.source) }
  return enabled ? { enabled: true, listen: undefined } : { enabled: false }
}
