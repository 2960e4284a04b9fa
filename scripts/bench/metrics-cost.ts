// The cost of --metrics: the same page from three instances of the same build, loaded one at a
// time: one with --metrics, and two without. The second instance without metrics is a control:
// two identical servers loaded alternately on this shared 2-core machine differ by up to ±10% in
// req/s from run to run (docs/metrics.md, "Cost"), more than the 5% this row checks, so the row
// reports that spread beside the figure it judges. It judges CPU time per request (utime + stime
// of the server process across each wrk run): one Node process serving a page is CPU-bound (its
// main thread is busy ~95% of a wrk run, BENCHMARKS.md's profiles), so its throughput is the
// inverse of that time, and the time does not depend on how the scheduler shared the cores
// between wrk and the server in that run.
// Each round starts three new instances (in an order that turns each round) and stops them after:
// two identical processes can differ by 5 to 20% in CPU per request and keep that difference for
// their whole life (docs/metrics.md, "Cost"), so instances kept for every round would weigh one
// draw of that spread in every ratio; new ones each round make the median of the per-round ratios
// a median over draws. Each instance is warmed up by a short wrk run first (not recorded: its
// code is not optimized yet), and the one with metrics is then scraped, as Prometheus would
// scrape it, so its figures include the collection.
import { wasInterrupted } from './cleanup.js'
import { getOk, pollUntil } from './http.js'
import type { MetricsCostResult, MetricsCostRound } from './results.js'
import { cpuSeconds, startEggserve, type Eggserve } from './servers.js'
import { shapeKey, type Tree } from './tree.js'
import type { RunContext } from './tree-run.js'

import { runWrk, type WrkResult } from './wrk.js'

type Which = 'off' | 'control' | 'on'
const ORDER: readonly Which[] = ['off', 'control', 'on']

// Rounds are short and paired (the three instances back to back), so more of them than
// --rounds: the median of per-round ratios needs a few to settle.
const MIN_ROUNDS = 5

// The warm-up run of each new instance, not recorded.
const WARM_UP_S = 1

/** Measure `/simple/<project>/` (HTML) with and without --metrics. */
export async function measureMetricsCost(
  ctx: RunContext,
  options: { tree: Tree; cacheDir: string; project: string; medianRun: (runs: readonly WrkResult[]) => WrkResult },
): Promise<MetricsCostResult | undefined> {
  const { tree, project } = options
  const path = `/simple/${project}/`
  let started: Eggserve[] = []
  const start = async (label: string, eggserveArgs: readonly string[]): Promise<Eggserve> => {
    const server = await startEggserve({
      root: ctx.eggserveRoot,
      eggdir: tree.dir,
      cacheDir: ctx.features.cacheDir === false ? undefined : options.cacheDir,
      logLevel: 'warn',
      env: ctx.env,
      label: `${shapeKey(tree.shape)} ${label}`,
      listenTimeoutMs: ctx.options.readyTimeoutS * 1000,
      eggserveArgs,
    })
    started.push(server)
    // Ready, so no instance is still reading its cache or hashing while another is loaded.
    if (ctx.features.ready !== false)
      await pollUntil(`${server.url}/health/ready`, (f) => f.status === 200, {
        intervalMs: 20,
        timeoutMs: ctx.options.readyTimeoutS * 1000,
        absentStatuses: [404, 405],
      })
    return server
  }
  const stopAll = async (): Promise<void> => {
    for (const server of started) await server.stop()
    started = []
  }
  const variants: Record<Which, { readonly label: string; readonly args: readonly string[] }> = {
    off: { label: 'metrics off', args: [] },
    control: { label: 'metrics off (control)', args: [] },
    on: { label: 'metrics on', args: ['--metrics'] },
  }
  try {
    const runs: Record<Which, WrkResult[]> = { off: [], control: [], on: [] }
    const rounds: MetricsCostRound[] = []
    let series = 0
    const roundCount = Math.max(MIN_ROUNDS, ctx.options.rounds)
    for (let round = 0; round < roundCount && !wasInterrupted(); round++) {
      // Which instance starts, and is loaded, first turns each round: none always follows the same one.
      const order = ORDER.map((_, step) => ORDER[(round + step) % ORDER.length] ?? 'off')
      const servers: { readonly which: Which; readonly server: Eggserve }[] = []
      for (const which of order)
        servers.push({ which, server: await start(variants[which].label, variants[which].args) })
      for (const { which, server } of servers) {
        await runWrk({
          url: `${server.url}${path}`,
          durationS: WARM_UP_S,
          connections: ctx.options.connections,
          workDir: ctx.runDir,
          label: `metrics-${which}-warm-up`,
        })
      }
      const withMetrics = servers.find((s) => s.which === 'on')?.server
      if (withMetrics !== undefined) {
        const scraped = await getOk(`${withMetrics.url}/metrics`)
        series = scraped.body
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== '' && !line.startsWith('#')).length
      }
      const cpuPerRequest: Partial<Record<Which, number>> = {}
      const rps: Partial<Record<Which, number>> = {}
      for (const { which, server } of servers) {
        const url = `${server.url}${path}`
        await getOk(url)
        const before = await cpuSeconds(server.pid)
        const result = await runWrk({
          url,
          durationS: ctx.options.durationS,
          connections: ctx.options.connections,
          workDir: ctx.runDir,
          label: `metrics-${which}`,
        })
        const cpu = (await cpuSeconds(server.pid)) - before
        runs[which].push(result)
        rps[which] = result.rps
        cpuPerRequest[which] = result.requests > 0 ? cpu / result.requests : Number.NaN
      }
      await stopAll()
      rounds.push({
        cpuUs: {
          off: (cpuPerRequest.off ?? Number.NaN) * 1e6,
          control: (cpuPerRequest.control ?? Number.NaN) * 1e6,
          on: (cpuPerRequest.on ?? Number.NaN) * 1e6,
        },
        rps: { off: rps.off ?? Number.NaN, control: rps.control ?? Number.NaN, on: rps.on ?? Number.NaN },
      })
    }
    if (rounds.length === 0) return undefined
    const fixed = (values: readonly number[], digits: number): string => values.map((v) => v.toFixed(digits)).join(', ')
    ctx.log(
      `    req/s: off ${fixed(
        runs.off.map((r) => r.rps),
        0,
      )}; control ${fixed(
        runs.control.map((r) => r.rps),
        0,
      )}; --metrics ${fixed(
        runs.on.map((r) => r.rps),
        0,
      )}`,
    )
    ctx.log(
      `    CPU µs/request: off ${fixed(
        rounds.map((r) => r.cpuUs.off),
        1,
      )}; control ${fixed(
        rounds.map((r) => r.cpuUs.control),
        1,
      )}; --metrics ${fixed(
        rounds.map((r) => r.cpuUs.on),
        1,
      )}; ${String(series)} series`,
    )
    return {
      label: '`/simple/<p>/` (HTML)',
      path,
      off: options.medianRun(runs.off),
      on: options.medianRun(runs.on),
      control: options.medianRun(runs.control),
      rounds,
      series,
    }
  } finally {
    await stopAll()
  }
}

/** The instance with metrics's throughput share, by CPU time per request: off's time / on's time. */
export const cpuShare = (round: MetricsCostRound): number => round.cpuUs.off / round.cpuUs.on
/** The control's, the same way: the method's own spread between two identical instances. */
export const cpuControlShare = (round: MetricsCostRound): number => round.cpuUs.off / round.cpuUs.control
/** By req/s, as wrk saw it. */
export const rpsShare = (round: MetricsCostRound): number => round.rps.on / round.rps.off
export const rpsControlShare = (round: MetricsCostRound): number => round.rps.control / round.rps.off
