// The daemon's wiring: load and validate the tree, build the app, listen, and hand stopping to
// the lifecycle (daemon/lifecycle.ts), whose effects are the parts built here.
import { Server as TlsServer } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import type { Config, TlsFiles } from './config.js'
import type { LayoutProblem, LayoutReport } from './core/layout.js'
import { problemCount } from './core/tree-summary.js'
import { availableParallelism } from 'node:os'
import { ClusterWorker, isClusterWorker } from './daemon/cluster-worker.js'
import { Lifecycle, type LifecycleEffects, type SignalSource } from './daemon/lifecycle.js'
import { KeepAliveDrain } from './daemon/keep-alive-drain.js'
import { listenError, listenPlace } from './daemon/listen-error.js'
import { servingStatus } from './daemon/service-status.js'
import { httpSocket, takeInheritedSockets, type InheritedSocket } from './daemon/socket-activation.js'
import { logServing, logStartUpNotes } from './daemon/start-up-notes.js'
import { lifecycleNotifications, SystemdNotifier, type ServiceNotifier } from './daemon/systemd-notify.js'
import { loadTlsCredentials, type TlsCredentials } from './daemon/tls.js'
import { LayoutError, StoreFailure, TlsError } from './errors.js'
import { AccessControl } from './http/access-control.js'
import { createLogger, type LoggerHandle } from './logger.js'
import { BackgroundWork, type Readiness } from './live-index/background.js'
import { registerIndexMetrics } from './metrics/index-metrics.js'
import { openMetrics, type DaemonMetrics } from './metrics/serve-metrics.js'
import { registerUpstreamBreakers, upstreamObserver } from './metrics/upstream-metrics.js'
import { SmallFileCache } from './storage/small-file-cache.js'
import { createAuthServices, indexServicesFor, type AuthServices, type IndexServices } from './services.js'
import { tuneHeap } from './daemon/heap-pacing.js'
import { UploaderLog } from './upload/uploader-log.js'
import type { UpstreamIndex } from './upstream/upstream-index.js'

/** A running server. */
export interface Daemon {
  readonly app: FastifyInstance
  /** The bound address, e.g. http://127.0.0.1:31001. */
  readonly address: string
  /** Resolves when the server has stopped (after a signal or close()). */
  readonly closed: Promise<void>
  /** Stop gracefully, as SIGTERM does. */
  close(): Promise<void>
}

// While the first scan runs, systemd's start timeout is pushed back by this much, this often.
const SCAN_EXTENSION = { everyMs: 10_000, extendMs: 30_000 }

/** What start-up takes from the process before anything else: systemd's sockets and notify socket, the TLS files. */
interface Inherited {
  readonly notifier: ServiceNotifier
  /** Where stop and reload signals come from: this process's, or those the primary forwards (--workers). */
  readonly signals: SignalSource
  /** This process's link to the primary, when it is a --workers worker. */
  readonly worker: ClusterWorker | undefined
  /** The listening socket systemd passed (socket activation); undefined: listen on --host/--port. */
  readonly socket: InheritedSocket | undefined
  readonly tls: TlsCredentials | undefined
}

/**
 * Serve as the configuration says: in this process, or (--workers N) from N worker processes
 * this one starts and watches. Resolves with the exit code once stopped; throws as startDaemon.
 */
export async function runServer(config: Config): Promise<number> {
  const processes = config.workers === 'auto' ? availableParallelism() : config.workers
  // The primary's code (the supervisor, the connection balancer) is loaded only for --workers N.
  if (processes > 1 && !isClusterWorker())
    return (await import('./daemon/cluster-primary.js')).startPrimary(config, processes)
  const daemon = await startDaemon(config)
  await daemon.closed
  return 0
}

/**
 * Start serving `config.eggdir`. Throws LayoutError, ListenError or TlsError (nothing is left
 * running then).
 */
export async function startDaemon(config: Config): Promise<Daemon> {
  tuneHeap()
  const log = createLogger({ file: config.logFile, level: config.logLevel })
  const worker = isClusterWorker() ? new ClusterWorker(log.logger) : undefined
  try {
    const daemon = await start(config, log, worker)
    void daemon.closed.then(() => worker?.leave())
    return daemon
  } catch (err) {
    log.release()
    await log.flush()
    worker?.leave()
    throw err
  }
}

async function start(config: Config, log: LoggerHandle, worker: ClusterWorker | undefined): Promise<Daemon> {
  const { logger } = log
  const inherited = await inherit(config, log, worker)
  const telemetry = await openMetrics(config.metrics, logger, worker)
  // The cache is read while the tree is listed (serve() calls index.load() before anything else).
  const services = await indexServicesFor(config, logger, telemetry.metrics, {
    ...(await worker?.indexParts()),
    cacheBesideListing: true,
  })
  worker?.attach(services.index)
  try {
    return await serve(config, log, { services, telemetry, inherited })
  } catch (err) {
    await services.close()
    await telemetry.close()
    throw err
  }
}

// The systemd variables are removed from the environment as they are read, so that no child
// process (readme_renderer, the systemd-notify fallback) takes them for its own (sd_listen_fds(3), sd_notify(3)).
async function inherit(config: Config, log: LoggerHandle, worker: ClusterWorker | undefined): Promise<Inherited> {
  const tls = config.tls === undefined ? undefined : await loadTlsCredentials(config.tls)
  // A worker listens on nothing: the primary listens (on the socket systemd passed it, if any)
  // and hands connections over.
  if (worker !== undefined)
    return { notifier: worker.notifier(), signals: worker.signals, worker, socket: undefined, tls }
  const sockets = takeInheritedSockets(process.env, process.pid)
  const socket = sockets === undefined ? undefined : httpSocket(sockets)
  for (const other of sockets ?? []) {
    if (other !== socket)
      log.logger.warn(
        { fd: other.fd, name: other.name },
        'Ignoring a socket systemd passed: eggserve serves on the one named "http"',
      )
  }
  const notifier = new SystemdNotifier({ env: { ...process.env }, pid: process.pid, logger: log.logger })
  delete process.env.NOTIFY_SOCKET
  delete process.env.WATCHDOG_USEC
  delete process.env.WATCHDOG_PID
  return { notifier, signals: process, worker: undefined, socket, tls }
}

async function serve(
  config: Config,
  log: LoggerHandle,
  parts: { services: IndexServices; telemetry: DaemonMetrics; inherited: Inherited },
): Promise<Daemon> {
  const { logger } = log
  const { services, telemetry, inherited } = parts
  const { index } = services
  const loadStarted = Date.now()
  const loaded = index.load()
  const report = await inherited.notifier
    .extendWhile(loaded, 'Scanning the package store', SCAN_EXTENSION)
    .catch((err: unknown) => {
      if (!(err instanceof StoreFailure)) throw err
      // The store's own message speaks to HTTP clients; at start-up the operator reads it, and
      // the log gets the one record of the failure, with the store's facts (request id, tries).
      logger.error({ err }, 'Cannot list the package store')
      throw new LayoutError(`Cannot serve "${services.storage.location}" (${err.code}): ${err.message}`, { cause: err })
    })
  if (report.problems.length > 0 && !config.lenient) {
    throw new LayoutError(formatProblems(services.storage.location, report.problems))
  }
  const auth = await createAuthServices({
    passwordFile: config.passwordFile,
    authFailureLimit: config.authFailureLimit,
    logger,
  })
  try {
    return await listenAndServe({ config, log, services, auth, report, loadStarted, telemetry, inherited })
  } catch (err) {
    await auth.close()
    throw err
  }
}

/** What listenAndServe() works with: start-up has loaded the index and the password file. */
interface Started {
  readonly config: Config
  readonly log: LoggerHandle
  readonly services: IndexServices
  readonly auth: AuthServices
  readonly report: LayoutReport
  readonly loadStarted: number
  /** Metrics (NO_METRICS when off) and their own server, if any. */
  readonly telemetry: DaemonMetrics
  readonly inherited: Inherited
}

async function listenAndServe(started: Started): Promise<Daemon> {
  const { config, log, services, auth, report, telemetry, inherited } = started
  const { logger } = log
  const { notifier } = inherited
  // What systemd shows as the status: set once listening.
  const serving = { address: '' }
  const background = new BackgroundWork({
    services,
    log: logger,
    reconcileIntervalMs: config.reconcileIntervalMs,
    metrics: telemetry.metrics,
    onProgress: (progress) => {
      notifier.status(servingStatus(serving.address, progress))
    },
    onReady: () => inherited.worker?.warm(),
  })
  // A worker is ready when every worker is: /health/ready answers for the whole service.
  const readiness = (): Readiness => {
    const own = background.readiness()
    return inherited.worker === undefined ? own : inherited.worker.readiness(own)
  }
  registerIndexMetrics(telemetry.metrics, { index: services.index, hashed: services.reader.stats, readiness })
  const app = await buildDaemonApp(started, readiness)
  const keepAlive = new KeepAliveDrain(app.server)
  const status = (): string => servingStatus(serving.address, background.readiness().progress)
  const lifecycle = new Lifecycle({
    logger,
    graceMs: config.shutdownTimeoutMs,
    effects: lifecycleEffects({
      app,
      keepAlive,
      log,
      services,
      auth,
      background,
      telemetry,
      inherited,
      status,
      tlsFiles: config.tls,
    }),
  })
  // Signals are handled from before listen() (see Lifecycle.handleSignals); one that arrives
  // before start-up is complete waits for it.
  lifecycle.handleSignals(inherited.signals)
  const address = await listen(app, { config, log, socket: inherited.socket, worker: inherited.worker })
    .then(async (bound) => {
      await telemetry.listen()
      return bound
    })
    .catch(async (err: unknown) => {
      lifecycle.dispatch({ type: 'startFailed' })
      await app.close()
      throw err
    })
  serving.address = address
  const facts = { config, storage: services.storage, report, passwords: auth.passwords, logger }
  await logStartUpNotes(facts)
  services.index.watch()
  background.start()
  // A worker's "Serving" is one of several: the primary says "Serving" once all of them are.
  logServing({ ...facts, services, loadStarted: started.loadStarted }, inherited.worker ? 'Worker serving' : 'Serving')
  lifecycle.dispatch({ type: 'started' })
  return { app, address, closed: lifecycle.stopped, close: () => lifecycle.stop() }
}

async function buildDaemonApp(started: Started, readiness: () => Readiness): Promise<FastifyInstance> {
  const {
    config,
    services: { storage, index },
    auth,
    log: { logger },
    telemetry,
  } = started
  const uploads =
    config.uploads === 'disabled' ? undefined : { maxBytes: config.maxUploadBytes, overwrite: config.overwrite }
  const upstream = await upstreamIndexFor(started)
  const smallFiles = await downloadCacheFor(started)
  return buildApp({
    index,
    storage,
    logger,
    hashAlgorithm: config.hashAlgorithm,
    simpleHashAlgorithm: config.simpleHashAlgorithm,
    cacheControl: config.cacheControl,
    readiness,
    access: new AccessControl({
      protect: config.authenticate,
      authenticator: auth.authenticator,
      throttle: auth.throttle,
      log: logger,
      metrics: telemetry.metrics,
    }),
    ...(uploads === undefined ? {} : { uploads }),
    ui: config.ui ? { remoteImages: config.uiRemoteImages } : false,
    uploaders: await UploaderLog.open({ dir: config.cacheDir, root: storage.cacheNamespace, log: logger }),
    publicUrl: config.publicUrl,
    trustProxy: config.trustProxy,
    xAccelRedirect: config.xAccelRedirect,
    downloadRedirect: config.downloadRedirect,
    ...(telemetry.app === undefined ? {} : { metrics: telemetry.app }),
    ...(upstream === undefined ? {} : { upstream }),
    ...(smallFiles === undefined ? {} : { smallFiles }),
    ...(started.inherited.tls === undefined ? {} : { https: started.inherited.tls }),
  })
}

/** --s3-download-cache: downloads from the bucket kept on local disk (loaded only then); undefined without. */
async function downloadCacheFor(started: Started): Promise<SmallFileCache | undefined> {
  const setting = started.config.s3DownloadCache
  if (setting === undefined) return undefined
  const { S3DownloadCache } = await import('./storage/s3-download-cache.js')
  const downloads = await S3DownloadCache.open({
    ...setting,
    storage: started.services.storage,
    log: started.log.logger,
    metrics: started.telemetry.metrics,
  })
  return new SmallFileCache(downloads)
}

/**
 * The upstream indexes (--upstream) around the local one, feeding the metrics; undefined without
 * upstreams. Their code (the HTTP client, the page parser, the file cache) is loaded only then:
 * a server without --upstream starts without compiling it (docs/benchmarks.md, "Warm restart").
 */
async function upstreamIndexFor(started: Started): Promise<UpstreamIndex | undefined> {
  const { config, services, log, telemetry } = started
  if (config.upstream.upstreams.length === 0 || config.cacheDir === undefined) return undefined
  const { UpstreamIndex } = await import('./upstream/upstream-index.js')
  const upstream = new UpstreamIndex({
    index: services.index,
    config: config.upstream,
    cacheDir: config.cacheDir,
    log: log.logger,
    observer: upstreamObserver(
      telemetry.metrics,
      config.upstream.upstreams.map((settings) => settings.label),
    ),
  })
  registerUpstreamBreakers(telemetry.metrics, () => upstream.breakers())
  return upstream
}

/**
 * Listen (on --host/--port, or on the socket systemd passed; a --workers worker, through the
 * primary), log the bound address as the first line, then let the lines held during start-up out.
 */
async function listen(
  app: FastifyInstance,
  where: { config: Config; log: LoggerHandle; socket: InheritedSocket | undefined; worker: ClusterWorker | undefined },
): Promise<string> {
  const { config, log, socket, worker } = where
  const { logger } = log
  // The first log line names the address actually bound (useful with --port 0).
  const listenTextResolver = (bound: string): string => log.firstLine(`eggserve listening on ${bound}`)
  let address: string
  try {
    if (worker !== undefined) {
      await app.ready()
      const addresses = await worker.listen(app.server)
      // Logged as Fastify logs its own (each address at info).
      for (const bound of addresses) logger.info(listenTextResolver(bound))
      address = addresses[0] ?? ''
    } else if (socket === undefined) {
      address = await app.listen({ port: config.port, host: config.host, listenTextResolver })
    } else {
      // Fastify hands its options to net.Server#listen, which takes { fd } (an inherited,
      // bound and listening socket); Fastify's types do not list `fd`, hence the variable
      // instead of an object literal.
      const options = { fd: socket.fd, listenTextResolver }
      address = await app.listen(options)
    }
  } catch (err) {
    // A worker's failure is the primary's ListenError already.
    throw worker === undefined ? listenError(listenPlace(config, socket), err) : err
  }
  // Fastify logs the bound address at info; with quieter logs, say it anyway: with --port 0
  // it is the only way to learn the port.
  if (['warn', 'error', 'fatal', 'silent'].includes(logger.level))
    logger.child({}, { level: 'info' }).info(log.firstLine(`eggserve listening on ${address}`))
  log.release()
  return address
}

/** The daemon's parts the lifecycle's effects work on. */
interface EffectParts {
  readonly app: FastifyInstance
  /** Ends keep-alive connections as their responses in flight at the stop end. */
  readonly keepAlive: KeepAliveDrain
  readonly log: LoggerHandle
  readonly services: IndexServices
  readonly auth: AuthServices
  readonly background: BackgroundWork
  readonly telemetry: DaemonMetrics
  readonly inherited: Inherited
  /** The STATUS= line of READY=1. */
  readonly status: () => string
  /** --tls-cert and --tls-key, re-read on SIGHUP. */
  readonly tlsFiles: TlsFiles | undefined
}

/** What the lifecycle's effects do in the daemon. */
function lifecycleEffects(parts: EffectParts): LifecycleEffects {
  const {
    app,
    log,
    services,
    auth,
    background,
    telemetry,
    inherited: { notifier, worker },
    status,
  } = parts
  return {
    // A worker's server never listened: its close() does not wait for the connections the
    // primary handed over (net.Server counts only those it accepted), so they are waited for here.
    closeServer: async () => {
      parts.keepAlive.drain()
      await app.close()
      await worker?.drained()
    },
    closeConnections: () => {
      app.server.closeAllConnections()
    },
    reopenLog: () => {
      log.reopen()
    },
    reload: async () => {
      await Promise.all([auth.authenticator?.reload(), reloadTls(app, parts)])
    },
    releaseResources: async () => {
      // Background hashing is not waited for: closing the readers fails what is queued or
      // running at once (a shutdown would otherwise wait for a window of files to be hashed).
      const backgroundStopped = background.stop()
      await services.close()
      await backgroundStopped
      await auth.close()
      await telemetry.close()
      // STOPPING=1 (and anything queued before it) reaches systemd before the process ends.
      await notifier.close()
    },
    flushLogs: () => log.flush(),
    ...lifecycleNotifications(notifier, status),
  }
}

/**
 * Re-read --tls-cert and --tls-key (a renewed certificate) and use them for new handshakes;
 * connections open already keep theirs. Files that cannot be used leave the old pair in place.
 */
async function reloadTls(app: FastifyInstance, parts: EffectParts): Promise<void> {
  const files = parts.tlsFiles
  const { logger } = parts.log
  // Fastify built an https.Server (a tls.Server) for --tls-cert: see buildApp's `https`.
  if (files === undefined || !(app.server instanceof TlsServer)) return
  try {
    const credentials = await loadTlsCredentials(files)
    app.server.setSecureContext({ cert: credentials.cert, key: credentials.key })
    logger.info({ cert: files.certFile }, 'Reloaded the TLS certificate (SIGHUP)')
  } catch (err) {
    logger.error(
      { err: err instanceof TlsError ? err.message : err },
      'Cannot reload the TLS certificate; keeping the one loaded before',
    )
  }
}

/** The all-problems message, paths relative to the eggdir. */
export function formatProblems(eggdir: string, problems: readonly LayoutProblem[]): string {
  const lines = problems.map((problem) => `  ${problem.message}`)
  return `The layout of ${problemCount(eggdir, problems.length)} (use --lenient to serve anyway, skipping these files):\n${lines.join('\n')}`
}
