// The command line: parse flags, run the server (or `check`, `warm`), map failures to one line
// and an exit code. Only this module and src/commands/ write to stdout/stderr.
import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import type { Output } from './commands/output.js'
import { resolveConfig, SETTINGS, type RawFlags, type SettingSpec } from './config.js'
import { ANCHOR_ALGORITHMS } from './core/digests.js'
import { runServer } from './daemon.js'
import { errorSpec } from './error-codes.js'
import { AppError, ConfigError } from './errors.js'

/** Exit codes, documented in the README. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

const stdio: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTTY: process.stderr.isTTY,
}

type CommandName = 'serve' | 'check' | 'warm' | 'cache-purge' | 'cache-warm'

interface Selected {
  readonly command: CommandName
  /** Flags given after the command's name (for serve: all of them). */
  readonly own: RawFlags
  /** Flags given before a sub-command's name. */
  readonly before: RawFlags
  /** The folder given as an argument. */
  readonly folder: string | undefined
  /** `cache purge`'s project names, `cache warm`'s requirements files. */
  readonly names?: readonly string[]
  readonly requirements?: readonly string[]
}

/** Run the command line; resolves with the process exit code once the work is over. */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  output: Output = stdio,
): Promise<number> {
  let selected: Selected | undefined
  const program = buildProgram(output, (chosen) => {
    selected = chosen
  })
  try {
    program.parse(argv)
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    throw err
  }
  if (selected === undefined) return EXIT.usage
  try {
    const config = resolveConfig(flagsFor(selected), env)
    // Each command's module is loaded when it runs: serving does not pay for the others' code
    // (cache-warm's is the upstream client) at start-up (docs/benchmarks.md, "Warm restart").
    switch (selected.command) {
      case 'check':
        return await (await import('./commands/check.js')).runCheck(config, output)
      case 'warm':
        return await (await import('./commands/warm.js')).runWarm(config, output)
      case 'cache-purge':
        return await (await import('./commands/cache-purge.js')).runCachePurge(config, selected.names ?? [], output)
      case 'cache-warm':
        return await (
          await import('./commands/cache-warm.js')
        ).runCacheWarm(config, selected.requirements ?? [], output)
      case 'serve':
        return await runServer(config)
    }
  } catch (err) {
    return report(err, output)
  }
}

function report(err: unknown, output: Output): number {
  if (err instanceof AppError) {
    output.err(`eggserve: ${err.message}\n`)
    // The registry says which codes are usage errors (EGGSERVE_CONFIG: 2).
    return errorSpec(err.code).exit ?? EXIT.failure
  }
  // Unexpected: one line, no stack trace.
  output.err(`eggserve: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`)
  return EXIT.failure
}

/**
 * The flags a command runs with. A flag may come before or after a sub-command's name
 * (`eggserve --eggdir X check` is `eggserve check --eggdir X`; after the name wins when both
 * are there), but only a flag the command uses: any other is a usage error rather than being
 * ignored, so a CI job cannot check or warm some other folder than the one it names.
 */
function flagsFor(selected: Selected): RawFlags {
  const { command, folder } = selected
  const given: RawFlags = { ...selected.before, ...selected.own }
  const takes = COMMAND_SETTINGS[command]
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined || takes === 'all' || takes.some((setting) => setting === name)) continue
    throw new ConfigError(
      `${flagOf(name)} does not apply to "eggserve ${command.replace('-', ' ')}" (its options: ${takes.map(flagOf).join(', ')})`,
    )
  }
  if (folder === undefined) return given
  if (given.eggdir !== undefined && given.eggdir !== folder) {
    throw new ConfigError(`The folder is given twice, as "${folder}" and as --eggdir "${given.eggdir}": give it once`)
  }
  return { ...given, eggdir: folder }
}

function flagOf(name: string): string {
  return Object.entries(SETTINGS).find(([setting]) => setting === name)?.[1].flag ?? `--${name}`
}

function option(flags: string, text: string, setting: SettingSpec): Option {
  return new Option(
    flags,
    `${text} (env ${setting.env}${setting.defaultValue === undefined ? '' : `, default ${setting.defaultValue}`})`,
  )
}

const OPTIONS = {
  eggdir: () => option('-d, --eggdir <dir>', 'folder to serve (or give it as the argument)', SETTINGS.eggdir),
  // The short options are pypiserver's (-p, -i, -P, -a, -o), so its command lines carry over.
  port: () => option('-p, --port <port>', 'TCP port; 0 picks a free one', SETTINGS.port),
  host: () => option('-i, --host <address>', 'address to listen on', SETTINGS.host),
  log: () => option('--log <file>', 'append JSON logs to this file instead of stdout; SIGHUP reopens it', SETTINGS.log),
  logLevel: () => option('--log-level <level>', 'fatal, error, warn, info, debug or trace', SETTINGS.logLevel),
  hashAlgo: () =>
    option(
      '--hash-algo <algo>',
      `hash in the link fragments of / and /<folder>/, and of /simple/ unless --simple-hash-algo is given: ${ANCHOR_ALGORITHMS.join(', ')}`,
      SETTINGS.hashAlgo,
    ),
  simpleHashAlgo: () =>
    option(
      '--simple-hash-algo <algo>',
      "hash in the link fragments of /simple/ (--hash-algo's when only that is given; the default is PyPI's)",
      SETTINGS.simpleHashAlgo,
    ),
  lenient: () =>
    option('--lenient', 'start even if the layout has problems, skipping the files concerned', SETTINGS.lenient),
  shutdownTimeout: () =>
    option(
      '--shutdown-timeout <seconds>',
      'time in-flight requests get after SIGTERM/SIGINT',
      SETTINGS.shutdownTimeout,
    ),
  cacheControl: () =>
    option('--cache-control <value>', 'Cache-Control of index pages and API documents', SETTINGS.cacheControl),
  cacheDir: () =>
    option(
      '--cache-dir <dir>',
      'persistent hash and metadata cache ("none" to disable; default $CACHE_DIRECTORY, else $XDG_CACHE_HOME/eggserve, else ~/.cache/eggserve)',
      SETTINGS.cacheDir,
    ),
  hashWorkers: () =>
    option(
      '--hash-workers <n>',
      'worker threads that hash ("auto": one per core; 0: in the main thread)',
      SETTINGS.hashWorkers,
    ),
  workers: () =>
    option(
      '--workers <n>',
      'processes serving requests on the one port ("auto": one per core); hashing stays in one process',
      SETTINGS.workers,
    ),
  reconcileInterval: () =>
    option(
      '--reconcile-interval <seconds>',
      're-read the whole tree this often, as a safety net for missed changes (0: never)',
      SETTINGS.reconcileInterval,
    ),
  passwords: () =>
    option(
      '-P, --passwords <file>',
      'htpasswd file (bcrypt, htpasswd -B -C 10) of the users who may upload; "." for none; credential:NAME for $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=)',
      SETTINGS.passwords,
    ),
  authenticate: () =>
    option(
      '-a, --authenticate <actions>',
      'what needs credentials: update, download, list (comma-separated), or "." for nothing',
      SETTINGS.authenticate,
    ),
  overwrite: () =>
    option('-o, --overwrite', 'let an upload replace an existing file with different bytes', SETTINGS.overwrite),
  maxUploadSize: () =>
    option('--max-upload-size <size>', 'largest uploaded file, in bytes or with K, M, G', SETTINGS.maxUploadSize),
  authFailureLimit: () =>
    option(
      '--auth-failure-limit <count>',
      'failed logins per client address and minute before 429; 0 for no limit',
      SETTINGS.authFailureLimit,
    ),
  storage: () =>
    option(
      '--storage <url>',
      'serve an S3 bucket prefix instead of the eggdir: s3://bucket/prefix (region, endpoint and credentials from the standard AWS configuration)',
      SETTINGS.storage,
    ),
  s3PathStyle: () =>
    option('--s3-path-style', 'path-style S3 addressing (most S3-compatible stores need it)', SETTINGS.s3PathStyle),
  s3Writers: () =>
    option(
      '--s3-writers <writers>',
      'servers accepting uploads for the bucket: many needs a store that enforces create-only writes',
      SETTINGS.s3Writers,
    ),
  s3DownloadCache: () =>
    option(
      '--s3-download-cache <dir>',
      'keep downloads from the bucket in this directory and serve them from there (needs --storage s3://...)',
      SETTINGS.s3DownloadCache,
    ),
  s3DownloadCacheMax: () =>
    option(
      '--s3-download-cache-max <size>',
      'size cap of --s3-download-cache (bytes, or with K, M or G); least recently used files are evicted',
      SETTINGS.s3DownloadCacheMax,
    ),
  ui: () => option('--ui <on|off>', 'the browse UI under /-/ (browsers opening / are sent there)', SETTINGS.ui),
  uiRemoteImages: () =>
    option('--ui-remote-images', 'show remote http(s) images in READMEs on the UI pages', SETTINGS.uiRemoteImages),
  publicUrl: () =>
    option(
      '--public-url <url>',
      'base of the absolute URLs in the JSON API, e.g. https://pypi.example.com/eggs/ (default: from each request)',
      SETTINGS.publicUrl,
    ),
  trustProxy: () =>
    option(
      '--trust-proxy <addresses>',
      'proxies whose X-Forwarded-Proto, -Host and -Prefix are believed: IP addresses and CIDR ranges, comma-separated',
      SETTINGS.trustProxy,
    ),
  upstream: () =>
    option(
      '--upstream <url>',
      'an upstream simple index for projects not in the eggdir, e.g. https://pypi.org/simple/; repeatable, asked in order (docs/upstream.md)',
      SETTINGS.upstream,
    ).argParser(collect),
  neverUpstream: () =>
    option(
      '--never-upstream <pattern>',
      'names that never go upstream, e.g. "acme-*" (fnmatch-like, on normalized names); a miss is a 404; repeatable',
      SETTINGS.neverUpstream,
    ).argParser(collect),
  mergeUpstream: () =>
    option(
      '--merge-upstream <name>',
      'a local project whose upstream files are listed too, each marked with its origin; repeatable',
      SETTINGS.mergeUpstream,
    ).argParser(collect),
  upstreamTtl: () =>
    option(
      '--upstream-ttl <seconds>',
      'how long a cached upstream page is served without asking the upstream again',
      SETTINGS.upstreamTtl,
    ),
  upstreamTimeout: () =>
    option(
      '--upstream-timeout <seconds>',
      'how long an upstream may take to start answering (connecting: at most 3 s); a silent upstream counts as down',
      SETTINGS.upstreamTimeout,
    ),
  upstreamCacheMax: () =>
    option(
      '--upstream-cache-max <size>',
      'size cap of the cached upstream files (bytes, or with K, M, G, T); least recently used files are evicted, never pages',
      SETTINGS.upstreamCacheMax,
    ),
  upstreamHashChange: () =>
    option(
      '--upstream-hash-change <policy>',
      'when the upstream page shows another hash for a cached file: pin (keep serving the cached bytes) or follow (fetch the new bytes)',
      SETTINGS.upstreamHashChange,
    ),
  upstreamBreakerFailures: () =>
    option(
      '--upstream-breaker-failures <count>',
      'failures in a row after which an upstream is not asked for --upstream-breaker-open-for (its circuit breaker)',
      SETTINGS.upstreamBreakerFailures,
    ),
  upstreamBreakerOpenFor: () =>
    option(
      '--upstream-breaker-open-for <duration>',
      'how long an upstream whose circuit breaker opened is not asked (e.g. 30s, 2m); then one request tries it',
      SETTINGS.upstreamBreakerOpenFor,
    ),
  upstreamDirectDownloads: () =>
    option(
      '--upstream-direct-downloads',
      "pages list upstream files at the upstream's own URLs: clients download them from it, eggserve does not (not with credentials)",
      SETTINGS.upstreamDirectDownloads,
    ),
  offline: () =>
    option(
      '--offline',
      'never contact an upstream: serve cached upstream pages, listing only cached files',
      SETTINGS.offline,
    ),
  minReleaseAge: () =>
    option(
      '--min-release-age <duration>',
      'hide upstream files younger than this by their upload time (e.g. 7d, 36h); their URLs answer 403',
      SETTINGS.minReleaseAge,
    ),
  config: () =>
    option(
      '--config <file>',
      'upstream configuration file (TOML): per-upstream TTLs, timeouts, credentials, offline, cooldown (docs/upstream.md)',
      SETTINGS.config,
    ),
  xAccelRedirect: () =>
    option(
      '--x-accel-redirect <prefix>',
      'behind nginx: answer downloads with X-Accel-Redirect to this internal location (see contrib/nginx/eggserve.conf), e.g. /_eggfiles',
      SETTINGS.xAccelRedirect,
    ),
  downloadRedirect: () =>
    option(
      '--download-redirect <presigned|url>',
      'answer downloads with a 302: to a presigned URL of the bucket (with --storage s3://), or to this base URL + <folder>/<file> (a public bucket or CDN mirroring the tree)',
      SETTINGS.downloadRedirect,
    ),
  presignWindow: () =>
    option(
      '--presign-window <seconds>',
      'presigned URLs are the same for every request within a window this long (so pip caches them), and valid for two',
      SETTINGS.presignWindow,
    ),
  metrics: () =>
    option(
      '--metrics',
      'serve Prometheus metrics at /metrics (with credentials when --authenticate protects reads)',
      SETTINGS.metrics,
    ),
  metricsListen: () =>
    option(
      '--metrics-listen <host:port>',
      'serve /metrics on this address instead of the main one (implies --metrics; no credentials there)',
      SETTINGS.metricsListen,
    ),
  tlsCert: () =>
    option('--tls-cert <file>', 'serve HTTPS with this certificate chain (PEM); re-read on SIGHUP', SETTINGS.tlsCert),
  tlsKey: () => option('--tls-key <file>', 'the private key (PEM) of --tls-cert; re-read on SIGHUP', SETTINGS.tlsKey),
} as const

// A repeatable option's values, in the order given.
function collect(value: string, previous: readonly string[] | undefined): readonly string[] {
  return [...(previous ?? []), value]
}

/** Every setting's flags as --help shows them, e.g. `-i, --host <address>` (for the README's table). */
export function optionFlags(): readonly string[] {
  return Object.values(OPTIONS).map((make) => make().flags)
}

// What `warm` needs (the tree, the cache, hashing, the log); `cache warm` adds the upstreams.
const WARM_SETTINGS = [
  'eggdir',
  'storage',
  's3PathStyle',
  'cacheDir',
  'hashAlgo',
  'simpleHashAlgo',
  'hashWorkers',
  'log',
  'logLevel',
] as const satisfies readonly (keyof typeof OPTIONS)[]

/** The settings each command uses; a flag of any other is a usage error there. */
const COMMAND_SETTINGS: Readonly<Record<CommandName, 'all' | readonly (keyof typeof OPTIONS)[]>> = {
  serve: 'all',
  check: ['eggdir', 'storage', 's3PathStyle'],
  warm: WARM_SETTINGS,
  'cache-purge': ['cacheDir'],
  'cache-warm': [
    ...WARM_SETTINGS,
    'upstream',
    'neverUpstream',
    'mergeUpstream',
    'upstreamTtl',
    'upstreamTimeout',
    'upstreamCacheMax',
    'upstreamHashChange',
    'upstreamBreakerFailures',
    'upstreamBreakerOpenFor',
    'upstreamDirectDownloads',
    'offline',
    'config',
    'minReleaseAge',
  ],
}

const FOLDER_ARGUMENT = 'the folder (instead of --eggdir)'

function buildProgram(output: Output, select: (selected: Selected) => void): Command {
  const report = {
    writeOut: output.out,
    writeErr: output.err,
    outputError: (text: string, write: (text: string) => void) => {
      write(`eggserve: ${text.replace(/^error: /, '')}`)
    },
  }
  const program = new Command('eggserve')
    .description('Serve a folder of Python distributions (one sub-folder per project) as a package index.')
    .version(readVersion(), '-V, --version')
    .argument('[eggdir]', FOLDER_ARGUMENT)
    .allowExcessArguments(false)
    // Each command parses its own flags; flagsFor() then applies those given before a
    // sub-command's name to it (or refuses them).
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput(report)
  for (const make of Object.values(OPTIONS)) program.addOption(make())
  program.action((folder: string | undefined) => {
    select({ command: 'serve', own: program.opts<RawFlags>(), before: {}, folder })
  })

  // Every flag is known to each command, so that one the command does not use gets flagsFor()'s
  // message (the same before and after the name); only the command's own are in its help.
  const addOptions = (sub: Command, name: Exclude<CommandName, 'serve'>): void => {
    const takes = COMMAND_SETTINGS[name]
    for (const [setting, make] of Object.entries(OPTIONS)) {
      const made = make()
      sub.addOption(takes === 'all' || takes.some((taken) => taken === setting) ? made : made.hideHelp())
    }
    sub.exitOverride().configureOutput(report)
  }
  const subCommand = (name: 'check' | 'warm', description: string): void => {
    const sub = program
      .command(name)
      .description(description)
      .argument('[eggdir]', FOLDER_ARGUMENT)
      .allowExcessArguments(false)
    addOptions(sub, name)
    sub.action((folder: string | undefined) => {
      select({ command: name, own: sub.opts<RawFlags>(), before: program.opts<RawFlags>(), folder })
    })
  }
  subCommand('check', 'validate the layout of a tree and print every problem (exit 1 if there is any)')
  subCommand('warm', 'hash every file into the persistent cache, with progress, then exit')
  // `eggserve cache purge|warm`: the upstream cache (docs/upstream.md).
  const cache = program
    .command('cache')
    .description('the upstream cache: purge projects from it, or warm it from requirements files')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput(report)
  const purge = cache
    .command('purge')
    .description("remove projects' cached upstream pages and files (a running server fetches them again)")
    .argument('<name...>', 'project names')
  addOptions(purge, 'cache-purge')
  purge.action((names: string[]) => {
    select({
      command: 'cache-purge',
      own: purge.opts<RawFlags>(),
      before: program.opts<RawFlags>(),
      folder: undefined,
      names,
    })
  })
  const warmCache = cache
    .command('warm')
    .description('fetch into the upstream cache what requirements files name (no dependency resolution), with progress')
    .allowExcessArguments(false)
    .requiredOption('-r, --requirement <file>', 'a requirements file (pip format; repeatable)', collect)
  addOptions(warmCache, 'cache-warm')
  warmCache.action(() => {
    const { requirement, ...own } = warmCache.opts<RawFlags & { requirement: readonly string[] }>()
    select({
      command: 'cache-warm',
      own,
      before: program.opts<RawFlags>(),
      folder: undefined,
      requirements: requirement,
    })
  })
  // `eggserve help [command]` as people type it. Commander's implicit help command is off when
  // the program has an action of its own (serving), so it is spelt out here.
  const help = program
    .command('help')
    .description('show the help of eggserve or of a command')
    .argument('[command]')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput(report)
  help.action((name: string | undefined) => {
    const target = name === undefined ? program : program.commands.find((command) => command.name() === name)
    if (target === undefined) {
      return help.error(
        `unknown command "${name ?? ''}" (the commands are ${program.commands.map((command) => command.name()).join(', ')})`,
        { exitCode: EXIT.usage, code: 'commander.unknownCommand' },
      )
    }
    target.outputHelp()
    throw new CommanderError(EXIT.ok, 'commander.helpDisplayed', '(help)')
  })
  return program
}

function readVersion(): string {
  const raw: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  return typeof raw === 'object' && raw !== null && 'version' in raw && typeof raw.version === 'string'
    ? raw.version
    : '0.0.0'
}
