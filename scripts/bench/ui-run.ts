// --only ui: the browse UI's speed targets (docs/ui.md, "Speed"), on a fixture of its own
// (ui-tree.ts, a project with 1,000 files), once per run:
// - the cached project page under wrk, eggserve and nginx serving the same bytes as a static
//   file alternately (the ratio), and the absolute req/s against the 5,000 target;
// - N cold renders of that page in a process of their own (ui-cold-render.ts), wall-clock and CPU.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { onCleanup, wasInterrupted } from './cleanup.js'
import { getOk, pollUntil } from './http.js'
import { startNginx } from './nginx.js'
import type { LoadResult, UiResult } from './results.js'
import { startEggserve } from './servers.js'
import { measureEndpoint, type Endpoint, type RunContext } from './tree-run.js'
import { UI_BIG_FILES, UI_BIG_PROJECT, writeUiTree } from './ui-tree.js'

export const UI_ENDPOINT: Endpoint = {
  name: 'ui',
  label: `\`/-/project/<p>/\` (UI, ${UI_BIG_FILES.toLocaleString('en-US')} files)`,
  kind: 'page',
  path: `/-/project/${UI_BIG_PROJECT}/`,
  headers: {},
  staticName: 'ui-project.html',
}

export async function benchUi(ctx: RunContext): Promise<UiResult> {
  const dir = join(ctx.runDir, 'ui-tree')
  ctx.log(`=== browse UI: writing ${UI_BIG_PROJECT} (${UI_BIG_FILES} wheels) into ${dir}`)
  await writeUiTree(dir)
  const cached = await cachedPage(ctx, dir)
  if (wasInterrupted()) return { files: UI_BIG_FILES, cached, cold: undefined }
  ctx.log(`  ${ctx.options.uiRenders} cold renders of ${UI_ENDPOINT.path} (a new app each, in a process of its own)`)
  const cold = await coldRenders(ctx, dir)
  ctx.log(
    `    wall ${cold.wallMs.map((ms) => ms.toFixed(0)).join(', ')} ms; CPU ${cold.cpuMs.map((ms) => ms.toFixed(0)).join(', ')} ms`,
  )
  return { files: UI_BIG_FILES, cached, cold }
}

/** The cached page under wrk, on an eggserve of its own that is ready (every file hashed). */
async function cachedPage(ctx: RunContext, dir: string): Promise<LoadResult> {
  const server = await startEggserve({
    root: ctx.eggserveRoot,
    eggdir: dir,
    cacheDir: join(ctx.runDir, 'cache-ui'),
    logLevel: 'warn',
    env: ctx.env,
    label: 'ui',
    listenTimeoutMs: ctx.options.readyTimeoutS * 1000,
    node: ctx.node,
  })
  try {
    const ready = await pollUntil(`${server.url}/health/ready`, (f) => f.status === 200, {
      intervalMs: 20,
      timeoutMs: ctx.options.readyTimeoutS * 1000,
    })
    if (ready.kind !== 'ok')
      throw new Error(`the UI fixture's eggserve was not ready after ${ctx.options.readyTimeoutS} s`)
    await stablePage(`${server.url}${UI_ENDPOINT.path}`)
    const nginx = await startNginx(dir, join(ctx.runDir, 'nginx-ui'), ctx.env)
    try {
      return await measureEndpoint(ctx, UI_ENDPOINT, server, nginx, undefined)
    } finally {
      await nginx.stop()
    }
  } finally {
    await server.stop()
  }
}

/**
 * The README is rendered off the request path, so the first answers may lack it: wait until two
 * answers in a row are the same bytes, so that wrk and nginx get the page that is cached.
 */
async function stablePage(url: string): Promise<void> {
  let last = await getOk(url)
  for (let i = 0; i < 100; i++) {
    await sleep(100)
    const next = await getOk(url)
    if (next.body.equals(last.body)) return
    last = next
  }
  throw new Error(`${url} kept changing for 10 s`)
}

/** Run ui-cold-render.ts on the build under test and read its JSON line. */
async function coldRenders(
  ctx: RunContext,
  dir: string,
): Promise<{ wallMs: number[]; cpuMs: number[]; bytes: number }> {
  const script = fileURLToPath(new URL('./ui-cold-render.ts', import.meta.url))
  const child = spawn(ctx.node, ['--import', 'tsx', script, ctx.eggserveRoot, dir, String(ctx.options.uiRenders)], {
    cwd: ctx.eggserveRoot,
    env: ctx.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => {
      resolve(null)
    })
    child.once('exit', (code) => {
      resolve(code)
    })
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  const unregister = onCleanup(`UI cold renders (pid ${String(child.pid)})`, stop, () => {
    child.kill('SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096)
  })
  const code = await exited
  unregister()
  if (code !== 0) throw new Error(`ui-cold-render.ts exited (code ${String(code)}): ${stderr.trim()}`)
  return parseColdRenders(stdout)
}

/** The child's last stdout line: { wallMs: number[], cpuMs: number[], bytes: number }. */
export function parseColdRenders(stdout: string): { wallMs: number[]; cpuMs: number[]; bytes: number } {
  const line = stdout.trim().split('\n').at(-1) ?? ''
  let raw: unknown
  try {
    raw = JSON.parse(line)
  } catch {
    throw new Error(`ui-cold-render.ts printed no JSON: ${line.slice(0, 300)}`)
  }
  const numbers = (value: unknown): number[] | undefined =>
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((n): n is number => typeof n === 'number' && Number.isFinite(n))
      ? value
      : undefined
  if (typeof raw !== 'object' || raw === null) throw new Error(`ui-cold-render.ts printed ${line.slice(0, 300)}`)
  const wallMs = numbers('wallMs' in raw ? raw.wallMs : undefined)
  const cpuMs = numbers('cpuMs' in raw ? raw.cpuMs : undefined)
  const bytes = 'bytes' in raw && typeof raw.bytes === 'number' ? raw.bytes : undefined
  if (wallMs === undefined || cpuMs === undefined || bytes === undefined || wallMs.length !== cpuMs.length) {
    throw new Error(`ui-cold-render.ts printed ${line.slice(0, 300)}`)
  }
  return { wallMs, cpuMs, bytes }
}
