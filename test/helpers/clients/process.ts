// Running one client command: its own process group (so a timeout ends pip's build
// subprocesses too), a wall-clock limit, and both output streams kept for the report.
import { spawn } from 'node:child_process'

/** What a finished client command left. */
export interface CommandResult {
  readonly command: string
  /** Exit code; null when killed (timeout) or when it could not start. */
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
  readonly ms: number
}

/** Options of {@link runCommand}. */
export interface CommandOptions {
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
  readonly timeoutMs: number
}

/** Seconds one client command may take: EGGSERVE_MATRIX_TIMEOUT (seconds), default 180. */
export function commandTimeoutMs (): number {
  const raw = process.env.EGGSERVE_MATRIX_TIMEOUT
  const seconds = raw === undefined || raw === '' ? 180 : Number(raw)
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`EGGSERVE_MATRIX_TIMEOUT must be a positive number of seconds, got ${JSON.stringify(raw)}`)
  return seconds * 1000
}

/**
 * Run `file args` to completion; never rejects for a non-zero exit or a missing executable.
 * On timeout the whole process group this call created is killed (by its id), so a pip that
 * hangs in a build subprocess cannot outlive the test.
 */
export async function runCommand (file: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
  const started = performance.now()
  const command = [file, ...args].map(quote).join(' ')
  const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let stdout = ''
  let stderr = ''
  let timedOut = false
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => { stdout += chunk })
  child.stderr.on('data', (chunk: string) => { stderr += chunk })
  const killGroup = (): void => {
    if (child.pid === undefined) return
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      // the group is already gone
    }
  }
  // Should the test process die first, take the client along.
  process.once('exit', killGroup)
  const timer = setTimeout(() => {
    timedOut = true
    killGroup()
  }, options.timeoutMs)
  try {
    const code = await new Promise<number | null>((resolve) => {
      child.once('error', (err) => {
        stderr += `cannot start ${file}: ${err.message}\n`
        resolve(null)
      })
      child.once('close', (exitCode) => { resolve(exitCode) })
    })
    return { command, code, stdout, stderr, timedOut, ms: Math.round(performance.now() - started) }
  } finally {
    clearTimeout(timer)
    process.off('exit', killGroup)
  }
}

function quote (word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`
}

/** Both streams of a command, for assertion messages (long output keeps its end, where errors are). */
export function describeResult (result: CommandResult, limit = 6000): string {
  const text = `$ ${result.command}\nexit ${String(result.code)}${result.timedOut ? ' (timed out)' : ''} after ${result.ms} ms\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
  return text.length <= limit ? text : `[... ${text.length - limit} characters cut ...]\n${text.slice(-limit)}`
}

// Lines that name the actual failure, in the words of pip, poetry, pdm and easy_install.
const DECISIVE = /Retrieved digest|not found in\s+known hashes|DO NOT MATCH THE HASHES|Hash mismatch|validation failed|No matching distribution|requires a different Python|requires Python|Unable to find a resolution|Could not find a version|ResolutionImpossible|^ERROR:|^error:/
const ERRORISH = /error|Error|ERROR|Exception|mismatch|not found|Could not|failed|validation/

/** The line of the output that best says what went wrong, for one-line result details. */
export function lastError (result: CommandResult): string {
  const lines = `${result.stdout}\n${result.stderr}`.split('\n').map((line) => line.trim()).filter((line) => line !== '')
  const pick = lines.find((line) => DECISIVE.test(line)) ?? lines.filter((line) => ERRORISH.test(line)).at(-1) ?? lines.at(-1) ?? ''
  return result.timedOut ? `timed out after ${result.ms} ms: ${pick}` : pick.slice(0, 300)
}
