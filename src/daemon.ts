// The daemon: load and validate the tree, build the app, listen, and shut down gracefully.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { buildApp, SHADOWED_FOLDERS } from './app.js'
import type { Config } from './config.js'
import type { LayoutProblem, LayoutReport } from './core/layout.js'
import { errnoCode, LayoutError, ListenError } from './errors.js'
import { createLogger, type LoggerHandle } from './logger.js'
import { BackgroundWork } from './index/background.js'
import type { LocalStorage } from './storage/local-storage.js'
import { createAccessServices, indexServicesFor, type AccessServices, type IndexServices } from './services.js'

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
  const report = await index.load()
  if (report.problems.length > 0 && !config.lenient) {
    throw new LayoutError(formatProblems(config.eggdir, report.problems))
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
    cacheControl: config.cacheControl,
    readiness: () => background.readiness(),
    access: security.access,
    ...(uploads === undefined ? {} : { uploads }),
    publicUrl: config.publicUrl,
    trustProxy: config.trustProxy,
  })

  // Signals are handled from before listen(): a SIGTERM that arrives as soon as the first
  // log line is out must drain and exit 0, not kill the process with the default action.
  const state = { listening: false, stopRequested: false }
  let closing: Promise<void> | undefined
  let resolveClosed = (): void => undefined
  const closed = new Promise<void>((resolve) => { resolveClosed = resolve })
  const removeHandlers = (): void => {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    process.off('SIGHUP', onHangup)
  }
  const close = (signal?: string): Promise<void> => {
    if (!state.listening) {
      state.stopRequested = true
      return closed
    }
    if (closing !== undefined) {
      // A second signal while draining: stop waiting.
      app.server.closeAllConnections()
      return closing
    }
    closing = shutdown({ app, logger, graceMs: config.shutdownTimeoutMs, signal }).finally(async () => {
      await background.stop()
      await services.close()
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
  state.listening = true
  // Fastify logs the bound address at info; with quieter logs, say it anyway: with --port 0
  // it is the only way to learn the port.
  if (['warn', 'error', 'fatal', 'silent'].includes(logger.level)) logger.child({}, { level: 'info' }).info(`eggserve listening on ${address}`)
  // The listening line is out first; what start-up logged before it follows.
  log.release()
  if (state.stopRequested) void close('SIGTERM')
  await startUploads(config, storage, logger)
  security.passwords?.warnWeak()

  for (const problem of report.problems) {
    logger.warn({ path: problem.path, code: problem.code }, `Skipping ${problem.message}`)
  }
  for (const { folder, project } of report.projects) {
    if (SHADOWED_FOLDERS.includes(project)) {
      logger.warn({ folder }, `Folder "${folder}/" is shadowed by the /${project}/ route; use /simple/${project}/ and /packages/${folder}/ for it`)
    }
  }
  index.watch()
  background.start()
  logger.info({
    eggdir: config.eggdir,
    projects: report.projects.length,
    files: report.projects.reduce((sum, project) => sum + project.files.length, 0),
    scanMs: Date.now() - loadStarted,
    cached: services.facts.size,
    cacheDir: config.cacheDir ?? null,
    hashAlgorithm: config.hashAlgorithm,
    uploads: config.uploads,
    authenticate: config.authenticate,
  }, 'Serving')
  return { app, address, closed, close: () => close() }
}

// Start-up notes on uploads: leftovers of a crash removed, and a loud warning when anyone may upload.
async function startUploads (config: Config, storage: LocalStorage, logger: FastifyBaseLogger): Promise<void> {
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
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
  return `The layout of "${eggdir}" has ${count} (use --lenient to serve anyway, skipping these files):\n${lines.join('\n')}`
}

function listenError (config: Config, err: unknown): ListenError {
  const where = `${config.host}:${config.port}`
  switch (errnoCode(err)) {
    case 'EADDRINUSE': return new ListenError(`Cannot listen on ${where}: the port is already in use`, { cause: err })
    case 'EACCES': return new ListenError(`Cannot listen on ${where}: permission denied (ports below 1024 need privileges)`, { cause: err })
    case 'EADDRNOTAVAIL': return new ListenError(`Cannot listen on ${where}: the address is not available on this machine`, { cause: err })
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return new ListenError(`Cannot listen on ${where}: unknown host`, { cause: err })
    default: return new ListenError(`Cannot listen on ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}
