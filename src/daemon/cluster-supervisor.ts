// --workers N: the primary's watch over its workers. It forks them (the first alone, so that a
// problem with the tree or the address is reported once), answers their requests (facts, the
// snapshot a starting worker copies, uploads to pass on, metrics), replaces one that dies,
// forwards the signals the Lifecycle gets, and tells systemd for all of them (READY=1 once
// every worker listens; STATUS= lines once each). It listens, at the first worker's ask, and
// hands each connection to the worker holding the fewest (cluster-balancer.ts).
import cluster from 'node:cluster'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { FactsLog } from '../file-facts/facts-log.js'
import type { IndexChange } from '../live-index/index-service.js'
import type { LoggerHandle } from '../logger.js'
import type { IndexServices } from '../services.js'
import {
  Channel,
  type PrimaryEvent,
  type PrimaryRequests,
  type WorkerEvent,
  type WorkerRequests,
} from './cluster-channel.js'
import { ConnectionBalancer } from './cluster-balancer.js'
import { Members, type Member } from './cluster-members.js'
import { aggregateClusterMetrics, metricsApart, type MetricsApart, type PrimaryTelemetry } from './cluster-metrics.js'
import { restartPause } from './cluster-restart-pause.js'
import { compactPeriodically, snapshotPage } from './cluster-shared-facts.js'
import { Lifecycle, type LifecycleEffects } from './lifecycle.js'
import { listenError, listenPlace } from './listen-error.js'
import type { InheritedSocket } from './socket-activation.js'
import { lifecycleNotifications, type SystemdNotifier } from './systemd-notify.js'

// A worker still running this long after its second stop (grace over) is killed.
const KILL_AFTER_MS = 5_000
// While the workers start (each scans the tree), systemd's start timeout is pushed back as a
// single process's scan pushes it back.
const START_EXTENSION = { everyMs: 10_000, extendMs: 30_000 }

/** What the primary is made of. */
export interface PrimaryParts {
  readonly config: Config
  readonly count: number
  readonly log: LoggerHandle
  readonly notifier: SystemdNotifier
  readonly socket: InheritedSocket | undefined
  readonly services: IndexServices
  readonly telemetry: PrimaryTelemetry | undefined
}

/** The primary: its workers, their lifecycle, and what it answers them. */
export class Primary {
  readonly #parts: PrimaryParts
  readonly #log: FastifyBaseLogger
  readonly #members = new Members()
  readonly #lifecycle: Lifecycle
  readonly #pauses = new Map<number, number>()
  readonly #balancer: ConnectionBalancer
  /** The addresses listened on, once the first worker asked. */
  #listening: Promise<string[]> | undefined
  /** The --metrics-listen server, once listening. */
  #apart: MetricsApart | undefined
  #stopping = false
  #allExited: (() => void) | undefined
  #clusterReady = false
  #lastStatus = ''
  #startFailed: ((code: number) => void) | undefined

  constructor(parts: PrimaryParts) {
    this.#parts = parts
    this.#log = parts.log.logger.child({ component: 'primary' })
    this.#balancer = new ConnectionBalancer({ destinations: () => this.#members.accepting(), log: this.#log })
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
    // --metrics-listen: served here, with every process's metrics.
    this.#apart = await metricsApart({
      config: this.#parts.config,
      log,
      telemetry: this.#parts.telemetry,
      render: () => this.#aggregate(),
    })
    compactPeriodically({
      facts: this.#parts.services.facts,
      everyMs: this.#parts.config.reconcileIntervalMs,
      stopping: () => this.#stopping,
      compacted: (entries) => {
        log.logger.info({ entries }, 'Cache compacted')
      },
    })
    this.#lifecycle.dispatch({ type: 'started' })
    // The single process's "Serving" line, for the whole service.
    log.logger.info(
      {
        workers: count,
        pids: this.#members.all().map((member) => member.worker.process.pid),
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
    const first = await Promise.race([this.#members.waitReady(this.#fork(1)), failed.then(() => false)])
    if (!first) return failed
    // Its "listening" line is out: the primary's own lines may follow.
    log.release()
    const rest = Array.from({ length: count - 1 }, (_, index) => this.#members.waitReady(this.#fork(index + 2)))
    const all = await Promise.race([Promise.all(rest).then(() => true), failed.then(() => false)])
    if (!all) return failed
    this.#startFailed = undefined
    return undefined
  }

  // A worker exited before it was ready: stop the others and exit as it did.
  async #failStart(code: number): Promise<number> {
    this.#stopping = true
    this.#log.error({ code }, 'A worker could not start; stopping')
    this.#balancer.close()
    for (const member of this.#members.all()) member.worker.process.kill('SIGKILL')
    await this.#parts.services.close()
    this.#parts.log.release()
    await this.#parts.log.flush()
    this.#lifecycle.dispatch({ type: 'startFailed' })
    return code === 0 ? 1 : code
  }

  #fork(slot: number): Member {
    const worker = cluster.fork()
    const channel = new Channel<WorkerRequests, PrimaryRequests, WorkerEvent, PrimaryEvent>(
      worker,
      {
        analyze: ({ file, options }) => this.#parts.services.analyzer.analyze(file, options),
        snapshot: ({ from }) => Promise.resolve(snapshotPage(this.#parts.services.facts, from)),
        announce: ({ change }) => this.#announce(slot, change),
        metrics: () => this.#aggregate(),
        listen: () => this.#listen(),
      },
      (event) => {
        this.#receive(slot, event)
      },
    )
    const member: Member = {
      slot,
      worker,
      channel,
      startedAt: Date.now(),
      ready: false,
      warm: false,
      accepting: false,
      connections: 0,
      waiters: [],
    }
    this.#members.add(member)
    worker.on('exit', (code, signal) => {
      this.#exited(member, code, signal)
    })
    this.#log.debug({ slot, workerPid: worker.process.pid }, 'Started a worker')
    return member
  }

  #receive(slot: number, event: WorkerEvent): void {
    const member = this.#members.get(slot)
    if (member === undefined) return
    switch (event.type) {
      case 'ready': {
        member.ready = true
        // Serving from now on (a reload's READY changes nothing): it takes connections.
        member.accepting = !this.#stopping
        this.#balancer.offer()
        this.#lastStatus = event.status
        this.#members.send(member, { type: 'clusterReady', ready: this.#clusterReady })
        this.#members.wake(member)
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
        return
      case 'closed':
        member.connections = Math.max(0, member.connections - event.count)
    }
  }

  // The first worker to ask has the primary listen; later ones hear the same addresses. A
  // failure reaches that worker as a ListenError, which it reports (and the start fails).
  #listen(): Promise<string[]> {
    const { config, socket } = this.#parts
    const target = socket === undefined ? { host: config.host, port: config.port } : { socket }
    this.#listening ??= this.#balancer
      .listen(target, config.tls === undefined ? 'http' : 'https')
      .catch((err: unknown) => {
        this.#listening = undefined
        throw listenError(listenPlace(config, socket), err)
      })
    return this.#listening
  }

  // The uploading worker has taken the change in; the primary's memory (and the persistent
  // cache) and every other worker take it now, before the upload is answered.
  async #announce(from: number, change: IndexChange): Promise<null> {
    if (change.kind === 'published') this.#parts.services.analyzer.remember(change.identity, change.facts)
    const others = this.#members.connected(from)
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
    this.#members.exited(member)
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
    const pause = restartPause(Date.now() - member.startedAt, this.#pauses.get(member.slot))
    this.#pauses.set(member.slot, pause)
    this.#log.error(
      { slot: member.slot, workerPid: pid, code, signal, restartInMs: pause },
      `Worker ${member.slot} (pid ${String(pid)}) exited; starting another`,
    )
    this.#parts.notifier.status(`Restarting worker ${member.slot} (pid ${String(pid)} exited)`)
    setTimeout(() => {
      if (this.#stopping) return
      const replacement = this.#fork(member.slot)
      void this.#members.waitReady(replacement).then((ready) => {
        if (ready) this.#log.info({ slot: member.slot, workerPid: replacement.worker.process.pid }, 'Worker restarted')
      })
    }, pause).unref()
  }

  // Ready when every slot has a worker that has finished its warm-up.
  #updateReadiness(): void {
    const ready = this.#members.allWarm(this.#parts.count)
    if (ready === this.#clusterReady) return
    this.#clusterReady = ready
    for (const member of this.#members.all()) this.#members.send(member, { type: 'clusterReady', ready })
  }

  #effects(): LifecycleEffects {
    const { log, notifier, services } = this.#parts
    return {
      closeServer: () => {
        this.#stopping = true
        // No new connections (with socket activation, systemd holds the next ones for the next
        // start); the workers serve those they have, then exit.
        this.#balancer.close()
        const exited = new Promise<void>((resolve) => {
          this.#allExited = resolve
        })
        if (this.#members.forward('SIGTERM').length === 0 && this.#members.size === 0) return Promise.resolve()
        return exited
      },
      closeConnections: () => {
        // A second stop: the workers close their connections; any still running later is killed.
        const members = this.#members.forward('SIGTERM')
        setTimeout(() => {
          for (const member of members) if (!member.worker.isDead()) member.worker.process.kill('SIGKILL')
        }, KILL_AFTER_MS).unref()
      },
      reopenLog: () => {
        log.reopen()
      },
      // Each worker reloads (passwords, TLS certificate, its log) and says READY again.
      reload: async () => {
        const members = this.#members.forward('SIGHUP')
        await Promise.all(
          members.map((member) => {
            member.ready = false
            return this.#members.waitReady(member)
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
  #aggregate(): Promise<string> {
    return aggregateClusterMetrics(this.#parts.telemetry, () =>
      this.#members.all().map((member) => member.channel.request('metrics', {})),
    )
  }
}
