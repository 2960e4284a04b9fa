// Where eggserve's time goes under load: read a `node --cpu-prof` profile and sum self time
// per function (name + file + line).
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'

export interface ProfileEntry {
  readonly fn: string
  readonly where: string
  readonly selfMs: number
  /** Share of the non-idle time. */
  readonly share: number
}

export interface ProfileSummary {
  readonly totalMs: number
  readonly idleMs: number
  readonly top: readonly ProfileEntry[]
  /** Self time by origin: eggserve, fastify, other node_modules, node internals, GC/native. */
  readonly byOrigin: readonly { readonly origin: string; readonly share: number }[]
  readonly file: string
}

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
}
export interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
}

function isCpuProfile(raw: unknown): raw is CpuProfile {
  return (
    typeof raw === 'object' &&
    raw !== null &&
    'nodes' in raw &&
    Array.isArray(raw.nodes) &&
    'samples' in raw &&
    Array.isArray(raw.samples) &&
    'timeDeltas' in raw &&
    Array.isArray(raw.timeDeltas) &&
    'startTime' in raw &&
    typeof raw.startTime === 'number'
  )
}

/**
 * The profiles node wrote in `dir` (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile): the main
 * thread's (thread 0), and those of worker threads.
 */
export async function findProfiles(dir: string): Promise<{ main: string | undefined; workers: string[] }> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile')).sort()
  const thread = (name: string): string | undefined => /\.(\d+)\.\d+\.cpuprofile$/.exec(name)?.[1]
  const main = names.find((name) => thread(name) === '0')
  return {
    main: main === undefined ? undefined : join(dir, main),
    workers: names.filter((name) => name !== main).map((name) => join(dir, name)),
  }
}

/** Read a .cpuprofile. */
export async function readProfile(file: string): Promise<CpuProfile> {
  const raw: unknown = JSON.parse(await readFile(file, 'utf8'))
  if (!isCpuProfile(raw)) throw new Error(`${file} is not a V8 CPU profile`)
  return raw
}

/** A time window in the profiles' clock (µs; V8's monotonic clock, shared by every thread). */
export interface Window {
  readonly fromUs: number
  readonly toUs: number
}

/** The window `fromMs`..`toMs` after the start of `profile` (for the main thread: process start). */
export function windowAfterStart(profile: CpuProfile, fromMs: number, toMs: number): Window {
  return { fromUs: profile.startTime + fromMs * 1000, toUs: profile.startTime + toMs * 1000 }
}

/** Self time per function; with `window`, only the samples inside it count (the load, not start-up). */
export function summarizeProfile(
  raw: CpuProfile,
  file: string,
  root: string,
  window?: Window,
  topN = 15,
): ProfileSummary {
  const byId = new Map<number, ProfileNode>(raw.nodes.map((node) => [node.id, node]))
  const self = new Map<string, { fn: string; where: string; us: number }>()
  const origins = new Map<string, number>()
  let totalUs = 0
  let idleUs = 0
  let at = raw.startTime
  for (const [i, id] of raw.samples.entries()) {
    at += raw.timeDeltas[i] ?? 0
    if (window !== undefined && (at < window.fromUs || at > window.toUs)) continue
    // timeDeltas[i + 1] is the time until the next sample, spent where sample i was taken.
    const us = raw.timeDeltas[i + 1] ?? 0
    const node = byId.get(id)
    if (node === undefined) continue
    const { functionName, url, lineNumber } = node.callFrame
    totalUs += us
    if (functionName === '(idle)') {
      idleUs += us
      continue
    }
    const where = url === '' ? '' : `${shortUrl(url, root)}:${lineNumber + 1}`
    const key = `${functionName}|${where}`
    const entry = self.get(key) ?? { fn: functionName === '' ? '(anonymous)' : functionName, where, us: 0 }
    entry.us += us
    self.set(key, entry)
    const origin = originOf(url, functionName, root)
    origins.set(origin, (origins.get(origin) ?? 0) + us)
  }
  const busyUs = Math.max(1, totalUs - idleUs)
  const top = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((entry) => ({ fn: entry.fn, where: entry.where, selfMs: entry.us / 1000, share: entry.us / busyUs }))
  const byOrigin = [...origins.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([origin, us]) => ({ origin, share: us / busyUs }))
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, top, byOrigin, file }
}

function shortUrl(url: string, root: string): string {
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url
  if (path.startsWith('/')) {
    const modules = path.lastIndexOf('/node_modules/')
    if (modules >= 0) return path.slice(modules + '/node_modules/'.length)
    return relative(root, path)
  }
  return path
}

function originOf(url: string, functionName: string, root: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : 'native (V8 builtins, C++)'
  if (url.startsWith('node:')) return 'node internals'
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url
  const modules = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)
  if (modules?.[1] !== undefined) return modules[1]
  if (path.startsWith(root)) return 'eggserve'
  return 'other'
}
