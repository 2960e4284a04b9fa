// The upstream settings: --upstream URL (repeatable, in order), --never-upstream PATTERN and
// --merge-upstream NAME (repeatable), --offline, --min-release-age, the circuit breaker's
// --upstream-breaker-failures and --upstream-breaker-open-for, --upstream-direct-downloads, their
// EGGSERVE_* variables, and the configuration file's (config-file.ts), merged. Pure.
import { NO_COOLDOWN, type CooldownRule } from '../core/cooldown.js'
import { parseDuration } from '../core/duration.js'
import { compileNamePattern } from '../core/name-rule.js'
import { normalizeProjectName, isValidProjectName } from '../core/names.js'
import { ConfigError } from '../errors.js'
import { CACHE_ENV, resolveCacheSettings, type CacheSettings } from './cache-settings.js'
import type { BreakerSettings } from './circuit-breaker.js'
import type { UpstreamFileConfig, UpstreamFileEntry } from './config-file.js'
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
  /** Never contacted: its cached pages list only cached files (--offline, or its own `offline`). */
  readonly offline: boolean
  /** The minimum release age of its files (PEP 700 upload-time). */
  readonly cooldown: CooldownRule
  /**
   * Pages list its files at their own (absolute) URLs, so clients download them from it (or its
   * CDN) and eggserve never does. Never together with credentials (docs/upstream.md, "Direct downloads").
   */
  readonly directDownloads: boolean
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
  /** The minimum release age, a duration ("7d"). */
  readonly minReleaseAge?: string
  /** The size cap of cached upstream files (cache-settings.ts). */
  readonly upstreamCacheMax?: string
  /** pin or follow (cache-settings.ts). */
  readonly upstreamHashChange?: string
  /** Failures in a row that open an upstream's circuit breaker. */
  readonly upstreamBreakerFailures?: string
  /** How long an open breaker stays open, a duration ("60s"). */
  readonly upstreamBreakerOpenFor?: string
  /** Pages list upstream files at the upstream's URLs (the default of upstreams whose table does not say). */
  readonly upstreamDirectDownloads?: boolean
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
  offline: false,
  cooldown: NO_COOLDOWN,
  directDownloads: false,
} as const

/** The environment variables (lists separated by whitespace; patterns and names also by commas). */
export const UPSTREAM_ENV = {
  upstream: 'EGGSERVE_UPSTREAM',
  neverUpstream: 'EGGSERVE_NEVER_UPSTREAM',
  mergeUpstream: 'EGGSERVE_MERGE_UPSTREAM',
  offline: 'EGGSERVE_OFFLINE',
  upstreamTtl: 'EGGSERVE_UPSTREAM_TTL',
  upstreamTimeout: 'EGGSERVE_UPSTREAM_TIMEOUT',
  minReleaseAge: 'EGGSERVE_MIN_RELEASE_AGE',
  upstreamBreakerFailures: 'EGGSERVE_UPSTREAM_BREAKER_FAILURES',
  upstreamBreakerOpenFor: 'EGGSERVE_UPSTREAM_BREAKER_OPEN_FOR',
  upstreamDirectDownloads: 'EGGSERVE_UPSTREAM_DIRECT_DOWNLOADS',
  ...CACHE_ENV,
} as const

/**
 * Flags win over the environment, and both over the configuration file (`file`), setting by
 * setting: a list given as a flag or variable replaces the file's (`--upstream` replaces its
 * [[upstream]] tables), and a TTL, timeout, minimum release age or breaker setting given so
 * applies to every upstream. `offline` adds up: --offline (or the file's top-level `offline`)
 * makes every upstream offline, an upstream's own `offline` that one. Direct downloads are the
 * exception: --upstream-direct-downloads is the default of the upstreams whose table does not
 * say, so one with credentials can stay proxied (`direct-downloads = false`).
 */
export function resolveUpstreamConfig(
  flags: UpstreamFlags,
  env: Readonly<Record<string, string | undefined>>,
  file?: UpstreamFileConfig,
): UpstreamConfig {
  const list = (
    given: readonly string[] | undefined,
    name: string,
    separators: RegExp,
  ): { values: string[]; source: string } | undefined => {
    if (given !== undefined && given.length > 0) return { values: [...given], source: `--${name}` }
    const variable = `EGGSERVE_${name.toUpperCase().replaceAll('-', '_')}`
    const values = (env[variable] ?? '').split(separators).filter((item) => item !== '')
    return values.length > 0 ? { values, source: variable } : undefined
  }
  const urls = list(flags.upstream, 'upstream', /\s+/)
  const patterns = list(flags.neverUpstream, 'never-upstream', /[\s,]+/)
  const merge = list(flags.mergeUpstream, 'merge-upstream', /[\s,]+/)
  for (const pattern of patterns?.values ?? []) {
    try {
      compileNamePattern(pattern)
    } catch (err) {
      throw new ConfigError(`${err instanceof Error ? err.message : String(err)} (${patterns?.source ?? ''})`)
    }
  }
  for (const name of merge?.values ?? []) {
    if (!isValidProjectName(name))
      throw new ConfigError(
        `Invalid project name "${name}" (${merge?.source ?? ''}): expected a project name such as numpy`,
      )
  }
  const offline = resolveBoolean(flags.offline, env, UPSTREAM_ENV.offline) ?? file?.offline ?? false
  const common = commonSettings(flags, env)
  const entries: readonly UpstreamFileEntry[] =
    urls === undefined
      ? (file?.upstreams ?? [])
      : urls.values.map((url) => {
          const { url: base, authorization } = parseUpstreamUrl(url, urls.source)
          return { url: base, authorization }
        })
  return Object.freeze({
    upstreams: entries.map((entry) => upstreamSettings(entry, { ...common, offline, file })),
    neverUpstream: patterns?.values ?? [...(file?.neverUpstream ?? [])],
    merge: merge?.values.map(normalizeProjectName) ?? [...(file?.merge ?? [])],
    offline,
    ...resolveCacheSettings(flags, env),
  })
}

/** The settings given as flags or variables, for every upstream (undefined: not given). */
interface CommonSettings {
  readonly ttlMs: number | undefined
  readonly firstByteMs: number | undefined
  readonly minReleaseAgeMs: number | undefined
  readonly breakerFailures: number | undefined
  readonly breakerOpenMs: number | undefined
  readonly directDownloads: boolean | undefined
}

function commonSettings(flags: UpstreamFlags, env: Readonly<Record<string, string | undefined>>): CommonSettings {
  const given = (flag: string | undefined, variable: string): string | undefined =>
    flag ?? (env[variable] === '' ? undefined : env[variable])
  const age = given(flags.minReleaseAge, UPSTREAM_ENV.minReleaseAge)
  let minReleaseAgeMs: number | undefined
  if (age !== undefined) {
    minReleaseAgeMs = parseDuration(age)
    if (minReleaseAgeMs === undefined || minReleaseAgeMs > 365 * 86_400_000) {
      const source = flags.minReleaseAge === undefined ? UPSTREAM_ENV.minReleaseAge : '--min-release-age'
      throw new ConfigError(
        `Invalid duration "${age}" (${source}): expected e.g. "7d", "36h", "90m" or a number of seconds, up to 365 days`,
      )
    }
  }
  return {
    ttlMs: seconds(flags.upstreamTtl, env[UPSTREAM_ENV.upstreamTtl], '--upstream-ttl'),
    firstByteMs: seconds(flags.upstreamTimeout, env[UPSTREAM_ENV.upstreamTimeout], '--upstream-timeout'),
    minReleaseAgeMs,
    ...breakerSettings(flags, given),
    directDownloads: resolveBoolean(flags.upstreamDirectDownloads, env, UPSTREAM_ENV.upstreamDirectDownloads),
  }
}

/** The bounds of the breaker's settings: past them a value is a typo, not a wish. */
export const BREAKER_LIMITS = { failures: 1_000, openMs: 86_400_000 } as const

// --upstream-breaker-failures (a count) and --upstream-breaker-open-for (a duration), or their variables.
function breakerSettings(
  flags: UpstreamFlags,
  read: (flag: string | undefined, variable: string) => string | undefined,
): Pick<CommonSettings, 'breakerFailures' | 'breakerOpenMs'> {
  const failures = read(flags.upstreamBreakerFailures, UPSTREAM_ENV.upstreamBreakerFailures)
  const count = failures !== undefined && /^\d+$/.test(failures.trim()) ? Number(failures.trim()) : undefined
  if (failures !== undefined && (count === undefined || count < 1 || count > BREAKER_LIMITS.failures)) {
    const from =
      flags.upstreamBreakerFailures === undefined ? UPSTREAM_ENV.upstreamBreakerFailures : '--upstream-breaker-failures'
    throw new ConfigError(
      `Invalid number of failures "${failures}" (${from}): expected an integer from 1 to ${String(BREAKER_LIMITS.failures)}`,
    )
  }
  const open = read(flags.upstreamBreakerOpenFor, UPSTREAM_ENV.upstreamBreakerOpenFor)
  const openMs = open === undefined ? undefined : parseDuration(open)
  if (open !== undefined && (openMs === undefined || openMs < 1 || openMs > BREAKER_LIMITS.openMs)) {
    const from =
      flags.upstreamBreakerOpenFor === undefined ? UPSTREAM_ENV.upstreamBreakerOpenFor : '--upstream-breaker-open-for'
    throw new ConfigError(
      `Invalid duration "${open}" (${from}): expected e.g. "30s", "2m", "500ms" or a number of seconds, above 0 and up to 1 day`,
    )
  }
  return { breakerFailures: count, breakerOpenMs: openMs }
}

// One upstream: a flag or variable, else its table's value, else the file's top-level value
// (offline, the cooldown), else the default.
function upstreamSettings(
  entry: UpstreamFileEntry,
  given: CommonSettings & { offline: boolean; file: UpstreamFileConfig | undefined },
): UpstreamSettings {
  const defaults = UPSTREAM_DEFAULTS
  const firstByteMs = given.firstByteMs ?? entry.firstByteMs ?? defaults.timeouts.firstByteMs
  return {
    url: entry.url,
    label: entry.url,
    authorization: entry.authorization,
    ttlMs: given.ttlMs ?? entry.ttlMs ?? defaults.ttlMs,
    staleMs: entry.staleMs ?? defaults.staleMs,
    negativeTtlMs: entry.negativeTtlMs ?? defaults.negativeTtlMs,
    timeouts: {
      // A connection takes no longer than an answer may, unless the file says otherwise.
      connectMs: entry.connectMs ?? Math.min(defaults.timeouts.connectMs, firstByteMs),
      firstByteMs,
      idleMs: entry.idleMs ?? defaults.timeouts.idleMs,
    },
    breaker: {
      failures: given.breakerFailures ?? entry.breakerFailures ?? defaults.breaker.failures,
      openMs: given.breakerOpenMs ?? entry.breakerOpenMs ?? defaults.breaker.openMs,
    },
    maxPageBytes: entry.maxPageBytes ?? defaults.maxPageBytes,
    maxRedirects: entry.maxRedirects ?? defaults.maxRedirects,
    offline: given.offline || entry.offline === true,
    cooldown: {
      minAgeMs: given.minReleaseAgeMs ?? entry.minReleaseAgeMs ?? given.file?.minReleaseAgeMs ?? 0,
      undated: entry.undated ?? given.file?.undated ?? NO_COOLDOWN.undated,
    },
    directDownloads: directDownloads(entry, given.directDownloads),
  }
}

// The table's `direct-downloads`, else the flag's (or variable's), else off. Credentials and
// direct downloads exclude each other: a page must never carry a password (the file URLs would
// need it), and without it a private upstream's files answer 401 to every client. The file's
// own table is checked with its line in config-file.ts; this catches the flag and --upstream.
function directDownloads(entry: UpstreamFileEntry, flag: boolean | undefined): boolean {
  const direct = entry.directDownloads ?? flag ?? false
  if (direct && entry.authorization !== undefined)
    throw new ConfigError(
      `Invalid upstream settings for ${entry.url}: --upstream-direct-downloads (${UPSTREAM_ENV.upstreamDirectDownloads}) cannot be used with an upstream that has credentials: clients would need them to download its files, and a page never carries them. Give that upstream direct-downloads = false in the configuration file, or remove its credentials if its files are public`,
    )
  return direct
}

// A switch (true only, as commander gives it), else its variable when set; undefined when neither says anything.
function resolveBoolean(
  flag: boolean | undefined,
  env: Readonly<Record<string, string | undefined>>,
  variable: string,
): boolean | undefined {
  if (flag === true) return true
  const text = (env[variable] ?? '').toLowerCase()
  if (text === '') return undefined
  if (['true', 'yes', 'on', '1'].includes(text)) return true
  if (['false', 'no', 'off', '0'].includes(text)) return false
  throw new ConfigError(
    `Invalid boolean "${env[variable] ?? ''}" (${variable}): expected true/yes/on/1 or false/no/off/0`,
  )
}

// A number of seconds from a flag or its variable (flag first), in milliseconds; undefined when neither is given.
function seconds(flag: string | undefined, fromEnv: string | undefined, name: string): number | undefined {
  const given = flag ?? (fromEnv === '' ? undefined : fromEnv)
  if (given === undefined) return undefined
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
