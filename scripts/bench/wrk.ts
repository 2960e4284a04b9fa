// Load with wrk (Debian's wrk 4.1) on loopback. A small Lua script sets any custom headers and,
// in wrk's done() hook, prints exact figures (requests, bytes, µs percentiles) as one JSON line,
// so nothing depends on wrk's rounded, unit-suffixed text.
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { onCleanup } from './cleanup.js'

export interface WrkRequest {
  readonly url: string
  readonly durationS: number
  readonly connections: number
  readonly headers?: Readonly<Record<string, string>>
  /** wrk's per-request timeout; a large download needs more than the default 2 s. */
  readonly timeoutS?: number
  /** Folder for the Lua script. */
  readonly workDir: string
  /** A file-name-safe label for the Lua script. */
  readonly label: string
}

export interface WrkResult {
  readonly requests: number
  readonly bytes: number
  readonly durationS: number
  readonly rps: number
  /** Response bytes per second (headers included), in MB/s (10^6). */
  readonly mbps: number
  readonly p50Ms: number
  readonly p90Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** Socket errors plus non-2xx/3xx responses plus timeouts. */
  readonly errors: number
  readonly errorText: string
  readonly command: string
}

/** The wrk threads: 2 (one per core), never more than the connections. */
export function wrkThreads(connections: number): number {
  return Math.min(2, connections)
}

export async function runWrk(request: WrkRequest): Promise<WrkResult> {
  const script = join(request.workDir, `wrk-${request.label}.lua`)
  await writeFile(script, luaScript(request.headers ?? {}))
  const args = [
    `-t${wrkThreads(request.connections)}`,
    `-c${request.connections}`,
    `-d${request.durationS}s`,
    '--latency',
    ...(request.timeoutS === undefined ? [] : ['--timeout', `${request.timeoutS}s`]),
    '-s',
    script,
    request.url,
  ]
  const command = `wrk ${args.join(' ')}`
  const { code, stdout, stderr } = await runChild('wrk', args, (request.durationS + 60) * 1000)
  if (code !== 0) throw new Error(`${command} failed (exit ${String(code)}): ${stderr.trim() || stdout.trim()}`)
  return parseWrk(stdout, command)
}

/** Run a child to completion, registered for cleanup so Ctrl-C never leaves it behind. */
async function runChild(
  command: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => {
      resolve(code)
    })
  })
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  }
  const unregister = onCleanup(
    `${command} (pid ${String(child.pid)})`,
    async () => {
      kill()
      await exited.catch(() => null)
    },
    kill,
  )
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096)
  })
  const timer = setTimeout(kill, timeoutMs)
  try {
    return { code: await exited, stdout, stderr }
  } finally {
    clearTimeout(timer)
    unregister()
  }
}

/** Parse the BENCH-JSON line of our done() hook. */
export function parseWrk(stdout: string, command: string): WrkResult {
  const line = stdout.split('\n').find((text) => text.startsWith('BENCH-JSON '))
  if (line === undefined) throw new Error(`no BENCH-JSON line in the output of ${command}:\n${stdout}`)
  const raw: unknown = JSON.parse(line.slice('BENCH-JSON '.length))
  const field = (name: string): number => {
    const value = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[name] : undefined
    if (typeof value !== 'number') throw new Error(`wrk summary lacks ${name}: ${line}`)
    return value
  }
  const durationS = field('duration_us') / 1e6
  const requests = field('requests')
  const bytes = field('bytes')
  const kinds = ['connect', 'read', 'write', 'status', 'timeout'] as const
  const counts = kinds.map((kind) => [kind, field(kind)] as const).filter(([, n]) => n > 0)
  return {
    requests,
    bytes,
    durationS,
    rps: durationS > 0 ? requests / durationS : 0,
    mbps: durationS > 0 ? bytes / durationS / 1e6 : 0,
    p50Ms: field('p50_us') / 1000,
    p90Ms: field('p90_us') / 1000,
    p99Ms: field('p99_us') / 1000,
    maxMs: field('max_us') / 1000,
    errors: counts.reduce((sum, [, n]) => sum + n, 0),
    errorText: counts.map(([kind, n]) => `${n} ${kind === 'status' ? 'non-2xx/3xx' : kind}`).join(', '),
    command,
  }
}

function luaString(text: string): string {
  if (!/^[\x20-\x7e]*$/.test(text)) throw new Error(`header text must be printable ASCII: ${JSON.stringify(text)}`)
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

function luaScript(headers: Readonly<Record<string, string>>): string {
  const lines = ['-- generated by scripts/bench/wrk.ts', 'wrk.method = "GET"']
  for (const [name, value] of Object.entries(headers))
    lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`)
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'BENCH-JSON {"requests":%.0f,"bytes":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"max_us":%.0f}\\n\',',
    '    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))',
    'end',
    '',
  )
  return lines.join('\n')
}
