// The daemon: load and validate the tree, build the app, listen, and shut down gracefully.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { FactsLog } from './analysis/facts-log.js'
import { buildApp, SHADOWED_FOLDERS } from './app.js'
import type { Config } from './config.js'
import type { LayoutProblem, LayoutReport } from './core/layout.js'
import { plural } from './core/plural.js'
import { distributionCount, emptyTreeWarning } from './core/tree-summary.js'
import { describeErrno, errnoCode, LayoutError, ListenError, StoreFailure } from './errors.js'
import { createLogger, type LoggerHandle } from './logger.js'
import { BackgroundWork } from './index/background.js'
import type { StorageBackend } from './storage/storage.js'
import { createAccessServices, indexServicesFor, type AccessServices, type IndexServices } from './services.js'
import { UploaderLog } from './upload/uploader-log.js'
import { UpstreamIndex } from './upstream/upstream-index.js'

// Temporary upload files this old are leftovers of a crash (a live upload writes every few seconds).
const STALE_UPLOAD_MS = 60 * 60_000

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
  const services = await indexServicesFor(config, logger)
  try {
    return await serve(config, log, services)
  } catch (err) {
    await services.close()
    throw err
  }
}

async function serve (config: Config, log: LoggerHandle, services: IndexServices): Promise<Daemon> {
  const { logger } = log
  const { index } = services
  const loadStarted = Date.now()
  const report = await index.load().catch((err: unknown) => {
    // The store's own message speaks to HTTP clients; at start-up the operator reads it.
    if (err instanceof StoreFailure) throw new LayoutError(`Cannot serve "${services.storage.location}" (${err.code}): ${err.message}`, { cause: err })
    throw err
  })
  if (report.problems.length > 0 && !config.lenient) {
    throw new LayoutError(formatProblems(services.storage.location, report.problems))
  }
  const security = await createAccessServices({
    passwordFile: config.passwordFile,
    authenticate: config.authenticate,
    authFailureLimit: config.authFailureLimit,
    logger,
  })
  try {
    return await listenAndServe({ config, log, services, security, report, loadStarted })
  } catch (err) {
    await security.close()
    throw err
  }
}

async function listenAndServe (options: {
  config: Config
  log: LoggerHandle
  services: IndexServices
  security: AccessServices
  report: LayoutReport
  loadStarted: number
}): Promise<Daemon> {
  const { config, log, services, security, report, loadStarted } = options
  const { logger } = log
  const { storage, index } = services
  const background = new BackgroundWork({ services, log: logger, reconcileIntervalMs: config.reconcileIntervalMs })
  const uploads = config.uploads === 'disabled' ? undefined : { maxBytes: config.maxUploadBytes, overwrite: config.overwrite }
  const app = await buildApp({
    index,
    storage,
    logger,
    hashAlgorithm: config.hashAlgorithm,
    simpleHashAlgorithm: config.simpleHashAlgorithm,
    cacheControl: config.cacheControl,
    readiness: () => background.readiness(),
    access: security.access,
    ...(uploads === undefined ? {} : { uploads }),
    ui: config.ui ? { remoteImages: config.uiRemoteImages } : false,
    uploaders: await UploaderLog.open({ dir: config.cacheDir, root: storage.cacheNamespace, log: logger }),
    publicUrl: config.publicUrl,
    trustProxy: config.trustProxy,
    ...(config.upstream.upstreams.length === 0 || config.cacheDir === undefined
      ? {}
      : { upstream: new UpstreamIndex({ index, config: config.upstream, cacheDir: config.cacheDir, log: logger }) }),
  })

  // Signals are handled from before listen(): a SIGTERM that arrives as soon as the first
  // log line is out must drain and exit 0, not kill the process with the default action.
  // One that arrives before start-up is complete waits for it, so that nothing (watching,
  // background hashing, a log line) starts after "Stopped".
  const state: { started: boolean; stopRequested: { signal: string | undefined } | undefined } = { started: false, stopRequested: undefined }
  let closing: Promise<void> | undefined
  let resolveClosed = (): void => undefined
  const closed = new Promise<void>((resolve) => { resolveClosed = resolve })
  const removeHandlers = (): void => {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    process.off('SIGHUP', onHangup)
  }
  const close = (signal?: string): Promise<void> => {
    if (!state.started) {
      state.stopRequested ??= { signal }
      return closed
    }
    if (closing !== undefined) {
      // A second signal while draining: stop waiting.
      app.server.closeAllConnections()
      return closing
    }
    closing = shutdown({ app, logger, graceMs: config.shutdownTimeoutMs, signal }).finally(async () => {
      // Background hashing is not waited for: closing the readers fails what is queued or
      // running at once (a shutdown would otherwise wait for a window of files to be hashed).
      const backgroundStopped = background.stop()
      await services.close()
      await backgroundStopped
      await security.close()
      removeHandlers()
      logger.info('Stopped')
      await log.flush()
      resolveClosed()
    })
    return closing
  }
  const onSignal = (signal: NodeJS.Signals): void => { void close(signal) }
  const onHangup = (): void => {
    log.reopen()
    logger.info('Reopened the log file (SIGHUP)')
    // Open connections are not touched: only later logins see the new users.
    if (security.authenticator !== undefined) void security.authenticator.reload()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGHUP', onHangup)

  let address: string
  try {
    // The first log line names the address actually bound (useful with --port 0).
    address = await app.listen({ port: config.port, host: config.host, listenTextResolver: (bound) => `eggserve listening on ${bound}` })
  } catch (err) {
    removeHandlers()
    await app.close()
    throw listenError(config, err)
  }
  // Fastify logs the bound address at info; with quieter logs, say it anyway: with --port 0
  // it is the only way to learn the port.
  if (['warn', 'error', 'fatal', 'silent'].includes(logger.level)) logger.child({}, { level: 'info' }).info(`eggserve listening on ${address}`)
  // The listening line is out first; what start-up logged before it follows.
  log.release()
  await startUploads(config, storage, logger)
  security.passwords?.warnWeak()

  for (const problem of report.problems) {
    logger.warn({ path: problem.path, code: problem.code }, `Skipping ${problem.message}`)
  }
  const empty = emptyTreeWarning(config.eggdir, report)
  if (empty !== undefined) logger.warn({ eggdir: config.eggdir }, empty)
  for (const { folder, project } of report.projects) {
    if (SHADOWED_FOLDERS.includes(project)) {
      logger.warn({ folder }, `Folder "${folder}/" is shadowed by the /${project}/ route; use /simple/${project}/ and /packages/${folder}/ for it`)
    }
  }
  index.watch()
  background.start()
  logger.info({
    eggdir: storage.location,
    projects: report.projects.length,
    files: distributionCount(report),
    scanMs: Date.now() - loadStarted,
    cached: services.facts.size,
    // null when there is none, or when it could not be used (a warning said why).
    cacheDir: services.facts instanceof FactsLog ? config.cacheDir ?? null : null,
    hashAlgorithm: config.hashAlgorithm,
    simpleHashAlgorithm: config.simpleHashAlgorithm,
    uploads: config.uploads,
    authenticate: config.authenticate,
    // Labels carry no credentials (parseUpstreamUrl removed them).
    upstreams: config.upstream.upstreams.map((upstream) => upstream.label),
    offline: config.upstream.offline,
  }, 'Serving')
  state.started = true
  if (state.stopRequested !== undefined) void close(state.stopRequested.signal)
  return { app, address, closed, close: () => close() }
}

// Start-up notes on uploads: leftovers of a crash removed, a loud warning when anyone may
// upload, and whether the storage refuses a second create-only write of one key.
async function startUploads (config: Config, storage: StorageBackend, logger: FastifyBaseLogger): Promise<void> {
  if (config.uploads === 'disabled') return
  if (config.uploads === 'open') {
    logger.warn({ authenticate: config.authenticate }, 'UPLOADS ARE OPEN TO ANYONE: every client that reaches this server may upload and remove packages (--authenticate does not include "update")')
  }
  try {
    const removed = await storage.sweepUploads(STALE_UPLOAD_MS)
    if (removed > 0) logger.info({ removed }, 'Removed temporary files of interrupted uploads')
  } catch (err) {
    logger.warn({ err }, 'Cannot look for temporary files of interrupted uploads')
  }
  await probeCreateOnly(storage, logger)
}

// Uploads from several servers sharing one store are safe only if the store refuses the
// second create-only write of a key (S3 If-None-Match: *); some S3-compatible servers ignore it.
async function probeCreateOnly (storage: StorageBackend, logger: FastifyBaseLogger): Promise<void> {
  try {
    const probe = await storage.probeConditionalWrites()
    if (probe.enforced) {
      logger.info({ conditionalWrites: 'enforced', detail: probe.detail }, 'The storage refuses a second create-only write of a file, as uploads from several servers need')
    } else {
      logger.warn({ conditionalWrites: 'ignored', detail: probe.detail }, `The storage at ${storage.location} does not enforce create-only writes: ${probe.detail}. Only one server may accept uploads for it; two could both publish the same filename with different bytes`)
    }
  } catch (err) {
    logger.warn({ err }, 'Cannot check whether the storage enforces create-only writes')
  }
}

async function shutdown (options: { app: FastifyInstance; logger: FastifyBaseLogger; graceMs: number; signal: string | undefined }): Promise<void> {
  const { app, logger, graceMs, signal } = options
  logger.info({ signal, graceMs }, 'Shutting down: no new connections; in-flight requests may finish')
  const timer = setTimeout(() => {
    logger.warn({ graceMs }, 'Grace period over: closing the remaining connections')
    app.server.closeAllConnections()
  }, graceMs)
  try {
    await app.close()
  } finally {
    clearTimeout(timer)
  }
}

/** The all-problems message, paths relative to the eggdir. */
export function formatProblems (eggdir: string, problems: readonly LayoutProblem[]): string {
  const lines = problems.map((problem) => `  ${problem.message}`)
  return `The layout of "${eggdir}" has ${plural(problems.length, 'problem')} (use --lenient to serve anyway, skipping these files):\n${lines.join('\n')}`
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
