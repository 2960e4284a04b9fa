// The upstream configuration file (--config FILE, TOML; docs/upstream.md "Configuration
// file"): one [[upstream]] table per upstream, in order, each with its own TTLs, timeouts,
// credentials, offline switch, cooldown, circuit breaker and direct downloads, and the
// top-level lists. Read and checked here; merged with flags and variables by
// resolveUpstreamConfig. Every message names the file, the key and (where it can be found) the
// line, and never shows a password: a TOML syntax error's own text quotes the offending line,
// which may hold a URL with credentials, so only its first sentence and position are kept.
import { parse, TomlError } from 'smol-toml'
import type { UndatedFiles } from '../core/cooldown.js'
import { parseDuration } from '../core/duration.js'
import { parseByteCount } from '../core/bytes.js'
import { compileNamePattern } from '../core/name-rule.js'
import { isValidProjectName, normalizeProjectName } from '../core/names.js'
import { ConfigError } from '../errors.js'
import { BREAKER_LIMITS, parseUpstreamUrl, type UpstreamSettings } from './upstream-settings.js'

/** One [[upstream]] table: its URL and credentials, and the settings it gives (absent: not given). */
export interface UpstreamFileEntry {
  /** The URL without credentials, ending in "/". */
  readonly url: string
  /** Basic credentials from the URL or from username + password-env/password-file. Never logged. */
  readonly authorization: string | undefined
  readonly ttlMs?: number
  readonly staleMs?: number
  readonly negativeTtlMs?: number
  readonly connectMs?: number
  readonly firstByteMs?: number
  readonly idleMs?: number
  readonly offline?: boolean
  readonly minReleaseAgeMs?: number
  readonly undated?: UndatedFiles
  readonly maxRedirects?: number
  readonly maxPageBytes?: number
  /** Failures in a row that open its circuit breaker. */
  readonly breakerFailures?: number
  /** How long its breaker stays open. */
  readonly breakerOpenMs?: number
  /** Its files are listed at their upstream URLs (docs/upstream.md, "Direct downloads"). */
  readonly directDownloads?: boolean
}

/** The whole file, checked. */
export interface UpstreamFileConfig {
  /** The file as it was named (for messages). */
  readonly path: string
  readonly upstreams: readonly UpstreamFileEntry[]
  readonly neverUpstream?: readonly string[]
  /** Normalized project names. */
  readonly merge?: readonly string[]
  readonly offline?: boolean
  readonly minReleaseAgeMs?: number
  readonly undated?: UndatedFiles
}

/** What reading the file needs from outside. */
export interface ConfigFileContext {
  readonly env: Readonly<Record<string, string | undefined>>
  /** The contents of a password-file, as written in the file (the caller resolves the path); throws ConfigError. */
  readonly readSecret: (path: string) => string
}

const TOP_KEYS = [
  'upstream',
  'never-upstream',
  'merge-upstream',
  'offline',
  'min-release-age',
  'min-release-age-undated',
] as const
const UPSTREAM_KEYS = [
  'url',
  'ttl',
  'stale-max-age',
  'negative-ttl',
  'connect-timeout',
  'timeout',
  'idle-timeout',
  'username',
  'password-env',
  'password-file',
  'offline',
  'min-release-age',
  'min-release-age-undated',
  'max-redirects',
  'max-page-size',
  'breaker-failures',
  'breaker-open-for',
  'direct-downloads',
] as const

const DAY_MS = 86_400_000
// Upper bounds: a value past them is a typo (a TTL of years), not a wish.
const LIMITS = {
  ttl: 30 * DAY_MS,
  'stale-max-age': 365 * DAY_MS,
  'negative-ttl': 30 * DAY_MS,
  'connect-timeout': 3_600_000,
  timeout: 3_600_000,
  'idle-timeout': 3_600_000,
  'min-release-age': 365 * DAY_MS,
  'breaker-open-for': BREAKER_LIMITS.openMs,
} as const

/** Where in the file a value is: a top-level key, or a key of the n-th (0-based) [[upstream]] table. */
interface KeyAt {
  readonly key: string
  readonly table?: number
}

/**
 * Read and check the configuration file `text` (named `path` in messages). Throws a ConfigError
 * naming the file, the key and its line for the first problem found.
 */
export function parseUpstreamFile(text: string, path: string, context: ConfigFileContext): UpstreamFileConfig {
  const fail = (at: KeyAt | undefined, problem: string): ConfigError => {
    const where =
      at === undefined
        ? ''
        : `${at.table === undefined ? '' : `[[upstream]] #${String(at.table + 1)}, `}key "${at.key}"${lineOf(text, at)}: `
    return new ConfigError(`Invalid configuration file "${path}": ${where}${problem}`)
  }
  let doc: Record<string, unknown>
  try {
    doc = parse(text)
  } catch (err) {
    if (err instanceof TomlError) {
      // The first sentence only: the rest is a code block quoting the line.
      const first = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '')
      throw fail(undefined, `${first} (line ${String(err.line)}, column ${String(err.column)})`)
    }
    throw fail(undefined, err instanceof Error ? err.message : String(err))
  }
  unknownKeys(doc, TOP_KEYS, undefined, fail)
  const read = new Reader(fail)
  const tables = tablesOf(doc.upstream ?? [])
  if (tables === undefined) throw fail({ key: 'upstream' }, 'expected [[upstream]] tables (an array of tables)')
  const upstreams = tables.map((table, index) => upstreamEntry(table, index, read, context))
  const seen = new Set<string>()
  upstreams.forEach((entry, index) => {
    if (seen.has(entry.url)) throw fail({ key: 'url', table: index }, `${entry.url} is listed twice`)
    seen.add(entry.url)
  })
  const neverUpstream = read.strings(doc, { key: 'never-upstream' })
  neverUpstream?.forEach((pattern) => {
    try {
      compileNamePattern(pattern)
    } catch (err) {
      throw fail({ key: 'never-upstream' }, err instanceof Error ? err.message : String(err))
    }
  })
  const merge = read.strings(doc, { key: 'merge-upstream' })
  merge?.forEach((name) => {
    if (!isValidProjectName(name))
      throw fail({ key: 'merge-upstream' }, `"${name}" is not a project name (expected one such as numpy)`)
  })
  return omitUndefined<UpstreamFileConfig>({
    path,
    upstreams,
    neverUpstream,
    merge: merge?.map(normalizeProjectName),
    offline: read.boolean(doc, { key: 'offline' }),
    minReleaseAgeMs: read.duration(doc, { key: 'min-release-age' }, 0),
    undated: read.undated(doc, { key: 'min-release-age-undated' }),
  })
}

function upstreamEntry(
  table: Record<string, unknown>,
  index: number,
  read: Reader,
  context: ConfigFileContext,
): UpstreamFileEntry {
  const at = (key: string): KeyAt => ({ key, table: index })
  unknownKeys(table, UPSTREAM_KEYS, index, read.fail)
  if (typeof table.url !== 'string')
    throw read.fail(at('url'), table.url === undefined ? 'missing: each [[upstream]] needs a url' : 'expected a string')
  let parsed: UpstreamSettings
  try {
    parsed = parseUpstreamUrl(table.url, 'url')
  } catch (err) {
    // parseUpstreamUrl's message shows no credentials; keep only what follows the source.
    throw read.fail(at('url'), err instanceof Error ? err.message : String(err))
  }
  const username = read.string(table, at('username'))
  const passwordEnv = read.string(table, at('password-env'))
  const passwordFile = read.string(table, at('password-file'))
  let authorization = parsed.authorization
  if (username !== undefined || passwordEnv !== undefined || passwordFile !== undefined) {
    if (authorization !== undefined)
      throw read.fail(at('username'), 'the url has credentials in it already: give them in one place')
    if (username === undefined)
      throw read.fail(at(passwordEnv === undefined ? 'password-file' : 'password-env'), 'needs a username')
    if (passwordEnv !== undefined && passwordFile !== undefined)
      throw read.fail(at('password-file'), 'give password-env or password-file, not both')
    const password = secret({ passwordEnv, passwordFile }, context, (key, problem) => read.fail(at(key), problem))
    authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
  }
  const directDownloads = read.boolean(table, at('direct-downloads'))
  // A page never carries credentials, and without them a private upstream's files answer 401.
  if (directDownloads === true && authorization !== undefined)
    throw read.fail(
      at('direct-downloads'),
      'cannot be true for an upstream with credentials: clients would need them to download its files, and a page never carries them (remove the credentials if its files are public, or keep downloads proxied)',
    )
  return omitUndefined<UpstreamFileEntry>({
    url: parsed.url,
    authorization,
    ttlMs: read.duration(table, at('ttl'), 0),
    staleMs: read.duration(table, at('stale-max-age'), 0),
    negativeTtlMs: read.duration(table, at('negative-ttl'), 0),
    connectMs: read.duration(table, at('connect-timeout'), 1),
    firstByteMs: read.duration(table, at('timeout'), 1),
    idleMs: read.duration(table, at('idle-timeout'), 1),
    offline: read.boolean(table, at('offline')),
    minReleaseAgeMs: read.duration(table, at('min-release-age'), 0),
    undated: read.undated(table, at('min-release-age-undated')),
    maxRedirects: read.integer(table, at('max-redirects'), 20),
    maxPageBytes: read.size(table, at('max-page-size')),
    breakerFailures: read.integer(table, at('breaker-failures'), BREAKER_LIMITS.failures, 1),
    breakerOpenMs: read.duration(table, at('breaker-open-for'), 1),
    directDownloads,
  })
}

// A password from the variable or the file named; its value is never part of a message.
function secret(
  from: { passwordEnv: string | undefined; passwordFile: string | undefined },
  context: ConfigFileContext,
  fail: (key: string, problem: string) => ConfigError,
): string {
  if (from.passwordEnv !== undefined) {
    const value = context.env[from.passwordEnv]
    if (value === undefined || value === '')
      throw fail('password-env', `the environment variable ${from.passwordEnv} is not set (or is empty)`)
    return value
  }
  if (from.passwordFile === undefined) return ''
  let text: string
  try {
    text = context.readSecret(from.passwordFile)
  } catch (err) {
    throw fail('password-file', err instanceof Error ? err.message : String(err))
  }
  // A file written by `echo` ends in a newline that is no part of the password.
  const password = text.replace(/\r?\n$/, '')
  if (password === '') throw fail('password-file', `${from.passwordFile} is empty`)
  return password
}

/** Typed reads of optional values; each throws a ConfigError naming the key. */
class Reader {
  readonly fail: (at: KeyAt, problem: string) => ConfigError

  constructor(fail: (at: KeyAt | undefined, problem: string) => ConfigError) {
    this.fail = fail
  }

  string(table: Record<string, unknown>, at: KeyAt): string | undefined {
    const value = table[at.key]
    if (value === undefined) return undefined
    if (typeof value !== 'string' || value === '') throw this.fail(at, 'expected a non-empty string')
    return value
  }

  strings(table: Record<string, unknown>, at: KeyAt): string[] | undefined {
    const value = table[at.key]
    if (value === undefined) return undefined
    const problem = 'expected a list of strings, e.g. ["acme-*"]'
    if (!Array.isArray(value)) throw this.fail(at, problem)
    const items: unknown[] = value
    if (!items.every((item): item is string => typeof item === 'string')) throw this.fail(at, problem)
    return items
  }

  boolean(table: Record<string, unknown>, at: KeyAt): boolean | undefined {
    const value = table[at.key]
    if (value === undefined || typeof value === 'boolean') return value
    throw this.fail(at, 'expected true or false (without quotes)')
  }

  /** A duration in ms from a string ("10m", "600s", "7d") or a number of seconds; at least `minMs`. */
  duration(table: Record<string, unknown>, at: KeyAt, minMs: number): number | undefined {
    const value = table[at.key]
    if (value === undefined) return undefined
    const ms = typeof value === 'string' || typeof value === 'number' ? parseDuration(value) : undefined
    const max = (LIMITS as Readonly<Record<string, number>>)[at.key] ?? Infinity
    if (ms === undefined || ms < minMs || ms > max) {
      const shown = typeof value === 'string' ? `"${value}"` : typeof value === 'number' ? String(value) : 'a value'
      throw this.fail(
        at,
        `${shown} is not a duration${minMs > 0 ? ' above 0' : ''} up to ${String(max / DAY_MS)} ${max === DAY_MS ? 'day' : 'days'}: write e.g. "10m", "600s", "7d" or a number of seconds`,
      )
    }
    return ms
  }

  integer(table: Record<string, unknown>, at: KeyAt, max: number, min = 0): number | undefined {
    const value = table[at.key]
    if (value === undefined) return undefined
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      throw this.fail(at, `expected an integer from ${String(min)} to ${String(max)}`)
    return value
  }

  size(table: Record<string, unknown>, at: KeyAt): number | undefined {
    const value = table[at.key]
    if (value === undefined) return undefined
    const bytes =
      typeof value === 'number' && Number.isSafeInteger(value) && value > 0
        ? value
        : typeof value === 'string'
          ? parseByteCount(value)
          : undefined
    if (bytes === undefined || bytes < 1)
      throw this.fail(at, 'expected a number of bytes, or a string with K, M or G, e.g. "64M"')
    return bytes
  }

  undated(table: Record<string, unknown>, at: KeyAt): UndatedFiles | undefined {
    const value = table[at.key]
    if (value === undefined || value === 'hide' || value === 'keep') return value
    throw this.fail(at, 'expected "hide" or "keep"')
  }
}

function unknownKeys(
  table: Record<string, unknown>,
  known: readonly string[],
  index: number | undefined,
  fail: (at: KeyAt, problem: string) => ConfigError,
): void {
  for (const key of Object.keys(table)) {
    if (known.includes(key)) continue
    const at: KeyAt = index === undefined ? { key } : { key, table: index }
    // TOML puts every key after a [[upstream]] header into that table.
    if (index !== undefined && (TOP_KEYS as readonly string[]).includes(key))
      throw fail(at, 'belongs at the top of the file, before the first [[upstream]]')
    throw fail(at, `unknown key (the keys here are ${known.join(', ')})`)
  }
}

/**
 * The line of a key, found by reading the text again (the parser gives positions only for
 * syntax errors): the first `key =` in the top level or in the n-th [[upstream]] table.
 * Empty when it cannot be found (a key written in an inline table).
 */
function lineOf(text: string, at: KeyAt): string {
  let table: number | undefined
  let inOther = false
  const lines = text.split(/\r?\n/)
  let seenTables = -1
  for (const [number, line] of lines.entries()) {
    const trimmed = line.trim()
    if (/^\[\[\s*upstream\s*\]\]/.test(trimmed)) {
      seenTables++
      table = seenTables
      inOther = false
      continue
    }
    if (trimmed.startsWith('[')) {
      inOther = true
      continue
    }
    if (inOther || table !== at.table) continue
    const key = /^(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=/.exec(trimmed)
    if ((key?.[1] ?? key?.[2] ?? key?.[3]) === at.key) return ` (line ${String(number + 1)})`
  }
  return ''
}

// An array of tables ([[upstream]]), or undefined when the value is anything else.
function tablesOf(value: unknown): Record<string, unknown>[] | undefined {
  if (!Array.isArray(value)) return undefined
  const items: unknown[] = value
  return items.every(isTable) ? items : undefined
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

// exactOptionalPropertyTypes: an optional property is absent, never undefined. The cast is
// sound: only entries whose value is undefined are dropped, and each of those is optional in T
// (or reads as undefined all the same).
function omitUndefined<T extends object>(value: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T
}
