// Work the daemon runs beside serving: the warm-up pass, the periodic reconcile, and pruning
// the persistent cache of files that are gone.
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { FactsLog } from '../file-facts/facts-log.js'
import { NO_METRICS, type CounterMetric, type HistogramMetric, type Metrics } from '../core/metrics.js'
import type { FactsStore } from '../file-facts/facts-store.js'
import type { MemoizingAnalyzer } from '../file-facts/memoizing-analyzer.js'
import type { IndexService, ProjectSnapshot } from './index-service.js'
import { Warmup, type WarmupProgress } from './warmup.js'

/** Whether every file is hashed, with the warm-up's progress until then (what /health/ready says). */
export interface Readiness {
  readonly ready: boolean
  readonly progress?: WarmupProgress
}

/** The parts of the index services the background work drives. */
export interface BackgroundServices {
  readonly index: IndexService
  readonly analyzer: MemoizingAnalyzer
  readonly facts: FactsStore
}

/** Options of BackgroundWork. */
export interface BackgroundOptions {
  readonly services: BackgroundServices
  readonly log: FastifyBaseLogger
  /** 0 disables the periodic reconcile. */
  readonly reconcileIntervalMs: number
  readonly progressEveryMs?: number
  /** Counts and times reconciles (default: none kept). */
  readonly metrics?: Metrics
  /** Called with each progress report of the warm-up (the daemon tells systemd). */
  readonly onProgress?: (progress: WarmupProgress) => void
  /** Called once the warm-up pass has finished: readiness() is ready from then on. */
  readonly onReady?: () => void
}

function* identities(projects: readonly ProjectSnapshot[]): Generator<string> {
  for (const { files } of projects) for (const file of files) yield file.identity
}

/** The warm-up pass, then a reconcile every interval; both prune the cache when it is mostly dead. */
export class BackgroundWork {
  readonly #options: BackgroundOptions
  readonly #log: FastifyBaseLogger
  readonly #warmup: Warmup
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> = Promise.resolve()
  #stopped = false
  readonly #reconciles: CounterMetric<'outcome'>
  readonly #reconcileSeconds: HistogramMetric<never>

  constructor(options: BackgroundOptions) {
    this.#options = options
    const metrics = options.metrics ?? NO_METRICS
    this.#reconciles = metrics.counter<'outcome'>({
      name: 'eggserve_reconciles_total',
      help: 'Periodic re-reads of the whole tree (--reconcile-interval), by outcome: ok or failed',
      labelNames: ['outcome'],
    })
    this.#reconcileSeconds = metrics.histogram({
      name: 'eggserve_reconcile_duration_seconds',
      help: 'Duration of the periodic re-reads of the whole tree',
      labelNames: [],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    })
    this.#log = options.log.child({ component: 'background' })
    const { index, analyzer } = options.services
    this.#warmup = new Warmup({
      index,
      analyzer,
      log: options.log,
      progressEveryMs: options.progressEveryMs ?? 5000,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    })
  }

  /** What /health/ready says. */
  readiness(): Readiness {
    return { ready: this.#warmup.done, progress: this.#warmup.progress }
  }

  /** Start the warm-up pass (in the background) and the reconcile timer. */
  start(): void {
    this.#running = this.#warmup
      .run()
      .then(async () => {
        if (this.#warmup.done) this.#options.onReady?.()
        // The remembered facts are kept under the listing's identity strings from now on (see
        // FactsStore.adopt()), and, every file known now, the cache entries of files that are
        // gone are dropped. Each after a turn of the event loop: each walks every file (0.1-0.2 s
        // of CPU at 100,000 files), and the requests waiting meanwhile, /health/ready's
        // included, go first (docs/benchmarks.md, "Warm restart").
        await nextTurn()
        if (this.#stopped) return
        const { analyzer, index } = this.#options.services
        analyzer.adopt(identities(index.heldProjects()))
        await nextTurn()
        await this.#prune(true)
      })
      .catch((err: unknown) => {
        this.#log.error({ err }, 'Background hashing failed')
      })
    const every = this.#options.reconcileIntervalMs
    if (every > 0) {
      this.#timer = setInterval(() => {
        void this.#reconcile()
      }, every)
      this.#timer.unref()
    }
  }

  /** Stop queuing work and wait for what is running. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#warmup.stop()
    clearInterval(this.#timer)
    await this.#running
  }

  async #reconcile(): Promise<void> {
    if (this.#stopped) return
    this.#running = this.#running
      .then(async () => {
        const started = Date.now()
        await this.#options.services.index.reconcile()
        const ms = Date.now() - started
        this.#log.debug({ ms }, 'Reconciled the index with the tree')
        this.#reconciles.inc({ outcome: 'ok' })
        this.#reconcileSeconds.observe({}, ms / 1000)
        await this.#prune(false)
      })
      .catch((err: unknown) => {
        this.#reconciles.inc({ outcome: 'failed' })
        this.#log.warn({ err }, 'Reconcile failed; it runs again at the next interval')
      })
    return this.#running
  }

  // After warm-up: compact when entries of files that are gone exist; after a reconcile, only
  // when the file is mostly dead weight (duplicates appended by other processes included).
  async #prune(afterWarmup: boolean): Promise<void> {
    const { facts, index } = this.#options.services
    if (!(facts instanceof FactsLog) || this.#stopped) return
    const live = new Set<string>()
    for (const { files } of index.heldProjects()) for (const file of files) live.add(file.identity)
    let known = 0
    for (const identity of live) if (facts.has(identity)) known++
    const dead = facts.size - known
    if (!(afterWarmup ? dead > 0 : facts.wantsCompaction)) return
    await facts.compact(live)
    this.#log.info({ entries: facts.size, pruned: dead }, 'Cache compacted')
  }
}
