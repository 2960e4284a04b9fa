// Configuration: defaults < the configuration file < EGGSERVE_* environment < flags, merged and
// checked in one function that is pure but for reading the files it is given.
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import {
  MAX_WINDOW_SECONDS,
  MIN_WINDOW_SECONDS,
  parseRedirectBase,
  type DownloadRedirect,
} from './core/download-redirect.js'
import type { Level } from 'pino'
import { resolvePasswordPath } from './auth/credential-path.js'
import { AUTH_ACTIONS, type AuthAction } from './core/auth-actions.js'
import { parseByteCount } from './core/bytes.js'
import { ANCHOR_ALGORITHMS, isHashAlgorithm, type HashAlgorithm } from './core/digests.js'
import { parseAccelPrefix } from './core/offload.js'
import { parseS3Location, type S3Location } from './core/s3-location.js'
import { ConfigError } from './errors.js'
import { resolveMetrics, type MetricsSetting } from './metrics/metrics-settings.js'
import { parsePublicUrl, parseTrustProxy } from './proxy-settings.js'
import { parseUpstreamFile, type UpstreamFileConfig } from './upstream/config-file.js'
import { resolveUpstreamConfig, type UpstreamConfig, type UpstreamFlags } from './upstream/upstream-settings.js'

/** The daemon's settings, frozen. */
export interface Config {
  readonly eggdir: string
  readonly port: number
  readonly host: string
  /** Append logs to this file instead of writing them to stdout. */
  readonly logFile: string | undefined
  readonly logLevel: Level
  /** Algorithm of the link fragments of the original tree (`/`, `/<folder>/`). */
  readonly hashAlgorithm: HashAlgorithm
  /** Algorithm of the link fragments of the PEP 503 tree (`/simple/`). */
  readonly simpleHashAlgorithm: HashAlgorithm
  /** Start even when the layout has problems, leaving the offending files out. */
  readonly lenient: boolean
  /** How long in-flight requests may run after SIGTERM/SIGINT. */
  readonly shutdownTimeoutMs: number
  /** Cache-Control of index pages and API documents. */
  readonly cacheControl: string
  /** Directory of the persistent hash and metadata cache; undefined when disabled. */
  readonly cacheDir: string | undefined
  /** Worker threads that hash ('auto': one per core; 0: hash in the main thread). */
  readonly hashWorkers: number | 'auto'
  /** Processes that serve requests on the one port ('auto': one per core; 1: this process alone). */
  readonly workers: number | 'auto'
  /** How often the whole tree is re-read as a safety net for missed events (0: never). */
  readonly reconcileIntervalMs: number
  /** htpasswd file of the users who may do what `authenticate` protects (`credential:NAME` resolved); undefined: none. */
  readonly passwordFile: string | undefined
  /** Actions that need credentials (pypiserver's -a); empty for `--authenticate .`. */
  readonly authenticate: readonly AuthAction[]
  /** Whether uploads are refused, need credentials, or are open to anyone. */
  readonly uploads: UploadMode
  /** Replace an existing file with different bytes instead of answering 409. */
  readonly overwrite: boolean
  /** Largest distribution file accepted by an upload, in bytes. */
  readonly maxUploadBytes: number
  /** Failed logins per client address and minute before it gets 429; 0: no limit. */
  readonly authFailureLimit: number
  /** `--storage s3://bucket/prefix`: serve a bucket prefix; undefined: the eggdir. */
  readonly storage: S3Location | undefined
  /** Path-style S3 addressing (http://host/bucket/key), which most non-AWS stores need. */
  readonly s3PathStyle: boolean
  /**
   * Whether several servers may accept uploads for the bucket ('many': then the store must
   * enforce create-only writes, else uploads are refused) or only this one ('one').
   */
  readonly s3Writers: S3Writers
  /** `--s3-download-cache DIR`: downloads from the bucket kept on local disk, under a size cap; undefined: streamed every time. */
  readonly s3DownloadCache: S3DownloadCacheSetting | undefined
  /** Serve the browse UI under /-/. */
  readonly ui: boolean
  /** Show remote (http/https) images in READMEs on the UI's pages. */
  readonly uiRemoteImages: boolean
  /** Base of the absolute URLs of the JSON API (normalized, ending in "/"); undefined: from each request. */
  readonly publicUrl: string | undefined
  /** Proxies whose X-Forwarded-Proto, -Host and -Prefix are believed (addresses, CIDR ranges); empty: none. */
  readonly trustProxy: readonly string[]
  /** Upstream indexes, never-upstream patterns, the merge list and --offline (docs/upstream.md). */
  readonly upstream: UpstreamConfig
  /** `--x-accel-redirect`: the internal nginx location downloads are handed to (no trailing "/"); undefined: eggserve sends them. */
  readonly xAccelRedirect: string | undefined
  /** `--download-redirect`: downloads answered with a redirect to a presigned URL or a base URL; undefined: eggserve sends them. */
  readonly downloadRedirect: DownloadRedirect | undefined
  /** Prometheus metrics (--metrics, --metrics-listen). */
  readonly metrics: MetricsSetting
  /** --tls-cert and --tls-key: serve HTTPS with this certificate chain and key; undefined: plain HTTP. */
  readonly tls: TlsFiles | undefined
}

/** The PEM files of the certificate chain and its private key (re-read on SIGHUP). */
export interface TlsFiles {
  readonly certFile: string
  readonly keyFile: string
}

/** `disabled`: no password file and nothing said (the read-only server); `open`: anyone may upload. */
export type UploadMode = 'disabled' | 'authenticated' | 'open'

/** --s3-download-cache DIR and --s3-download-cache-max SIZE. */
export interface S3DownloadCacheSetting {
  readonly dir: string
  readonly maxBytes: number
}

/** --s3-writers: how many servers accept uploads for one bucket. */
export type S3Writers = 'one' | 'many'

/**
 * Flag values as commander hands them over: strings, or true for boolean flags; the upstream
 * flags (repeatable ones as lists) are upstream-settings.ts's.
 */
export interface RawFlags extends UpstreamFlags {
  readonly eggdir?: string
  readonly port?: string
  readonly host?: string
  readonly log?: string
  readonly logLevel?: string
  readonly hashAlgo?: string
  readonly simpleHashAlgo?: string
  readonly lenient?: boolean
  readonly shutdownTimeout?: string
  readonly cacheControl?: string
  readonly cacheDir?: string
  readonly hashWorkers?: string
  readonly workers?: string
  readonly reconcileInterval?: string
  readonly passwords?: string
  readonly authenticate?: string
  readonly overwrite?: boolean
  readonly maxUploadSize?: string
  readonly authFailureLimit?: string
  readonly storage?: string
  readonly s3PathStyle?: boolean
  readonly s3Writers?: string
  readonly s3DownloadCache?: string
  readonly s3DownloadCacheMax?: string
  readonly ui?: string
  readonly uiRemoteImages?: boolean
  readonly publicUrl?: string
  readonly trustProxy?: string
  /** The upstream configuration file (TOML). */
  readonly config?: string
  readonly xAccelRedirect?: string
  readonly downloadRedirect?: string
  readonly presignWindow?: string
  readonly metrics?: boolean
  readonly metricsListen?: string
  readonly tlsCert?: string
  readonly tlsKey?: string
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
  // Unless set, /simple/ follows a --hash-algo that was set, else sha256: see simpleAnchor().
  simpleHashAlgo: { flag: '--simple-hash-algo', env: 'EGGSERVE_SIMPLE_HASH_ALGO', defaultValue: 'sha256' },
  lenient: { flag: '--lenient', env: 'EGGSERVE_LENIENT', defaultValue: 'false' },
  shutdownTimeout: { flag: '--shutdown-timeout', env: 'EGGSERVE_SHUTDOWN_TIMEOUT', defaultValue: '10' },
  // Revalidate every time (one cheap 304): pip 26.2 caches pages as Cache-Control says (pip's
  // 26.2 release notes, pypa/pip#13680), where earlier pips always asked with max-age=0.
  cacheControl: { flag: '--cache-control', env: 'EGGSERVE_CACHE_CONTROL', defaultValue: 'max-age=0, must-revalidate' },
  // The default comes from systemd's CACHE_DIRECTORY or the XDG cache directory: see defaultCacheDir().
  cacheDir: { flag: '--cache-dir', env: 'EGGSERVE_CACHE_DIR', defaultValue: undefined },
  hashWorkers: { flag: '--hash-workers', env: 'EGGSERVE_HASH_WORKERS', defaultValue: 'auto' },
  workers: { flag: '--workers', env: 'EGGSERVE_WORKERS', defaultValue: '1' },
  reconcileInterval: { flag: '--reconcile-interval', env: 'EGGSERVE_RECONCILE_INTERVAL', defaultValue: '120' },
  passwords: { flag: '--passwords', env: 'EGGSERVE_PASSWORDS', defaultValue: undefined },
  authenticate: { flag: '--authenticate', env: 'EGGSERVE_AUTHENTICATE', defaultValue: 'update' },
  overwrite: { flag: '--overwrite', env: 'EGGSERVE_OVERWRITE', defaultValue: 'false' },
  maxUploadSize: { flag: '--max-upload-size', env: 'EGGSERVE_MAX_UPLOAD_SIZE', defaultValue: '1G' },
  authFailureLimit: { flag: '--auth-failure-limit', env: 'EGGSERVE_AUTH_FAILURE_LIMIT', defaultValue: '10' },
  storage: { flag: '--storage', env: 'EGGSERVE_STORAGE', defaultValue: undefined },
  s3PathStyle: { flag: '--s3-path-style', env: 'EGGSERVE_S3_PATH_STYLE', defaultValue: 'false' },
  s3Writers: { flag: '--s3-writers', env: 'EGGSERVE_S3_WRITERS', defaultValue: 'many' },
  s3DownloadCache: { flag: '--s3-download-cache', env: 'EGGSERVE_S3_DOWNLOAD_CACHE', defaultValue: undefined },
  s3DownloadCacheMax: { flag: '--s3-download-cache-max', env: 'EGGSERVE_S3_DOWNLOAD_CACHE_MAX', defaultValue: '10G' },
  ui: { flag: '--ui', env: 'EGGSERVE_UI', defaultValue: 'on' },
  uiRemoteImages: { flag: '--ui-remote-images', env: 'EGGSERVE_UI_REMOTE_IMAGES', defaultValue: 'false' },
  publicUrl: { flag: '--public-url', env: 'EGGSERVE_PUBLIC_URL', defaultValue: undefined },
  trustProxy: { flag: '--trust-proxy', env: 'EGGSERVE_TRUST_PROXY', defaultValue: undefined },
  upstream: { flag: '--upstream', env: 'EGGSERVE_UPSTREAM', defaultValue: undefined },
  neverUpstream: { flag: '--never-upstream', env: 'EGGSERVE_NEVER_UPSTREAM', defaultValue: undefined },
  mergeUpstream: { flag: '--merge-upstream', env: 'EGGSERVE_MERGE_UPSTREAM', defaultValue: undefined },
  offline: { flag: '--offline', env: 'EGGSERVE_OFFLINE', defaultValue: 'false' },
  upstreamTtl: { flag: '--upstream-ttl', env: 'EGGSERVE_UPSTREAM_TTL', defaultValue: '600' },
  upstreamTimeout: { flag: '--upstream-timeout', env: 'EGGSERVE_UPSTREAM_TIMEOUT', defaultValue: '10' },
  minReleaseAge: { flag: '--min-release-age', env: 'EGGSERVE_MIN_RELEASE_AGE', defaultValue: undefined },
  config: { flag: '--config', env: 'EGGSERVE_CONFIG', defaultValue: undefined },
  upstreamCacheMax: { flag: '--upstream-cache-max', env: 'EGGSERVE_UPSTREAM_CACHE_MAX', defaultValue: undefined },
  upstreamHashChange: { flag: '--upstream-hash-change', env: 'EGGSERVE_UPSTREAM_HASH_CHANGE', defaultValue: 'pin' },
  upstreamBreakerFailures: {
    flag: '--upstream-breaker-failures',
    env: 'EGGSERVE_UPSTREAM_BREAKER_FAILURES',
    defaultValue: '5',
  },
  upstreamBreakerOpenFor: {
    flag: '--upstream-breaker-open-for',
    env: 'EGGSERVE_UPSTREAM_BREAKER_OPEN_FOR',
    defaultValue: '60s',
  },
  upstreamDirectDownloads: {
    flag: '--upstream-direct-downloads',
    env: 'EGGSERVE_UPSTREAM_DIRECT_DOWNLOADS',
    defaultValue: 'false',
  },
  xAccelRedirect: { flag: '--x-accel-redirect', env: 'EGGSERVE_X_ACCEL_REDIRECT', defaultValue: undefined },
  downloadRedirect: { flag: '--download-redirect', env: 'EGGSERVE_DOWNLOAD_REDIRECT', defaultValue: undefined },
  presignWindow: { flag: '--presign-window', env: 'EGGSERVE_PRESIGN_WINDOW', defaultValue: '3600' },
  metrics: { flag: '--metrics', env: 'EGGSERVE_METRICS', defaultValue: 'false' },
  metricsListen: { flag: '--metrics-listen', env: 'EGGSERVE_METRICS_LISTEN', defaultValue: undefined },
  tlsCert: { flag: '--tls-cert', env: 'EGGSERVE_TLS_CERT', defaultValue: undefined },
  tlsKey: { flag: '--tls-key', env: 'EGGSERVE_TLS_KEY', defaultValue: undefined },
} as const satisfies Record<keyof RawFlags, SettingSpec>

const LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace']

/** The settings that have a default: picking one of them always yields a value. */
type DefaultedSetting = {
  [K in keyof typeof SETTINGS]: (typeof SETTINGS)[K]['defaultValue'] extends string ? K : never
}[keyof typeof SETTINGS]

/**
 * Merge flags over the environment over the configuration file (--config) over defaults,
 * validate everything, and freeze the result. `read` reads the configuration file and the
 * password files it names (the filesystem, unless a test says otherwise).
 */
export function resolveConfig(
  flags: RawFlags,
  env: Readonly<Record<string, string | undefined>>,
  read: (path: string) => string = readTextFile,
): Config {
  // Each default is stated once, in SETTINGS (which --help shows too): a setting with a default
  // always has a value here, so no fallback can creep in below.
  const pick = (name: DefaultedSetting): Given =>
    given(name, flags, env) ?? { value: SETTINGS[name].defaultValue, source: 'default' }
  const pickOptional = (name: Exclude<keyof typeof SETTINGS, DefaultedSetting>): Picked =>
    given(name, flags, env) ?? { value: undefined, source: 'default' }
  const port = pick('port')
  const level = pick('logLevel')
  const algo = pick('hashAlgo')
  const simpleAlgo = simpleAnchor(pick('simpleHashAlgo'), algo)
  const lenient = pick('lenient')
  const grace = pick('shutdownTimeout')
  const cacheControl = pick('cacheControl')
  const cacheDir = pickOptional('cacheDir')
  const workers = pick('hashWorkers')
  const processes = pick('workers')
  const reconcile = pick('reconcileInterval')
  const overwrite = pick('overwrite')
  const maxUpload = pick('maxUploadSize')
  const failures = pick('authFailureLimit')
  const ui = pick('ui')
  const remoteImages = pick('uiRemoteImages')
  const publicUrl = pickOptional('publicUrl')
  const trustProxy = pickOptional('trustProxy')
  const metrics = pick('metrics')
  const configFile = pickOptional('config')
  const file =
    configFile.value === undefined
      ? undefined
      : loadConfigFile({ path: configFile.value, source: configFile.source, env, read })
  const upstream = resolveUpstreamConfig(flags, env, file)
  const cacheDirValue =
    cacheDir.value === undefined ? defaultCacheDir(env) : cacheDir.value === 'none' ? undefined : cacheDir.value
  // Upstream pages and files live in the cache directory; without one there is nowhere to verify a file before keeping it.
  if (upstream.upstreams.length > 0 && cacheDirValue === undefined)
    throw new ConfigError(
      `${file !== undefined && given('upstream', flags, env) === undefined ? `[[upstream]] in "${file.path}"` : '--upstream'} needs a cache directory: give --cache-dir DIR (not "none")`,
    )
  return Object.freeze({
    eggdir: pick('eggdir').value,
    port: parsePort(port.value, port.source),
    host: pick('host').value,
    logFile: pickOptional('log').value,
    logLevel: parseLevel(level.value, level.source),
    hashAlgorithm: parseHashAlgorithm(algo.value, algo.source),
    simpleHashAlgorithm: parseHashAlgorithm(simpleAlgo.value, simpleAlgo.source),
    lenient: parseBoolean(lenient.value, lenient.source),
    shutdownTimeoutMs: Math.round(parseSeconds(grace.value, grace.source) * 1000),
    cacheControl: parseHeaderValue(cacheControl.value, cacheControl.source),
    cacheDir: cacheDirValue,
    hashWorkers: parseWorkers(workers.value, workers.source),
    workers: parseProcesses(processes.value, processes.source),
    reconcileIntervalMs: Math.round(parseSeconds(reconcile.value, reconcile.source, 86_400) * 1000),
    ...resolveAccess(pickOptional('passwords'), pick('authenticate'), env),
    overwrite: parseBoolean(overwrite.value, overwrite.source),
    maxUploadBytes: parseSize(maxUpload.value, maxUpload.source),
    authFailureLimit: parseCount(failures.value, failures.source),
    ...resolveStorage(pickOptional('storage'), pick('s3PathStyle'), pickOptional('xAccelRedirect')),
    downloadRedirect: resolveDownloadRedirect(
      pickOptional('downloadRedirect'),
      pick('presignWindow'),
      pickOptional('storage'),
      pickOptional('xAccelRedirect'),
    ),
    s3Writers: parseWriters(pick('s3Writers')),
    s3DownloadCache: resolveDownloadCache(
      pickOptional('s3DownloadCache'),
      pick('s3DownloadCacheMax'),
      pickOptional('storage'),
    ),
    ui: parseBoolean(ui.value, ui.source),
    uiRemoteImages: parseBoolean(remoteImages.value, remoteImages.source),
    publicUrl: publicUrl.value === undefined ? undefined : parsePublicUrl(publicUrl.value, publicUrl.source),
    trustProxy: trustProxy.value === undefined ? [] : parseTrustProxy(trustProxy.value, trustProxy.source),
    metrics: resolveMetrics(parseBoolean(metrics.value, metrics.source), pickOptional('metricsListen')),
    upstream,
    tls: resolveTls(pickOptional('tlsCert'), pickOptional('tlsKey')),
  })
}

/** The value of a setting given as a flag, else as a non-empty variable; undefined when not given. */
function given(
  name: keyof typeof SETTINGS,
  flags: RawFlags,
  env: Readonly<Record<string, string | undefined>>,
): Given | undefined {
  const spec: SettingSpec = SETTINGS[name]
  const flag = flags[name]
  if (flag !== undefined) return { value: String(flag), source: spec.flag }
  const fromEnv = env[spec.env]
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: spec.env }
  return undefined
}

function resolveStorage(
  storage: Picked,
  pathStyle: Given,
  accel: Picked,
): Pick<Config, 'storage' | 's3PathStyle' | 'xAccelRedirect'> {
  const s3PathStyle = parseBoolean(pathStyle.value, pathStyle.source)
  const xAccelRedirect = accel.value === undefined ? undefined : parseAccelRedirect(accel.value, accel.source)
  if (storage.value === undefined) return { storage: undefined, s3PathStyle, xAccelRedirect }
  const location = parseS3Location(storage.value)
  if (location === undefined) {
    throw new ConfigError(
      `Invalid storage "${storage.value}" (${storage.source}): expected s3://bucket or s3://bucket/prefix (a folder is served with --eggdir)`,
    )
  }
  // nginx sends offloaded files from a local directory (alias); a bucket has none.
  if (xAccelRedirect !== undefined)
    throw new ConfigError(
      `--x-accel-redirect (${accel.source}) needs a local eggdir: nginx cannot send files from ${storage.value}`,
    )
  return { storage: location, s3PathStyle, xAccelRedirect }
}

// --download-redirect presigned|URL (with --presign-window SECONDS): see core/download-redirect.ts.
function resolveDownloadRedirect(
  redirect: Picked,
  window: Given,
  storage: Picked,
  accel: Picked,
): DownloadRedirect | undefined {
  if (redirect.value === undefined) return undefined
  // Both hand the bytes to someone else; a download can only be handed once.
  if (accel.value !== undefined)
    throw new ConfigError(`${redirect.source} and ${accel.source} cannot be used together: choose one`)
  if (redirect.value === 'presigned') {
    if (storage.value === undefined)
      throw new ConfigError(
        `${redirect.source} presigned needs --storage s3://...: only a bucket has presigned URLs (a folder's mirror takes a base URL)`,
      )
    const seconds = parseSeconds(window.value, window.source, MAX_WINDOW_SECONDS)
    if (seconds < MIN_WINDOW_SECONDS)
      throw new ConfigError(
        `Invalid ${window.source} "${window.value}": at least ${String(MIN_WINDOW_SECONDS)} seconds (a URL is the same for a whole window)`,
      )
    return { kind: 'presigned', windowMs: Math.round(seconds * 1000) }
  }
  const base = parseRedirectBase(redirect.value)
  if (base === undefined)
    throw new ConfigError(
      `Invalid ${redirect.source} "${redirect.value}": expected presigned, or an http(s) base URL without credentials, query or fragment (e.g. https://cdn.example.com/eggs/)`,
    )
  return { kind: 'base', base }
}

function parseAccelRedirect(value: string, source: string): string {
  const prefix = parseAccelPrefix(value)
  if (prefix !== undefined) return prefix
  throw new ConfigError(
    `Invalid --x-accel-redirect prefix "${value}" (${source}): expected the path of an internal nginx location, e.g. /_eggfiles`,
  )
}

// Only a bucket's downloads are worth keeping on local disk: a folder's files are on it already.
function resolveDownloadCache(dir: Picked, max: Given, storage: Picked): S3DownloadCacheSetting | undefined {
  if (dir.value === undefined) return undefined
  if (storage.value === undefined)
    throw new ConfigError(`${dir.source} needs --storage s3://...: the files of a folder are on local disk already`)
  return { dir: dir.value, maxBytes: parseSize(max.value, max.source) }
}

function parseWriters(given: Given): S3Writers {
  if (given.value === 'one' || given.value === 'many') return given.value
  throw new ConfigError(`Invalid ${given.source} "${given.value}": expected one or many`)
}

// A certificate without its key (or the reverse) is a mistake, never "plain HTTP".
function resolveTls(cert: Picked, key: Picked): TlsFiles | undefined {
  if (cert.value === undefined && key.value === undefined) return undefined
  if (cert.value === undefined || cert.value === '')
    throw new ConfigError(`${key.source} needs --tls-cert (the certificate chain, PEM) as well`)
  if (key.value === undefined || key.value === '')
    throw new ConfigError(`${cert.source} needs --tls-key (the certificate's private key, PEM) as well`)
  return { certFile: cert.value, keyFile: key.value }
}

/** A setting's value and where it came from: a flag, a variable, or 'default'. */
interface Picked {
  readonly value: string | undefined
  readonly source: string
}
/** The same for a setting that has a value (it was given, or it has a default). */
interface Given extends Picked {
  readonly value: string
}

/**
 * The anchor algorithm of /simple/: --simple-hash-algo (or its variable) when set, else
 * --hash-algo (or its variable) when set, else sha256. The original tree keeps the original
 * egg server's `#md5=` by default; /simple/ defaults to sha256 as PyPI's pages do, because
 * poetry 1.3 (Debian 12) compares the fragment with the sha256 hashes of its lock and stops on
 * an md5 one ("Retrieved digest for link ... not in poetry.lock metadata": Chooser._get_links in
 * poetry/installation/chooser.py).
 */
function simpleAnchor(simple: Given, general: Given): Given {
  if (simple.source !== 'default' || general.source === 'default') return simple
  return general
}

/**
 * Who may do what. Without a password file and without an explicit --authenticate, uploads are
 * disabled (eggserve stays the read-only server it was). Anything that needs credentials needs a
 * password file; `--authenticate .` (explicitly) opens uploads to anyone.
 */
function resolveAccess(
  passwords: Picked,
  authenticate: Given,
  env: Readonly<Record<string, string | undefined>>,
): Pick<Config, 'passwordFile' | 'authenticate' | 'uploads'> {
  const actions = parseAuthenticate(authenticate.value, authenticate.source)
  // pypiserver spells "no password file" as `-P .`; `credential:NAME` is a systemd credential.
  const passwordFile =
    passwords.value === '.' || passwords.value === undefined
      ? undefined
      : resolvePasswordPath(passwords.value, passwords.source, env)
  if (passwordFile !== undefined) {
    if (actions.length === 0) {
      throw new ConfigError(
        `--authenticate . (nothing needs a password) cannot be combined with a password file (${passwords.source}); drop one of them`,
      )
    }
    return { passwordFile, authenticate: actions, uploads: actions.includes('update') ? 'authenticated' : 'open' }
  }
  if (actions.length === 0) return { passwordFile, authenticate: actions, uploads: 'open' }
  if (authenticate.source === 'default' && passwords.source === 'default')
    return { passwordFile, authenticate: actions, uploads: 'disabled' }
  throw new ConfigError(
    `--authenticate ${actions.join(',')} needs a password file: give --passwords FILE, or --authenticate . to let anyone upload`,
  )
}

/** pypiserver's --authenticate list: update, download, list, comma-separated; "." alone for none. */
export function parseAuthenticate(value: string, source = '--authenticate'): AuthAction[] {
  const items = [...new Set(value.split(',').map((item) => item.trim().toLowerCase()))]
  if (items.length === 1 && items[0] === '.') return []
  const actions: AuthAction[] = []
  for (const item of items) {
    const action = AUTH_ACTIONS.find((candidate) => candidate === item)
    if (action === undefined) {
      throw new ConfigError(
        `Invalid --authenticate value "${value}" (${source}): expected a comma-separated list of update, download, list, or "." alone`,
      )
    }
    actions.push(action)
  }
  return actions
}

/**
 * A size in bytes: digits with an optional K, M or G suffix (powers of 1024).
 * @example parseSize('1G') // 1073741824
 */
export function parseSize(value: string, source = '--max-upload-size'): number {
  const size = parseByteCount(value) ?? NaN
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new ConfigError(
      `Invalid size "${value}" (${source}): expected a number of bytes, optionally with K, M or G, e.g. 1G`,
    )
  }
  return size
}

function parseCount(value: string, source: string): number {
  const count = /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(count) || count > 1_000_000) {
    throw new ConfigError(`Invalid count "${value}" (${source}): expected an integer from 0 to 1000000`)
  }
  return count
}

/** An integer port from 0 (any free port) to 65535. */
export function parsePort(value: string, source = '--port'): number {
  const port = /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(port) || port > 65535) {
    throw new ConfigError(`Invalid port "${value}" (${source}): expected an integer from 0 to 65535`)
  }
  return port
}

function parseHashAlgorithm(value: string, source: string): HashAlgorithm {
  if (isHashAlgorithm(value)) return value
  throw new ConfigError(
    `Invalid hash algorithm "${value}" (${source}): expected one of ${ANCHOR_ALGORITHMS.join(', ')}`,
  )
}

function parseSeconds(value: string, source: string, max = 3600): number {
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN
  if (!Number.isFinite(seconds) || seconds > max) {
    throw new ConfigError(`Invalid number of seconds "${value}" (${source}): expected a number from 0 to ${max}`)
  }
  return seconds
}

function parseWorkers(value: string, source: string): number | 'auto' {
  if (value === 'auto') return 'auto'
  const workers = /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(workers) || workers > 64) {
    throw new ConfigError(
      `Invalid number of hash workers "${value}" (${source}): expected "auto" or an integer from 0 to 64`,
    )
  }
  return workers
}

function parseProcesses(value: string, source: string): number | 'auto' {
  if (value === 'auto') return 'auto'
  const workers = /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    throw new ConfigError(
      `Invalid number of workers "${value}" (${source}): expected "auto" or an integer from 1 to 64`,
    )
  }
  return workers
}

/**
 * Where the cache goes by default: systemd's CACHE_DIRECTORY (set by CacheDirectory=; the
 * first one when there are several), else $XDG_CACHE_HOME/eggserve, else ~/.cache/eggserve.
 */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const systemd = env.CACHE_DIRECTORY?.split(':')[0]
  if (systemd !== undefined && systemd !== '') return systemd
  const xdg = env.XDG_CACHE_HOME
  if (xdg?.startsWith('/') === true) return `${xdg}/eggserve`
  const home = env.HOME
  return home !== undefined && home !== '' ? `${home}/.cache/eggserve` : undefined
}

const TRUE_WORDS = ['true', 'yes', 'on', '1']
const FALSE_WORDS = ['false', 'no', 'off', '0']

function parseBoolean(value: string, source: string): boolean {
  const lower = value.toLowerCase()
  if (TRUE_WORDS.includes(lower)) return true
  if (FALSE_WORDS.includes(lower)) return false
  throw new ConfigError(
    `Invalid boolean "${value}" (${source}): expected ${TRUE_WORDS.join('/')} or ${FALSE_WORDS.join('/')} (any case)`,
  )
}

// A header value must be visible ASCII and spaces (RFC 9110 §5.5): no CR/LF that would split the response.
function parseHeaderValue(value: string, source: string): string {
  const trimmed = value.trim()
  if (trimmed !== '' && /^[\x20-\x7e]+$/.test(trimmed)) return trimmed
  throw new ConfigError(`Invalid header value "${value}" (${source}): expected printable ASCII, e.g. "max-age=600"`)
}

function parseLevel(value: string, source: string): Level {
  const level = LEVELS.find((candidate) => candidate === value)
  if (level !== undefined) return level
  throw new ConfigError(`Invalid log level "${value}" (${source}): expected one of ${LEVELS.join(', ')}`)
}

/** A file's text, as resolveConfig reads it by default. */
function readTextFile(path: string): string {
  return readFileSync(path, 'utf8')
}

/**
 * The configuration file, read and checked. A relative password-file is taken from the
 * configuration file's folder; `credential:NAME` is a systemd credential, as for --passwords.
 */
function loadConfigFile(options: {
  path: string
  source: string
  env: Readonly<Record<string, string | undefined>>
  read: (path: string) => string
}): UpstreamFileConfig {
  const { path, source, env, read } = options
  let text: string
  try {
    text = read(path)
  } catch (err) {
    throw new ConfigError(`Cannot read the configuration file "${path}" (${source}): ${describeReadError(err)}`)
  }
  return parseUpstreamFile(text, path, {
    env,
    readSecret: (written) => {
      const resolved = resolvePasswordPath(written, 'password-file', env)
      const secretPath = isAbsolute(resolved) ? resolved : join(dirname(path), resolved)
      try {
        return read(secretPath)
      } catch (err) {
        throw new ConfigError(`cannot read "${secretPath}": ${describeReadError(err)}`)
      }
    },
  })
}

// A read failure in words, without Node's stack or the errno's own text.
function describeReadError(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined
  switch (code) {
    case 'ENOENT':
      return 'no such file'
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EISDIR':
      return 'it is a directory'
    default:
      return code ?? (err instanceof Error ? err.message : String(err))
  }
}
