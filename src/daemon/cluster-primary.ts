// --workers N: this process (the primary) starts N worker processes with node:cluster and
// serves nothing itself. It owns what there is one of:
// - the listening socket (node:cluster's primary binds --host/--port, or listens on the socket
//   systemd passed, and hands each connection to a worker in turn);
// - the reading of files: workers ask it for facts, so each file is hashed once (its
//   MemoizingAnalyzer shares one computation between concurrent asks) and the persistent cache
//   has one writer;
// - uploads and removals made through one worker, passed on to every other worker before the
//   uploading client hears of success;
// - signals: SIGTERM, SIGINT and SIGHUP are handled here once (the same Lifecycle as a single
//   process) and forwarded; systemd hears READY=1 once every worker listens, and
//   /health/ready is ready once every worker has finished its warm-up;
// - workers that die: logged and replaced (after a pause when one dies again soon after starting).
import cluster, { type Worker } from 'node:cluster'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import type { FileFacts } from '../core/index-model.js'
import { FactsLog } from '../file-facts/facts-log.js'
import type { IndexChange } from '../live-index/index-service.js'
import { createLogger, type LoggerHandle } from '../logger.js'
import { NO_METRICS, type Metrics } from '../core/metrics.js'
import type { ProcessMetrics } from '../metrics/cluster-aggregate.js'
import { registerHashingMetrics } from '../metrics/index-metrics.js'
import { packageVersion, serveApart, type DaemonMetrics } from '../metrics/serve-metrics.js'
import { indexServicesFor, type IndexServices } from '../services.js'
import {
  Channel,
  type PrimaryEvent,
  type PrimaryRequests,
  type WorkerEvent,
  type WorkerRequests,
} from './cluster-channel.js'
import { CLUSTER_SOCKET_VARIABLE } from './cluster-worker.js'
import { Lifecycle, type LifecycleEffects } from './lifecycle.js'
import { httpSocket, takeInheritedSockets, type InheritedSocket } from './socket-activation.js'
import { lifecycleNotifications, SystemdNotifier } from './systemd-notify.js'

// A worker still running this long after its second stop (grace over) is killed.
const KILL_AFTER_MS = 5_000
// A worker that dies within this long of starting is replaced only after a pause, doubling
// up to the maximum, so a worker that cannot run does not make the primary fork in a loop.
const QUICK_DEATH_MS = 10_000
const FIRST_PAUSE_MS = 1_000
const MAX_PAUSE_MS = 30_000
// While the workers start (each scans the tree), systemd's start timeout is pushed back as a
// single process's scan pushes it back.
const START_EXTENSION = { everyMs: 10_000, extendMs: 30_000 }
// Facts per message of a starting worker's snapshot.
const SNAPSHOT_PAGE = 2_000

/** One worker slot: the process serving it now, and what it has reported. */
interface Member {
  readonly slot: number
  readonly worker: Worker
  readonly channel: Channel<WorkerRequests, PrimaryRequests, WorkerEvent, PrimaryEvent>
  readonly startedAt: number
  /** Listening (and not reloading). */
  ready: boolean
  /** Its warm-up pass is over. */
  warm: boolean
  /** Called at its next READY (listening, or a reload done) or exit. */
  readonly waiters: (() => void)[]
}

/** What the primary is made of. */
interface PrimaryParts {
  readonly config: Config
  readonly count: number
  readonly log: LoggerHandle
  readonly notifier: SystemdNotifier
  readonly socket: InheritedSocket | undefined
  readonly services: IndexServices
  readonly telemetry: PrimaryTelemetry | undefined
}

/** The primary's own metrics (its process, the hashing), when --metrics is on. */
interface PrimaryTelemetry {
  readonly json: () => Promise<ProcessMetrics>
  readonly contentType: string
}

/**
 * Start `count` workers serving `config` and watch over them; resolves with the exit code once
 * they have all stopped (after a signal), or a worker could not start (its message is on stderr).
 */
export async function startPrimary(config: Config, count: number): Promise<number> {
  const log = createLogger({ file: config.logFile, level: config.logLevel })
  try {
    return await start(config, count, log)
  } catch (err) {
    log.release()
    await log.flush()
    throw err
  }
}

async function start(config: Config, count: number, log: LoggerHandle): Promise<number> {
  const { logger } = log
  // As a single process does: the variables are taken and removed, so that no worker takes
  // them for its own (sd_listen_fds(3), sd_notify(3)); workers learn the socket from the primary.
  const sockets = takeInheritedSockets(process.env, process.pid)
  const socket = sockets === undefined ? undefined : httpSocket(sockets)
  const notifier = new SystemdNotifier({ env: { ...process.env }, pid: process.pid, logger })
  delete process.env.NOTIFY_SOCKET
  delete process.env.WATCHDOG_USEC
  delete process.env.WATCHDOG_PID
  const { metrics, telemetry } = await primaryMetrics(config)
  const services = await indexServicesFor(config, logger, metrics)
  registerHashingMetrics(metrics, services.reader.stats)
  const primary = new Primary({ config, count, log, notifier, socket, services, telemetry })
  return primary.run()
}

async function primaryMetrics(config: Config): Promise<{ metrics: Metrics; telemetry?: PrimaryTelemetry }> {
  if (!config.metrics.enabled) return { metrics: NO_METRICS }
  const { createPrometheusMetrics } = await import('../metrics/prometheus.js')
  const { metrics, json, exposition } = createPrometheusMetrics({ version: packageVersion() })
  return { metrics, telemetry: { json, contentType: exposition.contentType } }
}

class Primary {
  readonly #parts: PrimaryParts
  readonly #log: FastifyBaseLogger
  readonly #members = new Map<number, Member>()
  readonly #lifecycle: Lifecycle
  readonly #pauses = new Map<number, number>()
  /** The --metrics-listen server, once listening. */
  #apart: Pick<DaemonMetrics, 'listen' | 'close'> | undefined
  #stopping = false
  #allExited: (() => void) | undefined
  #clusterReady = false
  #lastStatus = ''
  #startFailed: ((code: number) => void) | undefined

  constructor(parts: PrimaryParts) {
    this.#parts = parts
    this.#log = parts.log.logger.child({ component: 'primary' })
    this.#lifecycle = new Lifecycle({
      logger: parts.log.logger,
      // The workers' own grace periods run out first; then the primary forces them.
      graceMs: parts.config.shutdownTimeoutMs + 1000,
      effects: this.#effects(),
    })
  }

  async run(): Promise<number> {
    const { count, socket, log, notifier } = this.#parts
    cluster.setupPrimary({ serialization: 'advanced' })
    this.#lifecycle.handleSignals(process)
    const failure = await notifier.extendWhile(this.#startAll(), `Starting ${count} workers`, START_EXTENSION)
    if (failure !== undefined) return this.#failStart(failure)
    this.#apart = await this.#metricsApart()
    this.#compactNow()
    this.#lifecycle.dispatch({ type: 'started' })
    // The single process's "Serving" line, for the whole service.
    log.logger.info(
      {
        workers: count,
        pids: [...this.#members.values()].map((member) => member.worker.process.pid),
        socket: socket === undefined ? null : socket.name,
        // The workers keep facts in memory; the cache file is this process's.
        cacheDir: this.#parts.services.facts instanceof FactsLog ? (this.#parts.config.cacheDir ?? null) : null,
        cached: this.#parts.services.facts.size,
      },
      'Serving',
    )
    await this.#lifecycle.stopped
    return 0
  }

  // Resolves once every worker listens, or with the exit code of one that could not start.
  async #startAll(): Promise<number | undefined> {
    const { count, log } = this.#parts
    const failed = new Promise<number>((resolve) => {
      this.#startFailed = resolve
    })
    // The first worker starts alone: a problem with the tree or the address is then reported
    // once, by it, rather than once per worker.
    const first = await Promise.race([this.#waitReady(this.#fork(1)), failed.then(() => false)])
    if (!first) return failed
    // Its "listening" line is out: the primary's own lines may follow.
    log.release()
    const rest = Array.from({ length: count - 1 }, (_, index) => this.#waitReady(this.#fork(index + 2)))
    const all = await Promise.race([Promise.all(rest).then(() => true), failed.then(() => false)])
    if (!all) return failed
    this.#startFailed = undefined
    return undefined
  }

  // A worker exited before it was ready: stop the others and exit as it did.
  async #failStart(code: number): Promise<number> {
    this.#stopping = true
    this.#log.error({ code }, 'A worker could not start; stopping')
    for (const member of this.#members.values()) member.worker.process.kill('SIGKILL')
    await this.#parts.services.close()
    this.#parts.log.release()
    await this.#parts.log.flush()
    this.#lifecycle.dispatch({ type: 'startFailed' })
    return code === 0 ? 1 : code
  }

  #fork(slot: number): Member {
    const { socket } = this.#parts
    const worker = cluster.fork({
      [CLUSTER_SOCKET_VARIABLE]: socket === undefined ? '' : `${socket.fd}:${socket.name}`,
    })
    const channel = new Channel<WorkerRequests, PrimaryRequests, WorkerEvent, PrimaryEvent>(
      worker,
      {
        analyze: ({ file, options }) => this.#parts.services.analyzer.analyze(file, options),
        snapshot: ({ from }) => Promise.resolve(this.#snapshot(from)),
        announce: ({ change }) => this.#announce(slot, change),
        metrics: () => this.#aggregate(),
      },
      (event) => {
        this.#receive(slot, event)
      },
    )
    const member: Member = { slot, worker, channel, startedAt: Date.now(), ready: false, warm: false, waiters: [] }
    this.#members.set(slot, member)
    worker.on('exit', (code, signal) => {
      this.#exited(member, code, signal)
    })
    this.#log.debug({ slot, workerPid: worker.process.pid }, 'Started a worker')
    return member
  }

  #snapshot(from: number): PrimaryRequests['snapshot']['answer'] {
    const entries: (readonly [string, FileFacts])[] = []
    let index = 0
    for (const entry of this.#parts.services.facts.entries()) {
      if (index++ < from) continue
      if (entries.length === SNAPSHOT_PAGE) return { entries, next: from + SNAPSHOT_PAGE }
      entries.push(entry)
    }
    return { entries }
  }

  #waitReady(member: Member): Promise<boolean> {
    return new Promise((resolve) => {
      member.waiters.push(() => {
        resolve(member.ready)
      })
    })
  }

  #receive(slot: number, event: WorkerEvent): void {
    const member = this.#members.get(slot)
    if (member === undefined) return
    switch (event.type) {
      case 'ready': {
        member.ready = true
        this.#lastStatus = event.status
        this.#send(member, { type: 'clusterReady', ready: this.#clusterReady })
        for (const waiter of member.waiters.splice(0)) waiter()
        return
      }
      case 'warm':
        member.warm = true
        this.#updateReadiness()
        return
      case 'status':
        // Every worker reports the same warm-up: say each line once.
        if (event.text !== this.#lastStatus) this.#parts.notifier.status(event.text)
        this.#lastStatus = event.text
        return
      case 'forget':
        this.#parts.services.analyzer.forget(event.identity)
    }
  }

  // The uploading worker has taken the change in; the primary's memory (and the persistent
  // cache) and every other worker take it now, before the upload is answered.
  async #announce(from: number, change: IndexChange): Promise<null> {
    if (change.kind === 'published') this.#parts.services.analyzer.remember(change.identity, change.facts)
    const others = [...this.#members.values()].filter((member) => member.slot !== from && member.worker.isConnected())
    await Promise.all(
      others.map((member) =>
        member.channel.request('apply', { change }).catch((err: unknown) => {
          // It died meanwhile: its replacement reads the tree afresh.
          this.#log.debug({ err, slot: member.slot }, 'A worker did not take a change in')
        }),
      ),
    )
    return null
  }

  #exited(member: Member, code: number | null, signal: string | null): void {
    member.channel.close()
    member.ready = false
    for (const waiter of member.waiters.splice(0)) waiter()
    if (this.#members.get(member.slot) === member) this.#members.delete(member.slot)
    if (this.#startFailed !== undefined && !this.#stopping) {
      this.#startFailed(code ?? 1)
      return
    }
    if (this.#stopping) {
      if (this.#members.size === 0) this.#allExited?.()
      return
    }
    this.#updateReadiness()
    const pid = member.worker.process.pid
    const quick = Date.now() - member.startedAt < QUICK_DEATH_MS
    const pause = quick ? Math.min((this.#pauses.get(member.slot) ?? FIRST_PAUSE_MS / 2) * 2, MAX_PAUSE_MS) : 0
    this.#pauses.set(member.slot, pause)
    this.#log.error(
      { slot: member.slot, workerPid: pid, code, signal, restartInMs: pause },
      `Worker ${member.slot} (pid ${String(pid)}) exited; starting another`,
    )
    this.#parts.notifier.status(`Restarting worker ${member.slot} (pid ${String(pid)} exited)`)
    setTimeout(() => {
      if (this.#stopping) return
      const replacement = this.#fork(member.slot)
      void this.#waitReady(replacement).then((ready) => {
        if (ready) this.#log.info({ slot: member.slot, workerPid: replacement.worker.process.pid }, 'Worker restarted')
      })
    }, pause).unref()
  }

  // The persistent cache has one writer, this process: it compacts the file when it is mostly
  // dead weight (files the workers found gone), checked at every reconcile interval.
  #compactNow(): void {
    const { config, services, log } = this.#parts
    const every = config.reconcileIntervalMs
    const facts = services.facts
    if (every === 0 || !(facts instanceof FactsLog)) return
    setInterval(() => {
      if (this.#stopping || !facts.wantsCompaction) return
      void facts.compact().then(() => {
        log.logger.info({ entries: facts.size }, 'Cache compacted')
      })
    }, every).unref()
  }

  // Ready when every slot has a worker that has finished its warm-up.
  #updateReadiness(): void {
    const { count } = this.#parts
    const members = [...this.#members.values()]
    const ready = members.length === count && members.every((member) => member.warm)
    if (ready === this.#clusterReady) return
    this.#clusterReady = ready
    for (const member of members) this.#send(member, { type: 'clusterReady', ready })
  }

  #send(member: Member, event: PrimaryEvent): void {
    if (member.worker.isConnected()) member.channel.event(event)
  }

  #forward(signal: 'SIGTERM' | 'SIGHUP'): Member[] {
    const members = [...this.#members.values()].filter((member) => member.worker.isConnected())
    for (const member of members) this.#send(member, { type: 'signal', signal })
    return members
  }

  #effects(): LifecycleEffects {
    const { log, notifier, services } = this.#parts
    return {
      closeServer: () => {
        this.#stopping = true
        const exited = new Promise<void>((resolve) => {
          this.#allExited = resolve
        })
        if (this.#forward('SIGTERM').length === 0 && this.#members.size === 0) return Promise.resolve()
        return exited
      },
      closeConnections: () => {
        // A second stop: the workers close their connections; any still running later is killed.
        const members = this.#forward('SIGTERM')
        setTimeout(() => {
          for (const member of members) if (!member.worker.isDead()) member.worker.process.kill('SIGKILL')
        }, KILL_AFTER_MS).unref()
      },
      reopenLog: () => {
        log.reopen()
      },
      // Each worker reloads (passwords, TLS certificate, its log) and says READY again.
      reload: async () => {
        const members = this.#forward('SIGHUP')
        await Promise.all(
          members.map((member) => {
            member.ready = false
            return this.#waitReady(member)
          }),
        )
      },
      releaseResources: async () => {
        await services.close()
        await this.#apart?.close()
        await notifier.close()
      },
      flushLogs: () => log.flush(),
      ...lifecycleNotifications(notifier, () => this.#lastStatus),
    }
  }

  // Every process's metrics: the primary's (the hashing) and each worker's.
  async #aggregate(): Promise<string> {
    const own = this.#parts.telemetry?.json
    if (own === undefined) return ''
    const workers = await Promise.all(
      [...this.#members.values()].map((member) => member.channel.request('metrics', {}).catch(() => undefined)),
    )
    const { aggregateMetrics } = await import('../metrics/cluster-aggregate.js')
    // Each worker answers with its registry's getMetricsAsJSON() (cluster-worker.ts).
    const lists = [await own(), ...workers.filter((list): list is ProcessMetrics => Array.isArray(list))]
    return aggregateMetrics(lists)
  }

  // --metrics-listen: served here, with every process's metrics.
  async #metricsApart(): Promise<Pick<DaemonMetrics, 'listen' | 'close'> | undefined> {
    const { config, log, telemetry } = this.#parts
    if (!config.metrics.enabled || config.metrics.listen === undefined || telemetry === undefined) return undefined
    const apart = await serveApart({
      exposition: { contentType: telemetry.contentType, render: () => this.#aggregate() },
      logger: log.logger,
      address: config.metrics.listen,
    })
    await apart.listen()
    return apart
  }
}
