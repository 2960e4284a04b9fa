// A --workers worker's side of the cluster: it serves requests like a single process, but
// - the facts of files come from the primary, which alone reads and hashes files and keeps the
//   persistent cache, so each file is hashed once however many workers ask (ClusterAnalyzer);
// - an upload or removal made here is announced, through the primary, to every other worker
//   before the client hears it succeeded (IndexPeers);
// - signals come from the primary only, forwarded once: SIGTERM, SIGINT and SIGHUP sent to the
//   worker itself (systemd's KillMode=control-group, Ctrl-C to the process group) are ignored;
// - what it would tell systemd goes to the primary, which tells systemd for all of them;
// - it listens on nothing: the primary accepts every connection and hands it to the worker
//   with the fewest open ones (cluster-balancer.ts), which serves it (cluster-intake.ts).
import cluster from 'node:cluster'
import { EventEmitter } from 'node:events'
import type { Server } from 'node:http'
import { Socket } from 'node:net'
import type { FastifyBaseLogger } from 'fastify'
import type { DistFile } from '../core/index-model.js'
import { AppError, isStoreFailureCode, ListenError, StoreFailure } from '../errors.js'
import {
  AnalysisStoppedError,
  FileGoneError,
  type AnalysisResult,
  type Analyzer,
  type AnalyzeOptions,
} from '../file-facts/analyzer.js'
import { MemoryFactsStore, type FactsStore } from '../file-facts/facts-store.js'
import type { AnalysisStats } from '../file-facts/streaming-analyzer.js'
import type { Readiness } from '../live-index/background.js'
import type { IndexChange, IndexPeers, IndexService } from '../live-index/index-service.js'
import {
  Channel,
  isConnectionMessage,
  wireError,
  type Envelope,
  type PrimaryEvent,
  type PrimaryRequests,
  type WorkerEvent,
  type WorkerRequests,
} from './cluster-channel.js'
import { ConnectionIntake } from './cluster-intake.js'
import type { SignalSource } from './lifecycle.js'
import type { ServiceNotifier } from './systemd-notify.js'

/** True in a process the primary forked. */
export function isClusterWorker(): boolean {
  return cluster.isWorker
}

/** This worker's link to the primary. */
export class ClusterWorker {
  readonly #channel: Channel<PrimaryRequests, WorkerRequests, PrimaryEvent, WorkerEvent>
  readonly #log: FastifyBaseLogger
  readonly #signals = new EventEmitter()
  #clusterReady = false

  /** SIGTERM, SIGINT and SIGHUP as the primary forwards them. */
  get signals(): SignalSource {
    return this.#signals
  }

  #index: IndexService | undefined
  #facts: FactsStore | undefined
  #metrics: (() => Promise<unknown>) | undefined
  #intake: ConnectionIntake | undefined
  // Connections come as a message with the socket as its handle.
  readonly #onMessage = (message: unknown, handle: unknown): void => {
    if (!isConnectionMessage(message)) return
    if (this.#intake !== undefined) {
      this.#intake.take(handle)
      return
    }
    // Not serving yet (the primary waits for READY, so this should not happen): dropped, counted closed.
    if (handle instanceof Socket) handle.destroy()
    this.#event({ type: 'closed', count: 1 })
  }
  readonly #ignore = (signal: NodeJS.Signals): void => {
    this.#log.debug({ signal }, 'Ignoring a signal sent to a worker: the primary forwards the ones it gets')
  }

  constructor(log: FastifyBaseLogger) {
    this.#log = log.child({ component: 'cluster' })
    const port = {
      // process.send exists in a forked process (the IPC channel); sending on a closed channel throws.
      send: (message: Envelope) => {
        if (process.send === undefined || !process.connected) throw new Error('no IPC channel')
        return process.send(message)
      },
      on: (event: 'message', listener: (message: unknown) => void) => process.on(event, listener),
      off: (event: 'message', listener: (message: unknown) => void) => process.off(event, listener),
    }
    this.#channel = new Channel<PrimaryRequests, WorkerRequests, PrimaryEvent, WorkerEvent>(
      port,
      {
        apply: ({ change }) => {
          this.#apply(change)
          return Promise.resolve(null)
        },
        metrics: () => (this.#metrics === undefined ? Promise.resolve([]) : this.#metrics()),
      },
      (event) => {
        this.#receive(event)
      },
    )
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, this.#ignore)
    process.on('message', this.#onMessage)
  }

  /**
   * Serve the connections the primary hands over on `server` (Fastify's, ready); resolves with
   * the addresses the primary listens on (it starts listening at the first worker's ask), or
   * fails with the primary's ListenError.
   */
  async listen(server: Server): Promise<readonly string[]> {
    this.#intake = new ConnectionIntake(server, (count) => {
      this.#event({ type: 'closed', count })
    })
    try {
      return await this.#channel.request('listen', {})
    } catch (err) {
      throw new ListenError(wireError(err)?.message ?? `Cannot listen: the primary cannot be asked (${String(err)})`, {
        cause: err,
      })
    }
  }

  /** Resolves once every connection handed to this worker has closed. */
  drained(): Promise<void> {
    return this.#intake?.drained() ?? Promise.resolve()
  }

  /** The facts every worker starts from, the analyzer that asks the primary, and the peers. */
  async indexParts(): Promise<{
    remoteFacts: { reader: ClusterAnalyzer; facts: FactsStore }
    peers: IndexPeers
  }> {
    const facts = new MemoryFactsStore()
    for (let from: number | undefined = 0; from !== undefined;) {
      const page: PrimaryRequests['snapshot']['answer'] = await this.#channel.request('snapshot', { from })
      for (const [identity, known] of page.entries) facts.set(identity, known)
      from = page.next
    }
    this.#facts = facts
    return {
      remoteFacts: { reader: new ClusterAnalyzer(this.#channel), facts },
      peers: {
        announce: async (change) => {
          await this.#channel.request('announce', { change })
        },
      },
    }
  }

  /** Changes announced by other workers go to this index from now on. */
  attach(index: IndexService): void {
    this.#index = index
  }

  /** How the primary reads this worker's metrics (prom-client's getMetricsAsJSON()). */
  provideMetrics(json: () => Promise<unknown>): void {
    this.#metrics = json
  }

  /** Every process's metrics, aggregated by the primary (/metrics on the main port). */
  aggregateMetrics(): Promise<string> {
    return this.#channel.request('metrics', {})
  }

  /** This worker's readiness, ready only when every worker is (/health/ready answers for the whole). */
  readiness(own: Readiness): Readiness {
    return { ...own, ready: own.ready && this.#clusterReady }
  }

  /** Its warm-up is over. */
  warm(): void {
    this.#event({ type: 'warm' })
  }

  /** What the worker tells systemd goes to the primary. */
  notifier(): ServiceNotifier {
    return new WorkerNotifier((event) => {
      this.#event(event)
    })
  }

  /** Stopped: stop ignoring signals and let the process exit (the channel would keep it alive). */
  leave(): void {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.off(signal, this.#ignore)
    process.off('message', this.#onMessage)
    this.#channel.close()
    cluster.worker?.disconnect()
  }

  #event(event: WorkerEvent): void {
    this.#channel.event(event)
  }

  #receive(event: PrimaryEvent): void {
    switch (event.type) {
      case 'signal':
        this.#signals.emit(event.signal, event.signal)
        return
      case 'clusterReady':
        this.#clusterReady = event.ready
    }
  }

  // Before the index is loaded its first read sees the change anyway; the facts are kept.
  #apply(change: IndexChange): void {
    if (this.#index !== undefined) this.#index.apply(change)
    else if (change.kind === 'published') this.#facts?.set(change.identity, change.facts)
  }
}

/** Asks the primary for facts: it reads each file once for all workers and keeps the cache. */
export class ClusterAnalyzer implements Analyzer {
  /** Files this process read: none, the primary reads them (its metrics count them). */
  readonly stats: AnalysisStats = { files: 0, bytes: 0 }
  readonly #channel: Channel<PrimaryRequests, WorkerRequests, PrimaryEvent, WorkerEvent>

  constructor(channel: Channel<PrimaryRequests, WorkerRequests, PrimaryEvent, WorkerEvent>) {
    this.#channel = channel
  }

  async analyze(file: DistFile, options: AnalyzeOptions): Promise<AnalysisResult> {
    try {
      return await this.#channel.request('analyze', { file, options })
    } catch (err) {
      throw rebuild(err, file)
    }
  }

  // The primary hears of uploads through IndexPeers.announce (once, from the worker that took
  // the upload), not from every worker that takes the announcement in.
  remember(): void {
    // Nothing to do here: see above.
  }

  forget(identity: string): void {
    this.#channel.event({ type: 'forget', identity })
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

/** What a worker would tell systemd, sent to the primary instead. */
class WorkerNotifier implements ServiceNotifier {
  readonly #send: (event: WorkerEvent) => void

  constructor(send: (event: WorkerEvent) => void) {
    this.#send = send
  }

  readonly enabled = false

  ready(status?: string): void {
    this.#send({ type: 'ready', status: status ?? '' })
  }

  status(text: string): void {
    this.#send({ type: 'status', text })
  }

  // The primary extends systemd's start timeout for the whole start-up.
  extendWhile<T>(work: Promise<T>): Promise<T> {
    return work
  }

  // RELOADING=1, STOPPING=1 and the watchdog are the primary's.
  reloading(): void {
    // The primary's.
  }

  stopping(): void {
    // The primary's.
  }

  startWatchdog(): void {
    // The primary's.
  }

  stopWatchdog(): void {
    // The primary's.
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

// The error the primary met, as it would be here: the same class, so a request gets the same
// status and headers as in a single process.
function rebuild(err: unknown, file: DistFile): Error {
  const wire = wireError(err)
  if (wire === undefined) return new AppError('EGGSERVE_ANALYSIS', `the primary cannot be asked: ${String(err)}`)
  const options = wire.details === undefined ? {} : { details: wire.details }
  if (wire.code === 'EGGSERVE_FILE_GONE') return new FileGoneError(file.key)
  if (wire.code === undefined) return new AppError('EGGSERVE_ANALYSIS', wire.message, options)
  if (isStoreFailureCode(wire.code)) return new StoreFailure(wire.code, wire.message, options)
  if (wire.message === new AnalysisStoppedError().message) return new AnalysisStoppedError()
  return new AppError(wire.code, wire.message, options)
}
