// Starting and stopping eggserve (a child process, stopped with SIGTERM) and the node:http
// ceiling server; nginx is in nginx.ts.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { readdir, readFile, readlink } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { onCleanup } from './cleanup.js'
import { listeningUrl } from './listening-line.js'

/** The flag was rejected by this eggserve build ("unknown option"). */
export class UnsupportedFlagError extends Error {
  readonly flag: string
  constructor(flag: string) {
    super(`this eggserve build does not accept ${flag}`)
    this.flag = flag
  }
}

export interface EggserveStart {
  /** Folder holding bin/eggserve.js, dist/ and package.json (a snapshot of the build). */
  readonly root: string
  readonly eggdir: string
  /** undefined: do not pass --cache-dir. */
  readonly cacheDir: string | undefined
  readonly logLevel: 'warn' | 'info'
  /** stdout goes to this file instead of a pipe (cheaper under load, as a log file would be). */
  readonly stdoutFile?: string
  readonly env: NodeJS.ProcessEnv
  readonly label: string
  /** Give up if not listening after this long. */
  readonly listenTimeoutMs: number
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[]
  /** Extra eggserve flags, e.g. --metrics. */
  readonly eggserveArgs?: readonly string[]
  /** The node binary to run eggserve with (--node); default: the one running the bench. */
  readonly node?: string
}

/** A running eggserve. */
export interface Eggserve {
  readonly pid: number
  readonly url: string
  /** performance.now() just before spawn. */
  readonly spawnedAt: number
  /** Spawn to listening, in ms. */
  readonly listeningMs: number
  /** How listening was detected: the first stdout line, or the socket in /proc (no line at this log level). */
  readonly listeningFrom: 'log line' | 'socket'
  /** VmHWM of the process, in MB (10^6 bytes), or undefined once it has exited. */
  peakRssMb(): Promise<number | undefined>
  stop(): Promise<void>
}

/** Spawn `node bin/eggserve.js` and wait until it listens. */
export async function startEggserve(options: EggserveStart): Promise<Eggserve> {
  const args = [
    ...(options.nodeFlags ?? []),
    join(options.root, 'bin', 'eggserve.js'),
    '--eggdir',
    options.eggdir,
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--log-level',
    options.logLevel,
    ...(options.cacheDir === undefined ? [] : ['--cache-dir', options.cacheDir]),
    ...(options.eggserveArgs ?? []),
  ]
  const stdoutFd = options.stdoutFile === undefined ? undefined : openSync(options.stdoutFile, 'a')
  const spawnedAt = performance.now()
  const child = spawn(options.node ?? process.execPath, args, {
    cwd: options.root,
    env: options.env,
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
  })
  if (stdoutFd !== undefined) closeSync(stdoutFd)
  const pid = child.pid
  if (pid === undefined) throw new Error(`cannot spawn eggserve (${options.label})`)
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code)
    }),
  )
  const unregister = onCleanup(
    `eggserve ${options.label} (pid ${pid})`,
    () => stopChild(child, exited),
    () => {
      killSync(child)
    },
  )
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192)
  })

  const found = await new Promise<{ url: string; at: number; from: 'log line' | 'socket' } | Error>((resolve) => {
    const state = { done: false }
    const finish = (value: { url: string; at: number; from: 'log line' | 'socket' } | Error): void => {
      if (state.done) return
      state.done = true
      resolve(value)
    }
    if (child.stdout !== null) {
      const lines = createInterface({ input: child.stdout })
      lines.on('line', (line) => {
        const url = listeningUrl(line)
        if (url !== undefined) finish({ url, at: performance.now(), from: 'log line' })
      })
      // Keep draining after the first line so the child never blocks on a full pipe.
    }
    void exited.then((code) => {
      finish(new Error(`eggserve exited (code ${String(code)}) before listening`))
    })
    void (async () => {
      const deadline = spawnedAt + options.listenTimeoutMs
      while (!state.done && performance.now() < deadline) {
        const port = await listeningPort(pid)
        if (port !== undefined) {
          finish({ url: `http://127.0.0.1:${port}`, at: performance.now(), from: 'socket' })
          return
        }
        await sleep(10)
      }
      finish(new Error(`eggserve did not listen within ${options.listenTimeoutMs} ms`))
    })()
  })
  if (found instanceof Error) {
    await stopChild(child, exited)
    unregister()
    const unknown = /unknown option '([^']+)'/.exec(stderr)
    if (unknown?.[1] !== undefined) throw new UnsupportedFlagError(unknown[1])
    throw new Error(`${found.message} (${options.label}); stderr:\n${stderr.trim()}`)
  }
  return {
    pid,
    url: found.url.replace(/\/$/, ''),
    spawnedAt,
    listeningMs: found.at - spawnedAt,
    listeningFrom: found.from,
    peakRssMb: () => peakRss(pid),
    stop: async () => {
      await stopChild(child, exited)
      unregister()
    },
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timedOut = await Promise.race([exited.then(() => false), sleep(15_000).then(() => true)])
  if (timedOut) {
    child.kill('SIGKILL')
    await exited
  }
}

function killSync(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
}

/** The TCP port `pid` listens on, from its socket inodes and /proc/net/tcp (Linux). */
async function listeningPort(pid: number): Promise<number | undefined> {
  const inodes = new Set<string>()
  let fds: string[]
  try {
    fds = await readdir(`/proc/${pid}/fd`)
  } catch {
    return undefined
  }
  for (const fd of fds) {
    try {
      const target = await readlink(`/proc/${pid}/fd/${fd}`)
      const match = /^socket:\[(\d+)\]$/.exec(target)
      if (match?.[1] !== undefined) inodes.add(match[1])
    } catch {
      // Closed meanwhile.
    }
  }
  if (inodes.size === 0) return undefined
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = await readFile(table, 'utf8')
    } catch {
      continue
    }
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/)
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      if (cols[3] === '0A' && cols[9] !== undefined && inodes.has(cols[9])) {
        const port = cols[1]?.split(':')[1]
        if (port !== undefined) return parseInt(port, 16)
      }
    }
  }
  return undefined
}

/** USER_HZ: the unit of /proc/<pid>/stat times, 100 on Linux's supported architectures. */
const CLOCK_TICKS = 100

/** CPU time of process `pid` so far (user + system, all threads), in seconds (Linux /proc). */
export async function cpuSeconds(pid: number): Promise<number> {
  return statCpuSeconds(`/proc/${String(pid)}/stat`)
}

/** utime + stime of a process's main thread only (its JavaScript, not its worker threads), in seconds. */
export async function mainThreadCpuSeconds(pid: number): Promise<number> {
  return statCpuSeconds(`/proc/${String(pid)}/task/${String(pid)}/stat`)
}

async function statCpuSeconds(path: string): Promise<number> {
  const stat = await readFile(path, 'utf8')
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/** VmHWM (peak resident set) of a live process, in MB. */
export async function peakRss(pid: number): Promise<number | undefined> {
  return procStatusMb(pid, 'VmHWM')
}

/** A memory field of /proc/<pid>/status (VmHWM, VmRSS), in MB (10^6 bytes). */
export async function procStatusMb(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
    return match?.[1] === undefined ? undefined : (Number(match[1]) * 1024) / 1e6
  } catch {
    return undefined
  }
}

/** A free loopback port (bind to 0, read, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => {
        resolve(port)
      })
    })
  })
}

/** A running ceiling-server.ts (bare node:http over nginx's static copies). */
export interface Ceiling {
  readonly url: string
  stop(): Promise<void>
}

/**
 * Start ceiling-server.ts over `staticDir` on `node` (the Node eggserve runs on), in `processes`
 * processes (node:cluster above 1); `cwd` must resolve tsx (the repository or the snapshot).
 */
export async function startCeiling(
  staticDir: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  runtime: { readonly node?: string; readonly processes?: number } = {},
): Promise<Ceiling> {
  const script = fileURLToPath(new URL('./ceiling-server.ts', import.meta.url))
  const args = ['--import', 'tsx', script, staticDir, String(runtime.processes ?? 1)]
  const child = spawn(runtime.node ?? process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code)
    }),
  )
  const unregister = onCleanup(
    `ceiling server (pid ${String(child.pid)})`,
    () => stopChild(child, exited),
    () => {
      killSync(child)
    },
  )
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096)
  })
  const port = await new Promise<number | Error>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^listening (\d+)$/.exec(line)
      if (match?.[1] !== undefined) resolve(Number(match[1]))
    })
    void exited.then((code) => {
      resolve(new Error(`ceiling server exited (code ${String(code)}): ${stderr.trim()}`))
    })
  })
  if (port instanceof Error) {
    unregister()
    throw port
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await stopChild(child, exited)
      unregister()
    },
  }
}
