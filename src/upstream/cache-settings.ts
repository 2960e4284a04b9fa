// The upstream cache's own settings: --upstream-cache-max SIZE (the size cap of cached files)
// and --upstream-hash-change pin|follow, with their EGGSERVE_* variables. Pure.
import { ConfigError } from '../errors.js'

/** What to do when the upstream page shows another hash for a file already cached. */
export type HashChangePolicy = 'pin' | 'follow'

/** The cache settings, as resolveUpstreamConfig adds them to the upstream configuration. */
export interface CacheSettings {
  /** Largest total size of cached upstream files, or undefined for no cap. */
  readonly cacheMaxBytes: number | undefined
  readonly hashChange: HashChangePolicy
}

export const CACHE_ENV = {
  upstreamCacheMax: 'EGGSERVE_UPSTREAM_CACHE_MAX',
  upstreamHashChange: 'EGGSERVE_UPSTREAM_HASH_CHANGE',
} as const

/** Flags first, then the variables (an empty variable counts as unset). */
export function resolveCacheSettings(
  flags: { readonly upstreamCacheMax?: string; readonly upstreamHashChange?: string },
  env: Readonly<Record<string, string | undefined>>,
): CacheSettings {
  const pick = (flag: string | undefined, name: string, variable: string): { value?: string; source: string } => {
    if (flag !== undefined) return { value: flag, source: name }
    const fromEnv = env[variable]
    return fromEnv === undefined || fromEnv === '' ? { source: variable } : { value: fromEnv, source: variable }
  }
  const max = pick(flags.upstreamCacheMax, '--upstream-cache-max', CACHE_ENV.upstreamCacheMax)
  const change = pick(flags.upstreamHashChange, '--upstream-hash-change', CACHE_ENV.upstreamHashChange)
  const policy = (change.value ?? 'pin').trim().toLowerCase()
  if (policy !== 'pin' && policy !== 'follow')
    throw new ConfigError(
      `Invalid hash change policy "${change.value ?? ''}" (${change.source}): expected pin or follow`,
    )
  return {
    cacheMaxBytes: max.value === undefined ? undefined : parseCacheSize(max.value, max.source),
    hashChange: policy,
  }
}

/**
 * A size in bytes, or with K, M, G or T (powers of 1024).
 * @example parseCacheSize('10G') // 10737418240
 */
export function parseCacheSize(value: string, source = '--upstream-cache-max'): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim())
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[(match?.[2] ?? '').toLowerCase()] ?? NaN
  const size = match === null ? NaN : Math.round(Number(match[1]) * unit)
  if (!Number.isSafeInteger(size) || size < 1)
    throw new ConfigError(
      `Invalid size "${value}" (${source}): expected a number of bytes, optionally with K, M, G or T, e.g. 10G`,
    )
  return size
}
