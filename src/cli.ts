// The command line: parse flags, run the server (or `check`, `warm`), map failures to one line
// and an exit code. Only this module and src/commands/ write to stdout/stderr.
import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { runCheck } from './commands/check.js'
import type { Output } from './commands/output.js'
import { runWarm } from './commands/warm.js'
import { resolveConfig, SETTINGS, type RawFlags, type SettingSpec } from './config.js'
import { ANCHOR_ALGORITHMS } from './core/digests.js'
import { startDaemon } from './daemon.js'
import { AppError, ConfigError } from './errors.js'

/** Exit codes, documented in the README. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

const stdio: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTTY: process.stderr.isTTY,
}

interface Selected { readonly command: 'serve' | 'check' | 'warm'; readonly flags: RawFlags }

/** Run the command line; resolves with the process exit code once the work is over. */
export async function main (argv: readonly string[], env: NodeJS.ProcessEnv = process.env, output: Output = stdio): Promise<number> {
  let selected: Selected | undefined
  const program = buildProgram(output, (command, flags) => { selected = { command, flags } })
  try {
    program.parse(argv)
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    throw err
  }
  if (selected === undefined) return EXIT.usage
  try {
    const config = resolveConfig(selected.flags, env)
    switch (selected.command) {
      case 'check': return await runCheck(config, output)
      case 'warm': return await runWarm(config, output)
      case 'serve': {
        const daemon = await startDaemon(config)
        await daemon.closed
        return EXIT.ok
      }
    }
  } catch (err) {
    return report(err, output)
  }
}

function report (err: unknown, output: Output): number {
  if (err instanceof ConfigError) {
    output.err(`eggserve: ${err.message}\n`)
    return EXIT.usage
  }
  if (err instanceof AppError) {
    output.err(`eggserve: ${err.message}\n`)
    return EXIT.failure
  }
  // Unexpected: one line, no stack trace.
  output.err(`eggserve: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`)
  return EXIT.failure
}

function option (flags: string, text: string, setting: SettingSpec): Option {
  return new Option(flags, `${text} (env ${setting.env}${setting.defaultValue === undefined ? '' : `, default ${setting.defaultValue}`})`)
}

const OPTIONS = {
  eggdir: () => option('-d, --eggdir <dir>', 'folder to serve', SETTINGS.eggdir),
  port: () => option('-p, --port <port>', 'TCP port; 0 picks a free one', SETTINGS.port),
  host: () => option('--host <address>', 'address to listen on', SETTINGS.host),
  log: () => option('--log <file>', 'append JSON logs to this file instead of stdout; SIGHUP reopens it', SETTINGS.log),
  logLevel: () => option('--log-level <level>', 'fatal, error, warn, info, debug or trace', SETTINGS.logLevel),
  hashAlgo: () => option('--hash-algo <algo>', `hash in link fragments: ${ANCHOR_ALGORITHMS.join(', ')}`, SETTINGS.hashAlgo),
  lenient: () => option('--lenient', 'start even if the layout has problems, skipping the files concerned', SETTINGS.lenient),
  shutdownTimeout: () => option('--shutdown-timeout <seconds>', 'time in-flight requests get after SIGTERM/SIGINT', SETTINGS.shutdownTimeout),
  cacheControl: () => option('--cache-control <value>', 'Cache-Control of index pages and API documents', SETTINGS.cacheControl),
  cacheDir: () => option('--cache-dir <dir>', 'persistent hash and metadata cache ("none" to disable; default $CACHE_DIRECTORY, else $XDG_CACHE_HOME/eggserve, else ~/.cache/eggserve)', SETTINGS.cacheDir),
  hashWorkers: () => option('--hash-workers <n>', 'worker threads that hash ("auto": one per core; 0: in the main thread)', SETTINGS.hashWorkers),
  reconcileInterval: () => option('--reconcile-interval <seconds>', 're-read the whole tree this often, as a safety net for missed changes (0: never)', SETTINGS.reconcileInterval),
  passwords: () => option('--passwords <file>', 'htpasswd file (bcrypt, htpasswd -B) of the users who may upload; "." for none', SETTINGS.passwords),
  authenticate: () => option('--authenticate <actions>', 'what needs credentials: update, download, list (comma-separated), or "." for nothing', SETTINGS.authenticate),
  overwrite: () => option('--overwrite', 'let an upload replace an existing file with different bytes', SETTINGS.overwrite),
  maxUploadSize: () => option('--max-upload-size <size>', 'largest uploaded file, in bytes or with K, M, G', SETTINGS.maxUploadSize),
  authFailureLimit: () => option('--auth-failure-limit <count>', 'failed logins per client address and minute before 429; 0 for no limit', SETTINGS.authFailureLimit),
  publicUrl: () => option('--public-url <url>', 'base of the absolute URLs in the JSON API, e.g. https://pypi.example.com/eggs/ (default: from each request)', SETTINGS.publicUrl),
  trustProxy: () => option('--trust-proxy <addresses>', 'proxies whose X-Forwarded-Proto, -Host and -Prefix are believed: IP addresses and CIDR ranges, comma-separated', SETTINGS.trustProxy),
} as const

function buildProgram (output: Output, select: (command: Selected['command'], flags: RawFlags) => void): Command {
  const program = new Command('eggserve')
    .description('Serve a folder of Python distributions (one sub-folder per project) as a package index.')
    .version(readVersion(), '-V, --version')
    .allowExcessArguments(false)
    // The server's flags and each command's flags are separate: `eggserve warm --eggdir X` is warm's.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err, outputError: (text, write) => { write(`eggserve: ${text.replace(/^error: /, '')}`) } })
  for (const make of Object.values(OPTIONS)) program.addOption(make())
  program.action(() => { select('serve', program.opts<RawFlags>()) })

  const check = program.command('check')
    .description('validate the layout of a tree and print every problem (exit 1 if there is any)')
    .addOption(OPTIONS.eggdir())
    .allowExcessArguments(false)
  check.action(() => { select('check', check.opts<RawFlags>()) })

  const warm = program.command('warm')
    .description('hash every file into the persistent cache, with progress, then exit')
    .addOption(OPTIONS.eggdir())
    .addOption(OPTIONS.cacheDir())
    .addOption(OPTIONS.hashAlgo())
    .addOption(OPTIONS.hashWorkers())
    .allowExcessArguments(false)
  warm.action(() => { select('warm', warm.opts<RawFlags>()) })
  // Subcommands report errors the same way as the program.
  for (const sub of [check, warm]) sub.exitOverride().configureOutput({ writeOut: output.out, writeErr: output.err, outputError: (text, write) => { write(`eggserve: ${text.replace(/^error: /, '')}`) } })
  return program
}

function readVersion (): string {
  const raw: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  return typeof raw === 'object' && raw !== null && 'version' in raw && typeof raw.version === 'string' ? raw.version : '0.0.0'
}
