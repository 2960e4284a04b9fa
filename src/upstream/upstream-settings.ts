// The upstream settings: --upstream URL (repeatable, in order), --never-upstream PATTERN and
// --merge-upstream NAME (repeatable), --offline, and their EGGSERVE_* variables. Pure.
import { compileNamePattern } from '../core/name-rule.js'
import { normalizeProjectName, isValidProjectName } from '../core/names.js'
import { ConfigError } from '../errors.js'
import { CACHE_ENV, resolveCacheSettings, type CacheSettings } from './cache-settings.js'
import type { BreakerSettings } from './circuit-breaker.js'
import type { Timeouts } from './http-client.js'

/** One upstream index. */
export interface UpstreamSettings {
  /** The simple index URL without credentials, ending in "/" (e.g. https://pypi.org/simple/). */
  readonly url: string
  /** How it is named in logs and pages: the URL without credentials. */
  readonly label: string
  /** The Authorization header for it (from user:password in the URL), or undefined. Never logged. */
  readonly authorization: string | undefined
  /** A cached page younger than this is served without asking the upstream. */
  readonly ttlMs: number
  /** A cached page is served, flagged stale, up to this age when the upstream fails. */
  readonly staleMs: number
  /** An upstream 404 is remembered this long. */
  readonly negativeTtlMs: number
  readonly timeouts: Timeouts
  readonly breaker: BreakerSettings
  /** Largest project page accepted (decompressed). */
  readonly maxPageBytes: number
  readonly maxRedirects: number
}

/** All upstream settings; `upstreams` is empty when none is configured. */
export interface UpstreamConfig extends CacheSettings {
  readonly upstreams: readonly UpstreamSettings[]
  readonly neverUpstream: readonly string[]
  readonly merge: readonly string[]
  readonly offline: boolean
}

/** Flag values as commander hands them over (repeatable ones as lists). */
export interface UpstreamFlags {
  readonly upstream?: readonly string[]
  readonly neverUpstream?: readonly string[]
  readonly mergeUpstream?: readonly string[]
  readonly offline?: boolean
  /** Seconds a cached page is fresh. */
  readonly upstreamTtl?: string
  /** Seconds an upstream may take to send the first byte of its answer. */
  readonly upstreamTimeout?: string
  /** The size cap of cached upstream files (cache-settings.ts). */
  readonly upstreamCacheMax?: string
  /** pin or follow (cache-settings.ts). */
  readonly upstreamHashChange?: string
}

/** Defaults of every upstream (PyPI's pages carry max-age=600). */
export const UPSTREAM_DEFAULTS = {
  ttlMs: 10 * 60_000,
  staleMs: 7 * 24 * 3600_000,
  negativeTtlMs: 5 * 60_000,
  timeouts: { connectMs: 3_000, firstByteMs: 10_000, idleMs: 30_000 },
  breaker: { failures: 5, openMs: 60_000 },
  maxPageBytes: 64 * 1024 * 1024,
  maxRedirects: 5,
} as const

/** The environment variables (lists separated by whitespace; patterns and names also by commas). */
export const UPSTREAM_ENV = {
  upstream: 'EGGSERVE_UPSTREAM',
  neverUpstream: 'EGGSERVE_NEVER_UPSTREAM',
  mergeUpstream: 'EGGSERVE_MERGE_UPSTREAM',
  offline: 'EGGSERVE_OFFLINE',
  upstreamTtl: 'EGGSERVE_UPSTREAM_TTL',
  upstreamTimeout: 'EGGSERVE_UPSTREAM_TIMEOUT',
  ...CACHE_ENV,
} as const

/** Flags win over the environment, list by list. */
export function resolveUpstreamConfig(
  flags: UpstreamFlags,
  env: Readonly<Record<string, string | undefined>>,
): UpstreamConfig {
  const list = (
    given: readonly string[] | undefined,
    name: string,
    separators: RegExp,
  ): { values: string[]; source: string } =>
    given !== undefined && given.length > 0
      ? { values: [...given], source: `--${name}` }
      : {
          values: (env[`EGGSERVE_${name.toUpperCase().replaceAll('-', '_')}`] ?? '')
            .split(separators)
            .filter((item) => item !== ''),
          source: `EGGSERVE_${name.toUpperCase().replaceAll('-', '_')}`,
        }
  const urls = list(flags.upstream, 'upstream', /\s+/)
  const patterns = list(flags.neverUpstream, 'never-upstream', /[\s,]+/)
  const merge = list(flags.mergeUpstream, 'merge-upstream', /[\s,]+/)
  for (const pattern of patterns.values) {
    try {
      compileNamePattern(pattern)
    } catch (err) {
      throw new ConfigError(`${err instanceof Error ? err.message : String(err)} (${patterns.source})`)
    }
  }
  for (const name of merge.values) {
    if (!isValidProjectName(name))
      throw new ConfigError(`Invalid project name "${name}" (${merge.source}): expected a project name such as numpy`)
  }
  const offlineText = flags.offline === true ? 'true' : (env[UPSTREAM_ENV.offline] ?? 'false')
  const offline = ['true', 'yes', 'on', '1'].includes(offlineText.toLowerCase())
  if (!offline && !['false', 'no', 'off', '0', ''].includes(offlineText.toLowerCase())) {
    throw new ConfigError(
      `Invalid boolean "${offlineText}" (${UPSTREAM_ENV.offline}): expected true/yes/on/1 or false/no/off/0`,
    )
  }
  const ttlMs = seconds(flags.upstreamTtl, env[UPSTREAM_ENV.upstreamTtl], '--upstream-ttl', UPSTREAM_DEFAULTS.ttlMs)
  const firstByteMs = seconds(
    flags.upstreamTimeout,
    env[UPSTREAM_ENV.upstreamTimeout],
    '--upstream-timeout',
    UPSTREAM_DEFAULTS.timeouts.firstByteMs,
  )
  // A connection takes no longer than an answer may.
  const timeouts = {
    ...UPSTREAM_DEFAULTS.timeouts,
    connectMs: Math.min(UPSTREAM_DEFAULTS.timeouts.connectMs, firstByteMs),
    firstByteMs,
  }
  return Object.freeze({
    upstreams: urls.values.map((url) => ({ ...parseUpstreamUrl(url, urls.source), ttlMs, timeouts })),
    neverUpstream: patterns.values,
    merge: merge.values.map(normalizeProjectName),
    offline,
    ...resolveCacheSettings(flags, env),
  })
}

// A number of seconds from a flag or its variable (flag first), in milliseconds.
function seconds(flag: string | undefined, fromEnv: string | undefined, name: string, defaultMs: number): number {
  const given = flag ?? (fromEnv === '' ? undefined : fromEnv)
  if (given === undefined) return defaultMs
  const value = /^\d+(\.\d+)?$/.test(given.trim()) ? Number(given.trim()) : NaN
  if (!Number.isFinite(value) || value > 86_400 * 30) {
    const source = flag === undefined ? `EGGSERVE_${name.slice(2).toUpperCase().replaceAll('-', '_')}` : name
    throw new ConfigError(`Invalid number of seconds "${given}" (${source}): expected a number from 0 to 2592000`)
  }
  return Math.round(value * 1000)
}

/**
 * An upstream URL: http or https, no query or fragment; user:password in it become the
 * Authorization header (Basic) and are removed from the URL, so they never reach a log.
 * @example parseUpstreamUrl('https://u:p@host/simple').url // 'https://host/simple/'
 */
export function parseUpstreamUrl(value: string, source = '--upstream'): UpstreamSettings {
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw new ConfigError(
      `Invalid upstream URL (${source}): expected an absolute http or https URL, e.g. https://pypi.org/simple/`,
    )
  }
  const shown = `${url.protocol}//${url.host}${url.pathname}`
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`Invalid upstream URL "${shown}" (${source}): expected an http or https URL`)
  if (url.search !== '' || url.hash !== '')
    throw new ConfigError(`Invalid upstream URL "${shown}" (${source}): a query or fragment cannot be part of it`)
  const authorization =
    url.username === '' && url.password === ''
      ? undefined
      : `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
  url.username = ''
  url.password = ''
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}/`
  return { url: base, label: base, authorization, ...UPSTREAM_DEFAULTS }
}
