// The cost of --metrics: the same page from two warm instances, one without metrics and one
// with --metrics, loaded alternately (never both at once). Between rounds the second is
// scraped, as Prometheus would scrape it, so the figures include the collection work.
import { wasInterrupted } from './cleanup.js'
import { getOk } from './http.js'
import type { MetricsCostResult } from './results.js'
import { startEggserve, type Eggserve } from './servers.js'
import { shapeKey, type Tree } from './tree.js'
import type { RunContext } from './tree-run.js'
import { runWrk, type WrkResult } from './wrk.js'

/** Measure `/simple/<project>/` (HTML) with and without --metrics. */
export async function measureMetricsCost(
  ctx: RunContext,
  options: { tree: Tree; cacheDir: string; project: string; medianRun: (runs: readonly WrkResult[]) => WrkResult },
): Promise<MetricsCostResult | undefined> {
  const { tree, project } = options
  const path = `/simple/${project}/`
  const start = (label: string, eggserveArgs: readonly string[]): Promise<Eggserve> =>
    startEggserve({
      root: ctx.eggserveRoot,
      eggdir: tree.dir,
      cacheDir: ctx.features.cacheDir === false ? undefined : options.cacheDir,
      logLevel: 'warn',
      env: ctx.env,
      label: `${shapeKey(tree.shape)} ${label}`,
      listenTimeoutMs: ctx.options.readyTimeoutS * 1000,
      eggserveArgs,
    })
  const off = await start('metrics off', [])
  try {
    const on = await start('metrics on', ['--metrics'])
    try {
      const runs = { off: [] as WrkResult[], on: [] as WrkResult[] }
      let series = 0
      for (let round = 0; round < ctx.options.rounds && !wasInterrupted(); round++) {
        for (const [which, server] of [
          ['off', off],
          ['on', on],
        ] as const) {
          const url = `${server.url}${path}`
          await getOk(url)
          runs[which].push(
            await runWrk({
              url,
              durationS: ctx.options.durationS,
              connections: ctx.options.connections,
              workDir: ctx.runDir,
              label: `metrics-${which}`,
            }),
          )
        }
        const scraped = await getOk(`${on.url}/metrics`)
        series = scraped.body
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== '' && !line.startsWith('#')).length
      }
      if (runs.off.length === 0 || runs.on.length === 0) return undefined
      ctx.log(
        `    off ${runs.off.map((r) => r.rps.toFixed(0)).join(', ')} req/s; --metrics ${runs.on.map((r) => r.rps.toFixed(0)).join(', ')} req/s; ${String(series)} series`,
      )
      return {
        label: '`/simple/<p>/` (HTML)',
        path,
        off: options.medianRun(runs.off),
        on: options.medianRun(runs.on),
        series,
      }
    } finally {
      await on.stop()
    }
  } finally {
    await off.stop()
  }
}
