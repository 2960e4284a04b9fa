// Where the CPU of an upstream first download goes: the same file through a bare node:http proxy,
// then with sha256, then with a part file, then through eggserve's Download without Fastify
// (first-download-stage-server.ts), then through eggserve itself (needs `npm run build`), with
// nginx as the upstream as in upstream-run.ts. Each process's CPU time (utime + stime from
// /proc/<pid>/stat) is read around each download, and its main thread's alone
// (/proc/<pid>/task/<pid>/stat: the JavaScript that relays the bytes, without libuv's pool
// writing the part file or V8's collector threads); the stages take turns within a round (the
// order rotating each round), so a change in the machine's load spreads over all of them.
// Usage: node --import tsx scripts/bench/first-download-stages.ts [--mb 100] [--rounds 5]
//   [--stages pipe,hash,write,fanout,eggserve] [--profile DIR]
// `eggserve=DIR` is an eggserve of another build (DIR holds its bin/, dist/ and node_modules/),
// for A/B comparisons: `--stages eggserve=/tmp/before,eggserve`.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { startNginx } from './nginx.js'
import { cpuSeconds, mainThreadCpuSeconds, procStatusMb, startEggserve, type Eggserve } from './servers.js'
import { timedDownload, writeNoise } from './upstream-run.js'

const PROJECT = 'stages'
const ALL = ['pipe', 'hash', 'write', 'fanout', 'eggserve'] as const

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '5' },
    stages: { type: 'string', default: ALL.join(',') },
    // A V8 CPU profile of each stage server and eggserve, written into this folder when it stops.
    profile: { type: 'string' },
    // Memory instead of CPU: a fresh eggserve per stage and round, CLIENTS clients streaming one
    // uncached file of twice --mb at once; idle VmRSS, the peak sampled every 20 ms, VmHWM.
    clients: { type: 'string' },
  },
})
const bytes = Number(values.mb) * 1e6
const rounds = Number(values.rounds)
const stages = values.stages.split(',').filter((s) => s.length > 0)

interface Target {
  readonly pid: number
  url(file: { name: string; sha256: string }): string
  stop(): Promise<void>
}

const dir = await mkdtemp(join(tmpdir(), 'eggserve-stages-'))
const targets = new Map<string, Target>()
const nginx = await startNginx(join(dir, 'tree'), join(dir, 'nginx'), process.env)
try {
  // One file per round, and one to warm up with: eggserve's first download needs a new file each time.
  const files: { name: string; sha256: string }[] = []
  for (let i = 0; i <= rounds; i++) {
    const name = `${PROJECT}-1.${String(i)}.tar.gz`
    files.push({ name, sha256: await writeNoise(join(dir, 'tree', PROJECT, name), bytes) })
  }
  await writeFile(
    join(dir, 'tree', PROJECT, 'index.html'),
    files.map((f) => `<a href="../../packages/${PROJECT}/${f.name}#sha256=${f.sha256}">${f.name}</a><br>`).join('\n'),
  )
  if (values.clients === undefined) await cpuRows(files)
  else await memoryRows(Number(values.clients))
} finally {
  for (const target of targets.values()) await target.stop()
  await nginx.stop()
  await rm(dir, { recursive: true, force: true })
}

async function cpuRows(files: readonly { name: string; sha256: string }[]): Promise<void> {
  for (const stage of stages) targets.set(stage, await startTarget(stage, nginx.url, `cache-${stage}`))
  const cpu = new Map<string, number[]>(stages.map((s) => [s, []]))
  const mainCpu = new Map<string, number[]>(stages.map((s) => [s, []]))
  const speed = new Map<string, number[]>(stages.map((s) => [s, []]))
  const direct: number[] = []
  const load = [loadavg()[0] ?? NaN]
  for (let round = 0; round <= rounds; round++) {
    const file = files[round]
    if (file === undefined) break
    direct.push(await timedDownload(`${nginx.url}/packages/${PROJECT}/${file.name}`, bytes))
    // Round 0 warms every process up (code not optimized yet) and is not recorded.
    const order = stages.map((_, i) => stages[(i + round) % stages.length] ?? '')
    for (const stage of order) {
      const target = targets.get(stage)
      if (target === undefined) continue
      const before = await cpuSeconds(target.pid)
      const mainBefore = await mainThreadCpuSeconds(target.pid)
      const mbps = await timedDownload(target.url(file), bytes)
      const seconds = (await cpuSeconds(target.pid)) - before
      const mainSeconds = (await mainThreadCpuSeconds(target.pid)) - mainBefore
      if (round === 0) continue
      cpu.get(stage)?.push((seconds * 100e6) / bytes)
      mainCpu.get(stage)?.push((mainSeconds * 100e6) / bytes)
      speed.get(stage)?.push(mbps)
    }
    load.push(loadavg()[0] ?? NaN)
  }
  console.log(
    `${String(bytes / 1e6)} MB, ${String(rounds)} rounds; 1-min load ${load.map((l) => l.toFixed(1)).join(' ')}`,
  )
  console.log(`nginx directly: ${list(direct.slice(1), 0)} MB/s`)
  for (const stage of stages) {
    const seconds = cpu.get(stage) ?? []
    console.log(
      `${stage.padEnd(9)} CPU s per 100 MB: median ${median(seconds).toFixed(2)} (${list(seconds, 2)}), main thread ${median(mainCpu.get(stage) ?? []).toFixed(2)}; MB/s ${list(speed.get(stage) ?? [], 0)}`,
    )
  }
}

async function memoryRows(clients: number): Promise<void> {
  const name = `${PROJECT}-2.0.tar.gz`
  const sha256 = await writeNoise(join(dir, 'tree', PROJECT, name), 2 * bytes)
  await appendFile(
    join(dir, 'tree', PROJECT, 'index.html'),
    `\n<a href="../../packages/${PROJECT}/${name}#sha256=${sha256}">${name}</a><br>`,
  )
  const rows = new Map<string, string[]>(stages.map((s) => [s, []]))
  for (let round = 0; round < rounds; round++) {
    for (const stage of stages.map((_, i) => stages[(i + round) % stages.length] ?? '')) {
      const target = await startTarget(stage, nginx.url, `cache-${stage}-${String(round)}`)
      try {
        await sleep(1000)
        const idle = (await procStatusMb(target.pid, 'VmRSS')) ?? NaN
        let peak = idle
        const sampling = { on: true }
        const sampler = (async () => {
          while (sampling.on) {
            peak = Math.max(peak, (await procStatusMb(target.pid, 'VmRSS')) ?? 0)
            await sleep(20)
          }
        })()
        const url = target.url({ name, sha256 })
        const started = performance.now()
        await Promise.all(Array.from({ length: clients }, () => timedDownload(url, 2 * bytes)))
        const seconds = (performance.now() - started) / 1000
        sampling.on = false
        await sampler
        const hwm = (await procStatusMb(target.pid, 'VmHWM')) ?? NaN
        rows.get(stage)?.push(`+${(Math.max(peak, hwm) - idle).toFixed(0)}`)
        console.log(
          `${stage}: ${seconds.toFixed(1)} s, idle ${idle.toFixed(1)} MB, peak sampled ${peak.toFixed(1)} MB, VmHWM ${hwm.toFixed(1)} MB; load ${(loadavg()[0] ?? NaN).toFixed(1)}`,
        )
      } finally {
        await target.stop()
      }
    }
  }
  for (const stage of stages) console.log(`${stage}: peak over idle, MB: ${(rows.get(stage) ?? []).join(', ')}`)
}

async function startTarget(stage: string, upstream: string, cache: string): Promise<Target> {
  if (stage === 'eggserve' || stage.startsWith('eggserve=')) {
    await mkdir(join(dir, 'eggdir'), { recursive: true })
    const server: Eggserve = await startEggserve({
      root: stage === 'eggserve' ? resolve(import.meta.dirname, '..', '..') : resolve(stage.slice('eggserve='.length)),
      eggdir: join(dir, 'eggdir'),
      cacheDir: join(dir, cache),
      logLevel: 'warn',
      env: process.env,
      label: 'stages',
      listenTimeoutMs: 30_000,
      eggserveArgs: ['--upstream', `${upstream}/simple/`],
      nodeFlags: values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(values.profile)],
    })
    const page = await fetch(`${server.url}/simple/${PROJECT}/`)
    if (page.status !== 200) throw new Error(`eggserve answered ${String(page.status)} for the page`)
    await page.arrayBuffer()
    return {
      pid: server.pid,
      url: (f) => `${server.url}/files/upstream/${PROJECT}/${f.name}`,
      stop: () => server.stop(),
    }
  }
  const work = join(dir, `work-${stage}`)
  await mkdir(work, { recursive: true })
  const child = spawn(
    process.execPath,
    [
      ...(values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(values.profile)]),
      '--import',
      'tsx',
      join(import.meta.dirname, 'first-download-stage-server.ts'),
      stage,
      upstream,
      work,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const port = await firstLine(child)
  return {
    pid: child.pid ?? 0,
    url: (f) => `http://127.0.0.1:${port}/packages/${PROJECT}/${f.name}?sha256=${f.sha256}`,
    stop: async () => {
      child.kill()
      if (child.exitCode === null) await once(child, 'exit')
    },
  }
}

async function firstLine(child: ChildProcess): Promise<string> {
  if (child.stdout === null) throw new Error('no stdout')
  for await (const line of createInterface({ input: child.stdout })) return line
  throw new Error('the stage server exited before listening')
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

function list(values: readonly number[], digits: number): string {
  return values.map((v) => v.toFixed(digits)).join(', ')
}
