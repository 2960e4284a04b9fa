// Running one client command: its own process group (so a timeout ends pip's build
// subprocesses too), a wall-clock limit, and both output streams kept for the report.
import { runProcess, type RunResult } from '../spawn-server.js'

/** What a finished client command left: the run and the command line, for the report. */
export interface CommandResult extends RunResult {
  readonly command: string
}

/** Options of {@link runCommand}. */
export interface CommandOptions {
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
  readonly timeoutMs: number
}

/** Seconds one client command may take: EGGSERVE_MATRIX_TIMEOUT (seconds), default 180. */
export function commandTimeoutMs(): number {
  const raw = process.env.EGGSERVE_MATRIX_TIMEOUT
  const seconds = raw === undefined || raw === '' ? 180 : Number(raw)
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new Error(`EGGSERVE_MATRIX_TIMEOUT must be a positive number of seconds, got ${JSON.stringify(raw)}`)
  return seconds * 1000
}

/**
 * Run `file args` to completion in a process group of its own (runProcess's processGroup), so
 * a pip that hangs in a build subprocess cannot outlive the test; never rejects, not even for
 * a missing executable: that is a result for the matrix to report.
 */
export async function runCommand(
  file: string,
  args: readonly string[],
  options: CommandOptions,
): Promise<CommandResult> {
  const command = [file, ...args].map(quote).join(' ')
  try {
    return { command, ...(await runProcess(file, args, { ...options, processGroup: true })) }
  } catch (err) {
    return {
      command,
      code: null,
      stdout: '',
      stderr: `cannot start ${file}: ${err instanceof Error ? err.message : String(err)}\n`,
      timedOut: false,
      ms: 0,
    }
  }
}

function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`
}

/** Both streams of a command, for assertion messages (long output keeps its end, where errors are). */
export function describeResult(result: CommandResult, limit = 6000): string {
  const text = `$ ${result.command}\nexit ${String(result.code)}${result.timedOut ? ' (timed out)' : ''} after ${result.ms} ms\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
  return text.length <= limit ? text : `[... ${text.length - limit} characters cut ...]\n${text.slice(-limit)}`
}

// Lines that name the actual failure, in the words of pip, poetry, pdm and easy_install.
const DECISIVE =
  /Retrieved digest|not found in\s+known hashes|DO NOT MATCH THE HASHES|Hash mismatch|validation failed|No matching distribution|requires a different Python|requires Python|Unable to find a resolution|Could not find a version|ResolutionImpossible|^ERROR:|^error:/
const ERRORISH = /error|Error|ERROR|Exception|mismatch|not found|Could not|failed|validation/

/** The line of the output that best says what went wrong, for one-line result details. */
export function lastError(result: CommandResult): string {
  const lines = `${result.stdout}\n${result.stderr}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
  const pick =
    lines.find((line) => DECISIVE.test(line)) ??
    lines.filter((line) => ERRORISH.test(line)).at(-1) ??
    lines.at(-1) ??
    ''
  return result.timedOut ? `timed out after ${result.ms} ms: ${pick}` : pick.slice(0, 300)
}
