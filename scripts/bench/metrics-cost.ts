// The cost of --metrics: the same page from three instances of the same build, loaded one at a
// time: one with --metrics, and two without. The second instance without metrics is a control:
// two identical servers loaded alternately on this shared 2-core machine differ by up to ±10% in
// req/s from run to run (docs/metrics.md, "Cost"), more than the 5% this row checks, so the row
// reports that spread beside the figure it judges. It judges CPU time per request, in rounds of
// new instances (why both: instance-rounds.ts); the one with metrics is scraped after the
// warm-ups, as Prometheus would scrape it, so its figures include the collection.
import { getOk, pollUntil } from './http.js'
import { loadNewInstances, type InstanceVariant } from './instance-rounds.js'
import type { MetricsCostResult, MetricsCostRound } from './results.js'
import { startEggserve, type Eggserve } from './servers.js'
import { shapeKey, type Tree } from './tree.js'
import type { RunContext } from './tree-run.js'
import type { WrkResult } from './wrk.js'

type Which = 'off' | 'control' | 'on'

// Rounds are short and paired (the three instances back to back), so more of them than
// --rounds: the median of per-round ratios needs a few to settle.
const MIN_ROUNDS = 5

/** Measure `/simple/<project>/` (HTML) with and without --metrics. */
export async function measureMetricsCost(
  ctx: RunContext,
  options: { tree: Tree; cacheDir: string; project: string; medianRun: (runs: readonly WrkResult[]) => WrkResult },
): Promise<MetricsCostResult | undefined> {
  const { tree, project } = options
  const path = `/simple/${project}/`
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
    // Ready, so no instance is still reading its cache or hashing while another is loaded.
    if (ctx.features.ready !== false)
      await pollUntil(`${server.url}/health/ready`, (f) => f.status === 200, {
        intervalMs: 20,
        timeoutMs: ctx.options.readyTimeoutS * 1000,
        absentStatuses: [404, 405],
      })
    return server
  }
  const variants: readonly InstanceVariant<Which>[] = [
    { which: 'off', start: () => start('metrics off', []) },
    { which: 'control', start: () => start('metrics off (control)', []) },
    { which: 'on', start: () => start('metrics on', ['--metrics']) },
  ]
  let series = 0
  const { rounds, runs } = await loadNewInstances(ctx, {
    variants,
    path,
    rounds: Math.max(MIN_ROUNDS, ctx.options.rounds),
    label: 'metrics',
    beforeLoad: async (servers) => {
      const withMetrics = servers.get('on')
      if (withMetrics === undefined) return
      const scraped = await getOk(`${withMetrics.url}/metrics`)
      series = scraped.body
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('#')).length
    },
  })
  if (rounds.length === 0) return undefined
  const fixed = (values: readonly number[], digits: number): string => values.map((v) => v.toFixed(digits)).join(', ')
  const rps = (which: Which): string =>
    fixed(
      runs[which].map((r) => r.rps),
      0,
    )
  const cpu = (which: Which): string =>
    fixed(
      rounds.map((r) => r.cpuUs[which]),
      1,
    )
  ctx.log(`    req/s: off ${rps('off')}; control ${rps('control')}; --metrics ${rps('on')}`)
  ctx.log(
    `    CPU µs/request: off ${cpu('off')}; control ${cpu('control')}; --metrics ${cpu('on')}; ${String(series)} series`,
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
}

/** The instance with metrics's throughput share, by CPU time per request: off's time / on's time. */
export const cpuShare = (round: MetricsCostRound): number => round.cpuUs.off / round.cpuUs.on
/** The control's, the same way: the method's own spread between two identical instances. */
export const cpuControlShare = (round: MetricsCostRound): number => round.cpuUs.off / round.cpuUs.control
/** By req/s, as wrk saw it. */
export const rpsShare = (round: MetricsCostRound): number => round.rps.on / round.rps.off
export const rpsControlShare = (round: MetricsCostRound): number => round.rps.control / round.rps.off
