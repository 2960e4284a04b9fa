// A/B of the S3 download row by hand: one 100 MB object in moto on loopback, two builds of
// eggserve on it (bucket replicas), and the object read from moto directly, all with the same
// client and read loop (timedDownload), one at a time, the order rotated every round. Per
// download: MB/s, and the CPU time of eggserve, of moto and of the client (this process), so
// that two builds can be compared by CPU time on a shared machine where MB/s is noisy.
//
// With --ttfb N, then N rounds of curl's time to the first byte of the body (rotated as above):
// what a download waits before its bytes, where a HEAD before the GET shows.
//
// Usage: node --import tsx scripts/bench/s3-download-ab.ts ROOT_A ROOT_B [--rounds 7] [--mb 100] [--ttfb 0]
// (a root is a folder with bin/eggserve.js and a build in dist/, e.g. a `git archive` of a
// commit with node_modules linked in and built).
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { installCleanupHandlers, runCleanup } from './cleanup.js'
import { pollUntil } from './http.js'
import { motoPython, startMoto } from './moto.js'
import { cpuSeconds, startEggserve, type Eggserve } from './servers.js'
import { timedDownload } from './upstream-run.js'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '7' },
    mb: { type: 'string', default: '100' },
    ttfb: { type: 'string', default: '0' },
  },
})
const [rootA, rootB] = positionals
if (rootA === undefined || rootB === undefined)
  throw new Error('usage: s3-download-ab.ts ROOT_A ROOT_B [--rounds N] [--mb N]')
const rounds = Number(values.rounds)
const bytes = Number(values.mb) * 1e6
const BUCKET = 'eggserve-ab'
const KEY = 'pypi/s3dl/s3dl-1.0.tar.gz'

installCleanupHandlers()
const python = motoPython(process.env)
if (python === undefined) throw new Error("moto was not found (pyenv's Python 3.11.7)")
const dir = await mkdtemp(join(tmpdir(), 's3-download-ab-'))
const moto = await startMoto(python)
const servers: Eggserve[] = []
try {
  await moto.createBucket(BUCKET)
  await moto.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: randomBytes(bytes) }))
  const start = (label: string, root: string): Promise<Eggserve> =>
    startEggserve({
      root,
      eggdir: join(dir, 'unused'),
      cacheDir: join(dir, `cache-${label}`),
      logLevel: 'warn',
      env: { ...process.env, ...moto.env },
      label,
      listenTimeoutMs: 60_000,
      eggserveArgs: ['--storage', `s3://${BUCKET}/pypi`, '--s3-path-style'],
    })
  const a = await start('a', rootA)
  servers.push(a)
  const b = await start('b', rootB)
  servers.push(b)
  for (const server of [a, b]) {
    const ready = await pollUntil(`${server.url}/health/ready`, (f) => f.status === 200, {
      intervalMs: 50,
      timeoutMs: 120_000,
    })
    if (ready.kind !== 'ok') throw new Error(`not ready: ${server.url}`)
  }
  const direct = await getSignedUrl(moto.client, new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), {
    expiresIn: 24 * 3600,
  })
  const sides = {
    a: { url: `${a.url}/packages/s3dl/s3dl-1.0.tar.gz`, pid: a.pid },
    b: { url: `${b.url}/packages/s3dl/s3dl-1.0.tar.gz`, pid: b.pid },
    direct: { url: direct, pid: undefined },
  } as const
  type Side = keyof typeof sides
  const results: Record<Side, { mbps: number[]; cpu: number[]; moto: number[]; client: number[] }> = {
    a: { mbps: [], cpu: [], moto: [], client: [] },
    b: { mbps: [], cpu: [], moto: [], client: [] },
    direct: { mbps: [], cpu: [], moto: [], client: [] },
  }
  const motoCpu = (): Promise<number> => cpuSeconds(moto.pid)
  // Not recorded: code not yet optimized, sockets not yet open.
  for (const side of Object.values(sides)) await timedDownload(side.url, bytes)
  const loadBefore = loadavg()
  const order: Side[] = ['a', 'b', 'direct']
  for (let round = 0; round < rounds; round++) {
    const rotated = [...order.slice(round % 3), ...order.slice(0, round % 3)]
    const line: string[] = []
    for (const side of rotated) {
      const { url, pid } = sides[side]
      const server0 = pid === undefined ? 0 : await cpuSeconds(pid)
      const moto0 = await motoCpu()
      const client0 = process.cpuUsage()
      const mbps = await timedDownload(url, bytes)
      const client = process.cpuUsage(client0)
      const per100 = 100e6 / bytes
      results[side].mbps.push(mbps)
      results[side].cpu.push(pid === undefined ? 0 : ((await cpuSeconds(pid)) - server0) * per100)
      results[side].moto.push(((await motoCpu()) - moto0) * per100)
      results[side].client.push(((client.user + client.system) / 1e6) * per100)
      line.push(
        `${side} ${mbps.toFixed(0)} MB/s cpu ${(results[side].cpu.at(-1) ?? 0).toFixed(3)} moto ${(results[side].moto.at(-1) ?? 0).toFixed(2)} client ${(results[side].client.at(-1) ?? 0).toFixed(2)}`,
      )
    }
    console.log(`round ${String(round + 1)} (load ${loadavg()[0]?.toFixed(2) ?? '?'}): ${line.join(' | ')}`)
  }
  const ttfb: Record<Side, number[]> = { a: [], b: [], direct: [] }
  for (let round = 0; round < Number(values.ttfb); round++) {
    const rotated = [...order.slice(round % 3), ...order.slice(0, round % 3)]
    for (const side of rotated) {
      const args = ['-s', '-o', '/dev/null', '-w', '%{time_starttransfer}', sides[side].url]
      ttfb[side].push(Number(execFileSync('curl', args).toString()) * 1000)
    }
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((x, y) => x - y)
    const mid = Math.floor(s.length / 2)
    return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
  }
  const loadAfter = loadavg()
  console.log(
    `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
  )
  for (const side of order) {
    const r = results[side]
    console.log(
      `${side}: median ${median(r.mbps).toFixed(0)} MB/s, eggserve CPU ${median(r.cpu).toFixed(3)} s, moto ${median(r.moto).toFixed(3)} s, client ${median(r.client).toFixed(3)} s per 100 MB`,
    )
  }
  if (ttfb.a.length > 0)
    for (const side of order)
      console.log(
        `${side}: time to first byte (curl), median ${median(ttfb[side]).toFixed(0)} ms of ${String(ttfb[side].length)}`,
      )
  console.log(
    `ratio to direct (medians): a ${(median(results.a.mbps) / median(results.direct.mbps)).toFixed(2)}, b ${(median(results.b.mbps) / median(results.direct.mbps)).toFixed(2)}`,
  )
} finally {
  for (const server of servers) await server.stop()
  await moto.stop()
  await rm(dir, { recursive: true, force: true })
  await runCleanup()
}
