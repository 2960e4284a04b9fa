// The daemon's wiring: load and validate the tree, build the app, listen, and hand stopping to
// the lifecycle (daemon/lifecycle.ts), whose effects are the parts built here.
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import type { Config } from './config.js'
import type { LayoutProblem, LayoutReport } from './core/layout.js'
import { problemCount } from './core/tree-summary.js'
import { Lifecycle, type LifecycleEffects } from './daemon/lifecycle.js'
import { logServing, logStartUpNotes } from './daemon/start-up-notes.js'
import { describeErrno, errnoCode, LayoutError, ListenError, StoreFailure } from './errors.js'
import { AccessControl } from './http/access-control.js'
import { createLogger, type LoggerHandle } from './logger.js'
import { BackgroundWork } from './index/background.js'
import { registerIndexMetrics } from './metrics/index-metrics.js'
import { openMetrics, type DaemonMetrics } from './metrics/serve-metrics.js'
import { createAuthServices, indexServicesFor, type AuthServices, type IndexServices } from './services.js'
import { UploaderLog } from './upload/uploader-log.js'
import { UpstreamIndex } from './upstream/upstream-index.js'

/** A running server. */
export interface Daemon {
  readonly app: FastifyInstance
  /** The bound address, e.g. http://127.0.0.1:31001. */
  readonly address: string
  /** Resolves when the server has stopped (after a signal or close()). */
  readonly closed: Promise<void>
  /** Stop gracefully, as SIGTERM does. */
  close (): Promise<void>
}

/** Start serving `config.eggdir`. Throws LayoutError or ListenError (nothing is left running then). */
export async function startDaemon (config: Config): Promise<Daemon> {
  const log = createLogger({ file: config.logFile, level: config.logLevel })
  try {
    return await start(config, log)
  } catch (err) {
    log.release()
    await log.flush()
    throw err
  }
}

async function start (config: Config, log: LoggerHandle): Promise<Daemon> {
  const { logger } = log
  const telemetry = await openMetrics(config.metrics, logger)
  const services = await indexServicesFor(config, logger, telemetry.metrics)
  try {
    return await serve(config, log, { services, telemetry })
  } catch (err) {
    await services.close()
    await telemetry.close()
    throw err
  }
}

async function serve (config: Config, log: LoggerHandle, parts: { services: IndexServices; telemetry: DaemonMetrics }): Promise<Daemon> {
  const { logger } = log
  const { services, telemetry } = parts
  const { index } = services
  const loadStarted = Date.now()
  const report = await index.load().catch((err: unknown) => {
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
    return await listenAndServe({ config, log, services, auth, report, loadStarted, telemetry })
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
}

async function listenAndServe (started: Started): Promise<Daemon> {
  const { config, log, services, auth, report, telemetry } = started
  const { logger } = log
  const background = new BackgroundWork({ services, log: logger, reconcileIntervalMs: config.reconcileIntervalMs, metrics: telemetry.metrics })
  registerIndexMetrics(telemetry.metrics, { index: services.index, hashed: services.reader.stats, readiness: () => background.readiness() })
  const app = await buildDaemonApp(started, background)
  const lifecycle = new Lifecycle({ logger, graceMs: config.shutdownTimeoutMs, effects: lifecycleEffects({ app, log, services, auth, background, telemetry }) })
  // Signals are handled from before listen() (see Lifecycle.handleSignals); one that arrives
  // before start-up is complete waits for it.
  lifecycle.handleSignals(process)
  const address = await listen(app, config, log).then(async (bound) => {
    await telemetry.listen()
    return bound
  }).catch(async (err: unknown) => {
    lifecycle.dispatch({ type: 'startFailed' })
    await app.close()
    throw err
  })
  const facts = { config, storage: services.storage, report, passwords: auth.passwords, logger }
  await logStartUpNotes(facts)
  services.index.watch()
  background.start()
  logServing({ ...facts, services, loadStarted: started.loadStarted })
  lifecycle.dispatch({ type: 'started' })
  return { app, address, closed: lifecycle.stopped, close: () => lifecycle.stop() }
}

async function buildDaemonApp (started: Started, background: BackgroundWork): Promise<FastifyInstance> {
  const { config, services: { storage, index }, auth, log: { logger }, telemetry } = started
  const uploads = config.uploads === 'disabled' ? undefined : { maxBytes: config.maxUploadBytes, overwrite: config.overwrite }
  return buildApp({
    index,
    storage,
    logger,
    hashAlgorithm: config.hashAlgorithm,
    simpleHashAlgorithm: config.simpleHashAlgorithm,
    cacheControl: config.cacheControl,
    readiness: () => background.readiness(),
    access: new AccessControl({ protect: config.authenticate, authenticator: auth.authenticator, throttle: auth.throttle, log: logger, metrics: telemetry.metrics }),
    ...(uploads === undefined ? {} : { uploads }),
    ui: config.ui ? { remoteImages: config.uiRemoteImages } : false,
    uploaders: await UploaderLog.open({ dir: config.cacheDir, root: storage.cacheNamespace, log: logger }),
    publicUrl: config.publicUrl,
    trustProxy: config.trustProxy,
    xAccelRedirect: config.xAccelRedirect,
    ...(telemetry.app === undefined ? {} : { metrics: telemetry.app }),
    ...(config.upstream.upstreams.length === 0 || config.cacheDir === undefined
      ? {}
      : { upstream: new UpstreamIndex({ index, config: config.upstream, cacheDir: config.cacheDir, log: logger }) }),
  })
}

/** Listen, log the bound address as the first line, then let the lines held during start-up out. */
async function listen (app: FastifyInstance, config: Config, log: LoggerHandle): Promise<string> {
  const { logger } = log
  let address: string
  try {
    // The first log line names the address actually bound (useful with --port 0).
    address = await app.listen({ port: config.port, host: config.host, listenTextResolver: (bound) => log.firstLine(`eggserve listening on ${bound}`) })
  } catch (err) {
    throw listenError(config, err)
  }
  // Fastify logs the bound address at info; with quieter logs, say it anyway: with --port 0
  // it is the only way to learn the port.
  if (['warn', 'error', 'fatal', 'silent'].includes(logger.level)) logger.child({}, { level: 'info' }).info(log.firstLine(`eggserve listening on ${address}`))
  log.release()
  return address
}

/** What the lifecycle's effects do in the daemon. */
function lifecycleEffects (parts: { app: FastifyInstance; log: LoggerHandle; services: IndexServices; auth: AuthServices; background: BackgroundWork; telemetry: DaemonMetrics }): LifecycleEffects {
  const { app, log, services, auth, background, telemetry } = parts
  return {
    closeServer: () => app.close(),
    closeConnections: () => { app.server.closeAllConnections() },
    reopenLog: () => { log.reopen() },
    reload: () => { if (auth.authenticator !== undefined) void auth.authenticator.reload() },
    releaseResources: async () => {
      // Background hashing is not waited for: closing the readers fails what is queued or
      // running at once (a shutdown would otherwise wait for a window of files to be hashed).
      const backgroundStopped = background.stop()
      await services.close()
      await backgroundStopped
      await auth.close()
      await telemetry.close()
    },
    flushLogs: () => log.flush(),
  }
}

/** The all-problems message, paths relative to the eggdir. */
export function formatProblems (eggdir: string, problems: readonly LayoutProblem[]): string {
  const lines = problems.map((problem) => `  ${problem.message}`)
  return `The layout of ${problemCount(eggdir, problems.length)} (use --lenient to serve anyway, skipping these files):\n${lines.join('\n')}`
}

function listenError (config: Config, err: unknown): ListenError {
  const where = `${config.host}:${config.port}`
  switch (errnoCode(err)) {
    case 'EADDRINUSE': return new ListenError(`Cannot listen on ${where}: the port is already in use`, { cause: err })
    case 'EACCES': return new ListenError(`Cannot listen on ${where}: permission denied (ports below 1024 need privileges)`, { cause: err })
    case 'EADDRNOTAVAIL': return new ListenError(`Cannot listen on ${where}: the address is not available on this machine`, { cause: err })
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return new ListenError(`Cannot listen on ${where}: unknown host`, { cause: err })
    default: {
      // A failed system call in words; anything else (none is known) with its own message.
      const reason = err instanceof Error && 'syscall' in err ? describeErrno(err) : err instanceof Error ? err.message : String(err)
      return new ListenError(`Cannot listen on ${where}: ${reason}`, { cause: err })
    }
  }
}
