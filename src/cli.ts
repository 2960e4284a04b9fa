// The command line: parse flags, start the daemon, map failures to one line and an exit code.
// This is the only module that writes to stdout/stderr directly.
import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { resolveConfig, SETTINGS, type RawFlags } from './config.js'
import { ANCHOR_ALGORITHMS } from './core/digests.js'
import { startDaemon } from './daemon.js'
import { AppError, ConfigError } from './errors.js'

/** Exit codes, documented in the README. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

interface Output {
  out: (text: string) => void
  err: (text: string) => void
}

const stdio: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}

/** Run the command line; resolves with the process exit code once the server has stopped. */
export async function main (argv: readonly string[], env: NodeJS.ProcessEnv = process.env, output: Output = stdio): Promise<number> {
  const program = buildProgram(output)
  let flags: RawFlags
  try {
    program.parse(argv)
    flags = program.opts<RawFlags>()
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    throw err
  }
  try {
    const daemon = await startDaemon(resolveConfig(flags, env))
    await daemon.closed
    return EXIT.ok
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

function buildProgram (output: Output): Command {
  const described = (text: string, setting: { env: string; defaultValue: string | undefined }): string =>
    `${text} (env ${setting.env}${setting.defaultValue === undefined ? '' : `, default ${setting.defaultValue}`})`
  return new Command('eggserve')
    .description('Serve a folder of Python distributions (one sub-folder per project) as a package index.')
    .version(readVersion(), '-V, --version')
    .addOption(new Option('-d, --eggdir <dir>', described('folder to serve', SETTINGS.eggdir)))
    .addOption(new Option('-p, --port <port>', described('TCP port; 0 picks a free one', SETTINGS.port)))
    .addOption(new Option('--host <address>', described('address to listen on', SETTINGS.host)))
    .addOption(new Option('--log <file>', described('append JSON logs to this file instead of stdout; SIGHUP reopens it', SETTINGS.log)))
    .addOption(new Option('--log-level <level>', described('fatal, error, warn, info, debug or trace', SETTINGS.logLevel)))
    .addOption(new Option('--hash-algo <algo>', described(`hash in link fragments: ${ANCHOR_ALGORITHMS.join(', ')}`, SETTINGS.hashAlgo)))
    .addOption(new Option('--lenient', described('start even if the layout has problems, skipping the files concerned', SETTINGS.lenient)))
    .addOption(new Option('--shutdown-timeout <seconds>', described('time in-flight requests get after SIGTERM/SIGINT', SETTINGS.shutdownTimeout)))
    .addOption(new Option('--cache-control <value>', described('Cache-Control of index pages and API documents', SETTINGS.cacheControl)))
    .addOption(new Option('--passwords <file>', described('htpasswd file (bcrypt, htpasswd -B) of the users who may upload; "." for none', SETTINGS.passwords)))
    .addOption(new Option('--authenticate <actions>', described('what needs credentials: update, download, list (comma-separated), or "." for nothing', SETTINGS.authenticate)))
    .addOption(new Option('--overwrite', described('let an upload replace an existing file with different bytes', SETTINGS.overwrite)))
    .addOption(new Option('--max-upload-size <size>', described('largest uploaded file, in bytes or with K, M, G', SETTINGS.maxUploadSize)))
    .addOption(new Option('--auth-failure-limit <count>', described('failed logins per client address and minute before 429; 0 for no limit', SETTINGS.authFailureLimit)))
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err, outputError: (text, write) => { write(`eggserve: ${text.replace(/^error: /, '')}`) } })
}

function readVersion (): string {
  const raw: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  return typeof raw === 'object' && raw !== null && 'version' in raw && typeof raw.version === 'string' ? raw.version : '0.0.0'
}
