// Configuration: defaults < EGGSERVE_* environment < flags, merged and checked in one pure function.
import type { Level } from 'pino'
import { ANCHOR_ALGORITHMS, isHashAlgorithm, type HashAlgorithm } from './core/digests.js'
import { ConfigError } from './errors.js'

/** The daemon's settings, frozen. */
export interface Config {
  readonly eggdir: string
  readonly port: number
  readonly host: string
  /** Append logs to this file instead of writing them to stdout. */
  readonly logFile: string | undefined
  readonly logLevel: Level
  readonly hashAlgorithm: HashAlgorithm
  /** Start even when the layout has problems, leaving the offending files out. */
  readonly lenient: boolean
  /** How long in-flight requests may run after SIGTERM/SIGINT. */
  readonly shutdownTimeoutMs: number
  /** Cache-Control of index pages and API documents. */
  readonly cacheControl: string
}

/** Flag values as commander hands them over: strings, or true for boolean flags. */
export interface RawFlags {
  readonly eggdir?: string
  readonly port?: string
  readonly host?: string
  readonly log?: string
  readonly logLevel?: string
  readonly hashAlgo?: string
  readonly lenient?: boolean
  readonly shutdownTimeout?: string
  readonly cacheControl?: string
}

/** A setting: its flag, its environment variable and its default, for parsing and for --help. */
export interface SettingSpec {
  readonly flag: string
  readonly env: string
  readonly defaultValue: string | undefined
}

/** Every setting, in --help order. */
export const SETTINGS = {
  eggdir: { flag: '--eggdir', env: 'EGGSERVE_EGGDIR', defaultValue: '.' },
  port: { flag: '--port', env: 'EGGSERVE_PORT', defaultValue: '31001' },
  host: { flag: '--host', env: 'EGGSERVE_HOST', defaultValue: '0.0.0.0' },
  log: { flag: '--log', env: 'EGGSERVE_LOG', defaultValue: undefined },
  logLevel: { flag: '--log-level', env: 'EGGSERVE_LOG_LEVEL', defaultValue: 'info' },
  hashAlgo: { flag: '--hash-algo', env: 'EGGSERVE_HASH_ALGO', defaultValue: 'md5' },
  lenient: { flag: '--lenient', env: 'EGGSERVE_LENIENT', defaultValue: 'false' },
  shutdownTimeout: { flag: '--shutdown-timeout', env: 'EGGSERVE_SHUTDOWN_TIMEOUT', defaultValue: '10' },
  // Revalidate every time (one cheap 304): pip 26.2 caches pages as Cache-Control says (checklist K-1).
  cacheControl: { flag: '--cache-control', env: 'EGGSERVE_CACHE_CONTROL', defaultValue: 'max-age=0, must-revalidate' },
} as const satisfies Record<keyof RawFlags, SettingSpec>

const LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace']

/** Merge flags over the environment over defaults, validate everything, and freeze the result. */
export function resolveConfig (flags: RawFlags, env: Readonly<Record<string, string | undefined>>): Config {
  const pick = (name: keyof typeof SETTINGS): { value: string | undefined; source: string } => {
    const spec: SettingSpec = SETTINGS[name]
    const flag = flags[name]
    if (flag !== undefined) return { value: String(flag), source: spec.flag }
    const fromEnv = env[spec.env]
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: spec.env }
    return { value: spec.defaultValue, source: 'default' }
  }
  const port = pick('port')
  const level = pick('logLevel')
  const algo = pick('hashAlgo')
  const lenient = pick('lenient')
  const grace = pick('shutdownTimeout')
  const cacheControl = pick('cacheControl')
  return Object.freeze({
    eggdir: pick('eggdir').value ?? '.',
    port: parsePort(port.value ?? '', port.source),
    host: pick('host').value ?? '0.0.0.0',
    logFile: pick('log').value,
    logLevel: parseLevel(level.value ?? '', level.source),
    hashAlgorithm: parseHashAlgorithm(algo.value ?? '', algo.source),
    lenient: parseBoolean(lenient.value ?? 'false', lenient.source),
    shutdownTimeoutMs: Math.round(parseSeconds(grace.value ?? '', grace.source) * 1000),
    cacheControl: parseHeaderValue(cacheControl.value ?? '', cacheControl.source),
  })
}

/** An integer port from 0 (any free port) to 65535. */
export function parsePort (value: string, source = '--port'): number {
  const port = /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(port) || port > 65535) {
    throw new ConfigError(`Invalid port "${value}" (${source}): expected an integer from 0 to 65535`)
  }
  return port
}

function parseHashAlgorithm (value: string, source: string): HashAlgorithm {
  if (isHashAlgorithm(value)) return value
  throw new ConfigError(`Invalid hash algorithm "${value}" (${source}): expected one of ${ANCHOR_ALGORITHMS.join(', ')}`)
}

function parseSeconds (value: string, source: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN
  if (!Number.isFinite(seconds) || seconds > 3600) {
    throw new ConfigError(`Invalid number of seconds "${value}" (${source}): expected a number from 0 to 3600`)
  }
  return seconds
}

function parseBoolean (value: string, source: string): boolean {
  const lower = value.toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(lower)) return true
  if (['0', 'false', 'no', 'off'].includes(lower)) return false
  throw new ConfigError(`Invalid boolean "${value}" (${source}): expected true or false`)
}

// A header value must be visible ASCII and spaces (RFC 9110 §5.5): no CR/LF that would split the response.
function parseHeaderValue (value: string, source: string): string {
  const trimmed = value.trim()
  if (trimmed !== '' && /^[\x20-\x7e]+$/.test(trimmed)) return trimmed
  throw new ConfigError(`Invalid header value "${value}" (${source}): expected printable ASCII, e.g. "max-age=600"`)
}

function parseLevel (value: string, source: string): Level {
  const level = LEVELS.find((candidate) => candidate === value)
  if (level !== undefined) return level
  throw new ConfigError(`Invalid log level "${value}" (${source}): expected one of ${LEVELS.join(', ')}`)
}
