// The real daemon as a child process (`node bin/eggserve.js`), for end-to-end tests.
// bin/eggserve.js imports dist/, so `npm run build` must have run first (npm test does it).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  request as httpRequest,
  type Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { killOnExit } from './exit-cleanup.js'

/** Root of the repository. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
/** The executable under test. */
export const binPath = fileURLToPath(new URL('../../bin/eggserve.js', import.meta.url))

/** One pino log record, parsed. */
export type LogLine = Record<string, unknown>

/** The first log line names the bound address (with --port 0 that is the only way to learn the port). */
const LISTENING = /^eggserve listening on (https?:\/\/[^\s]+)$/

/** A running daemon. */
export interface ServerHandle {
  /** e.g. http://127.0.0.1:40123 (https:// with --tls-cert; no trailing slash). */
  readonly url: string
  readonly port: number
  readonly process: ChildProcess
  /** Every JSON line written to stdout so far, parsed. */
  readonly lines: LogLine[]
  /** stdout lines that were not JSON (there should be none). */
  readonly badLines: string[]
  /** Everything written to stderr so far. */
  readonly stderr: string
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>
  /** The first stdout line (present or future) matching `predicate`; rejects on timeout or exit. */
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>
  /** Send `signal` (default SIGTERM) and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Options of {@link startServer}. */
export interface StartOptions {
  /** Passed as `--eggdir`; omit it to test EGGSERVE_EGGDIR. */
  readonly eggdir?: string
  /** Extra arguments; `--port 0 --host 127.0.0.1` come first unless `defaults: false`. */
  readonly args?: readonly string[]
  /** Added to the environment (which is this process's, minus every EGGSERVE_* variable). */
  readonly env?: Readonly<Record<string, string>>
  /** Leave out `--port 0 --host 127.0.0.1` (to test the environment or other flags). */
  readonly defaults?: boolean
  /** Logs go to this file (`--log`): the listening line is looked for there instead of stdout. */
  readonly logFile?: string
  readonly cwd?: string
  /** How long the daemon may take to listen; default 15 s. */
  readonly startTimeoutMs?: number
  /**
   * Also wait for the "Serving" line (default true), logged once start-up is complete (layout
   * warnings written, watching started). The test that signals right after the listening
   * line passes false.
   */
  readonly untilServing?: boolean
  /**
   * Run the daemon through this command, e.g. `['setpriv', '--reuid=65534', ...]` or a
   * namespace wrapper ending in `exec "$@"`: the daemon's command line is appended.
   */
  readonly wrapper?: readonly string[]
  /** Run this command (an installed `eggserve`) instead of `node bin/eggserve.js`. */
  readonly executable?: string
}

const SERVING = 'Serving'

let cacheHome: string | undefined

// One throwaway XDG cache home per test process, so servers never write into the user's ~/.cache.
function testCacheHome(): string {
  if (cacheHome === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'eggserve-test-cache-'))
    process.once('exit', () => {
      rmSync(dir, { recursive: true, force: true })
    })
    cacheHome = dir
  }
  return cacheHome
}

/**
 * The environment children get: this process's without EGGSERVE_*, CACHE_DIRECTORY and
 * CREDENTIALS_DIRECTORY (a developer's settings, or a systemd unit's, must not leak in), the
 * cache under a throwaway XDG_CACHE_HOME, plus `extra`.
 */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('EGGSERVE_') && name !== 'CACHE_DIRECTORY' && name !== 'CREDENTIALS_DIRECTORY')
      env[name] = value
  }
  return { ...env, XDG_CACHE_HOME: testCacheHome(), ...extra }
}

/**
 * Spawn `node bin/eggserve.js` and wait until it listens. Fails with the exit code and stderr
 * when the process exits (or stays silent) instead. The process is killed after the test.
 */
export async function startServer(t: TestContext, options: StartOptions): Promise<ServerHandle> {
  const args = [
    ...(options.defaults === false ? [] : ['--port', '0', '--host', '127.0.0.1']),
    ...(options.eggdir === undefined ? [] : ['--eggdir', options.eggdir]),
    ...(options.args ?? []),
  ]
  const daemon = options.executable === undefined ? [process.execPath, binPath] : [options.executable]
  const [command, ...rest] = [...(options.wrapper ?? []), ...daemon, ...args]
  const child = spawn(command ?? process.execPath, rest, {
    cwd: options.cwd ?? repoRoot,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: LogLine[] = []
  const badLines: string[] = []
  const waiters = new Set<() => void>()
  let stderr = ''
  let exitCode: number | null | undefined
  let exitSignal: NodeJS.Signals | null = null
  const notify = (): void => {
    for (const waiter of [...waiters]) waiter()
  }

  // Should the test process itself die abruptly (t.after never runs), take the daemon along.
  const forget = killOnExit(() => {
    child.kill('SIGKILL')
  })
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      forget()
      exitCode = code
      exitSignal = signal
      notify()
      resolve(code)
    })
  })
  // Handled here so an unobserved exit never becomes an unhandled rejection.
  exited.catch(() => undefined)

  let pending = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    pending += chunk
    const parts = pending.split('\n')
    pending = parts.pop() ?? ''
    for (const text of parts) {
      if (text === '') continue
      const parsed = parseJsonObject(text)
      if (parsed === undefined) badLines.push(text)
      else lines.push(parsed)
    }
    notify()
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk
  })

  t.after(async () => {
    if (exitCode === undefined) {
      child.kill('SIGKILL')
      await exited
    }
  })

  const describeExit = (): string =>
    `eggserve exited (code ${String(exitCode)}, signal ${String(exitSignal)}) before listening; stderr: ${JSON.stringify(stderr)}; stdout: ${JSON.stringify(lines)}`

  const waitForLine = async (predicate: (line: LogLine) => boolean, timeoutMs = 5000): Promise<LogLine> => {
    let checked = 0
    return new Promise<LogLine>((resolve, reject) => {
      const check = (): void => {
        for (; checked < lines.length; checked++) {
          const line = lines[checked]
          if (line !== undefined && predicate(line)) {
            finish()
            resolve(line)
            return
          }
        }
        if (exitCode !== undefined) {
          finish()
          reject(
            new Error(
              `eggserve exited (code ${String(exitCode)}) before the awaited log line; stderr: ${JSON.stringify(stderr)}; last lines: ${JSON.stringify(lines.slice(-5))}`,
            ),
          )
        }
      }
      const timer = setTimeout(() => {
        finish()
        reject(
          new Error(
            `no matching log line within ${timeoutMs} ms; last lines: ${JSON.stringify(lines.slice(-5))}; stderr: ${JSON.stringify(stderr)}`,
          ),
        )
      }, timeoutMs)
      const finish = (): void => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })
  }

  const startTimeout = options.startTimeoutMs ?? 15_000
  let url: string
  if (options.logFile === undefined) {
    const first = await waitForLine(() => true, startTimeout).catch((err: unknown) => {
      throw new Error(exitCode === undefined ? String(err) : describeExit())
    })
    const match = typeof first.msg === 'string' ? LISTENING.exec(first.msg) : null
    if (match?.[1] === undefined)
      throw new Error(`the first log line is not the listening line: ${JSON.stringify(first)}`)
    url = match[1]
    if (options.untilServing !== false) await waitForLine((line) => line.msg === SERVING, startTimeout)
  } else {
    url = await listeningUrlFromFile(
      options.logFile,
      { timeoutMs: startTimeout, untilServing: options.untilServing !== false },
      () => (exitCode === undefined ? undefined : describeExit()),
    )
  }
  const port = Number(new URL(url).port)
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no usable port in ${url}`)

  return {
    url,
    port,
    process: child,
    lines,
    badLines,
    get stderr() {
      return stderr
    },
    exited,
    waitForLine,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (exitCode === undefined) child.kill(signal)
      return exited
    },
  }
}

async function listeningUrlFromFile(
  file: string,
  options: { timeoutMs: number; untilServing: boolean },
  exitedMessage: () => string | undefined,
): Promise<string> {
  const { timeoutMs } = options
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '')
    let url: string | undefined
    for (const line of text.split('\n')) {
      const msg = parseJsonObject(line)?.msg
      const match = typeof msg === 'string' ? LISTENING.exec(msg) : null
      url ??= match?.[1]
      if (url !== undefined && (!options.untilServing || msg === SERVING)) return url
    }
    const exited = exitedMessage()
    if (exited !== undefined) throw new Error(exited)
    if (Date.now() > deadline)
      throw new Error(`no listening line in ${file} within ${timeoutMs} ms; it holds: ${JSON.stringify(text)}`)
    await sleep(25)
  }
}

/** Parse one line as a JSON object, or undefined. */
export function parseJsonObject(text: string): LogLine | undefined {
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as LogLine
  } catch {
    // not JSON
  }
  return undefined
}

/** What a finished process left. */
export interface RunResult {
  /** Exit code; null when it was killed by a signal (e.g. on timeout). */
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
  /** Wall-clock milliseconds from spawn to exit. */
  readonly ms: number
}

/** Options of {@link runProcess}. */
export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /**
   * Kill the process (SIGKILL) after this long; default 120 s. Only a guard against a hung
   * process: on a loaded machine a dozen Node start-ups side by side take tens of seconds.
   */
  readonly timeoutMs?: number
  /**
   * Start the command in a process group of its own, and kill the whole group (by its id) on
   * timeout: for commands that start children of their own (pip building an sdist runs a
   * build backend in a subprocess), which killing only the command would leave running.
   */
  readonly processGroup?: boolean
}

/**
 * Run a command to completion, collecting its output; never rejects for a non-zero exit (it
 * rejects when the command cannot start). The command (or its group) is killed on timeout,
 * and when this test process exits first.
 */
export async function runProcess(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const started = performance.now()
  const group = options.processGroup === true
  const child = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  })
  let stdout = ''
  let stderr = ''
  let timedOut = false
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk
  })
  const kill = (): void => {
    if (!group) {
      child.kill('SIGKILL')
      return
    }
    if (child.pid === undefined) return
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      // the group is already gone
    }
  }
  const forget = killOnExit(kill)
  const timer = setTimeout(() => {
    timedOut = true
    kill()
  }, options.timeoutMs ?? 120_000)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (exitCode) => {
        resolve(exitCode)
      })
    })
    return { code, stdout, stderr, timedOut, ms: Math.round(performance.now() - started) }
  } finally {
    clearTimeout(timer)
    forget()
  }
}

/** Run `node bin/eggserve.js ARGS` to completion (for runs that should exit by themselves). */
export async function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return runProcess(process.execPath, [binPath, ...args], { env: childEnv(env), ...options })
}

/** A response read to its end. */
export interface HttpResult {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

/**
 * One request over a fresh connection with node:http, which sends exactly the headers given
 * (fetch adds its own and hides some response details).
 */
export async function httpGet(url: string, options: RequestOptions = {}): Promise<HttpResult> {
  const response = await openRequest(url, options)
  const chunks: Buffer[] = []
  for await (const chunk of response) chunks.push(chunk as Buffer)
  return { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }
}

/** Options of {@link httpGet} and {@link openRequest}. */
export interface RequestOptions {
  readonly method?: string
  readonly headers?: OutgoingHttpHeaders
  /** Default: none, so each request has its own connection (Connection: close). */
  readonly agent?: Agent
}

/** Send a request and resolve with the response as soon as its headers arrive (the body is not read). */
export async function openRequest(url: string, options: RequestOptions = {}): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: options.agent ?? false },
      resolve,
    )
    req.once('error', reject)
    req.end()
  })
}

/** Poll `probe` until it returns true or `timeoutMs` passes; resolves with the elapsed milliseconds, or undefined on timeout. */
export async function pollUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 25,
): Promise<number | undefined> {
  const started = performance.now()
  for (;;) {
    if (await probe()) return performance.now() - started
    if (performance.now() - started > timeoutMs) return undefined
    await sleep(intervalMs)
  }
}
