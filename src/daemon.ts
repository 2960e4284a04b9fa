// The daemon: load and validate the tree, build the app, listen, and shut down gracefully.
import { availableParallelism } from 'node:os'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { buildApp, SHADOWED_FOLDERS } from './app.js'
import type { Config } from './config.js'
import type { LayoutProblem } from './core/layout.js'
import { errnoCode, LayoutError, ListenError } from './errors.js'
import { createLogger, type LoggerHandle } from './logger.js'
import { BackgroundWork } from './index/background.js'
import { createIndexServices, type IndexServices } from './services.js'

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
    await log.flush()
    throw err
  }
}

async function start (config: Config, log: LoggerHandle): Promise<Daemon> {
  const { logger } = log
  const services = await createIndexServices({
    eggdir: config.eggdir,
    hashAlgorithm: config.hashAlgorithm,
    logger,
    workers: config.hashWorkers === 'auto' ? availableParallelism() : config.hashWorkers,
    cacheDir: config.cacheDir,
  })
  try {
    return await serve(config, log, services)
  } catch (err) {
    await services.close()
    throw err
  }
}

async function serve (config: Config, log: LoggerHandle, services: IndexServices): Promise<Daemon> {
  const { logger } = log
  const { storage, index } = services
  const loadStarted = Date.now()
  const report = await index.load()
  if (report.problems.length > 0 && !config.lenient) {
    throw new LayoutError(formatProblems(config.eggdir, report.problems))
  }
  const background = new BackgroundWork({ services, log: logger, reconcileIntervalMs: config.reconcileIntervalMs })
  const app = await buildApp({
    index,
    storage,
    logger,
    hashAlgorithm: config.hashAlgorithm,
    cacheControl: config.cacheControl,
    readiness: () => background.readiness(),
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
  if (state.stopRequested) void close('SIGTERM')

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
  }, 'Serving')
  return { app, address, closed, close: () => close() }
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
