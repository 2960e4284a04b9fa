// Rounds of new instances, for rows that compare two variants of a server by a few percent (the
// --metrics row, the S3 page row). Two identical eggserve processes can differ by 5 to 20% in CPU
// per request and keep that difference for their whole life (docs/metrics.md, "Cost"), so a row
// that loads the same two instances in every round weighs one draw of that spread in every ratio.
// Here each round starts every variant anew, in an order that turns each round (none always
// follows the same one), warms each up with a short wrk run that is not recorded (its code is not
// optimized yet), then loads each once and stops them all: the median of the per-round ratios is
// a median over draws.
// Each run records the server's CPU time (user + system) per request beside wrk's req/s: a Node
// process serving a page is CPU-bound (its main thread is busy ~95% of a wrk run, BENCHMARKS.md's
// profiles), so its throughput is the inverse of that time, which does not depend on how the
// scheduler shared the two cores between wrk and the server in that run.
import { wasInterrupted } from './cleanup.js'
import { getOk } from './http.js'
import { cpuSeconds, type Eggserve } from './servers.js'
import type { RunContext } from './tree-run.js'
import { runWrk, type WrkResult } from './wrk.js'

// The warm-up run of each new instance, not recorded.
const WARM_UP_S = 1

export interface InstanceVariant<K extends string> {
  readonly which: K
  /** Start a new instance and wait until it is ready (nothing left to read or hash while another is loaded). */
  readonly start: () => Promise<Eggserve>
}

/** One round: each variant's new instance loaded once. */
export interface InstanceRound<K extends string> {
  /** CPU time (user + system) of the server per request during its wrk run, µs. */
  readonly cpuUs: Readonly<Record<K, number>>
  readonly rps: Readonly<Record<K, number>>
}

export interface InstanceRounds<K extends string> {
  readonly rounds: readonly InstanceRound<K>[]
  /** Every measured wrk run of each variant, in the order of the rounds. */
  readonly runs: Readonly<Record<K, readonly WrkResult[]>>
}

/** The variants in the order of round `round`: the list turned by `round` places. */
export function turned<T>(list: readonly T[], round: number): T[] {
  return list.map((_, step) => list[(round + step) % list.length] as T)
}

/**
 * `rounds` rounds of new instances of every variant, each loaded at `path` (wrk, --duration,
 * --connections). `beforeLoad` runs after the warm-ups and before the measured runs (the metrics
 * row scrapes /metrics then, as Prometheus would).
 */
export async function loadNewInstances<K extends string>(
  ctx: RunContext,
  options: {
    readonly variants: readonly InstanceVariant<K>[]
    readonly path: string
    readonly rounds: number
    /** Prefix of the wrk runs' labels (their files in the run dir). */
    readonly label: string
    readonly beforeLoad?: (servers: ReadonlyMap<K, Eggserve>) => Promise<void>
  },
): Promise<InstanceRounds<K>> {
  const runs = new Map<K, WrkResult[]>(options.variants.map((v) => [v.which, []]))
  const rounds: InstanceRound<K>[] = []
  let started: Eggserve[] = []
  const wrk = (server: Eggserve, label: string, durationS: number): Promise<WrkResult> =>
    runWrk({
      url: `${server.url}${options.path}`,
      durationS,
      connections: ctx.options.connections,
      workDir: ctx.runDir,
      label: `${options.label}-${label}`,
    })
  try {
    for (let round = 0; round < options.rounds && !wasInterrupted(); round++) {
      const servers = new Map<K, Eggserve>()
      for (const variant of turned(options.variants, round)) {
        const server = await variant.start()
        started.push(server)
        servers.set(variant.which, server)
      }
      for (const [which, server] of servers) await wrk(server, `${which}-warm-up`, WARM_UP_S)
      await options.beforeLoad?.(servers)
      const cpuUs = new Map<K, number>()
      const rps = new Map<K, number>()
      for (const [which, server] of servers) {
        await getOk(`${server.url}${options.path}`)
        const before = await cpuSeconds(server.pid)
        const result = await wrk(server, which, ctx.options.durationS)
        const cpu = (await cpuSeconds(server.pid)) - before
        runs.get(which)?.push(result)
        rps.set(which, result.rps)
        cpuUs.set(which, result.requests > 0 ? (cpu / result.requests) * 1e6 : Number.NaN)
      }
      for (const server of started) await server.stop()
      started = []
      rounds.push({ cpuUs: record(cpuUs), rps: record(rps) })
    }
  } finally {
    for (const server of started) await server.stop()
  }
  return { rounds, runs: record(runs) }
}

// Every key of K is in the map: it was filled from the variants.
function record<K extends string, V>(map: ReadonlyMap<K, V>): Record<K, V> {
  return Object.fromEntries(map) as Record<K, V>
}
