// The one pino logger: JSON lines to stdout, or appended to a file that SIGHUP can reopen.
import { closeSync, openSync } from 'node:fs'
import type { FastifyBaseLogger } from 'fastify'
import { pino, type Level } from 'pino'
import { AppError, errnoCode } from './errors.js'

/** The logger with the controls the daemon needs. */
export interface LoggerHandle {
  readonly logger: FastifyBaseLogger
  /** Reopen the log file (after logrotate moved it); a no-op for stdout. */
  reopen (): void
  /** Write out anything buffered; call before exiting. */
  flush (): void
}

/** Create the logger. A log file that cannot be opened fails here, with a clear message. */
export function createLogger (options: { file?: string | undefined; level: Level }): LoggerHandle {
  if (options.file !== undefined) {
    try {
      // Open once synchronously so a bad path is reported now, not as an asynchronous crash later.
      closeSync(openSync(options.file, 'a'))
    } catch (err) {
      throw new AppError('EGGSERVE_LOG_FILE', `Cannot open log file "${options.file}": ${errnoCode(err) ?? 'error'}`, { cause: err })
    }
  }
  const destination = pino.destination({ dest: options.file ?? 1, append: true, sync: false, minLength: 0 })
  const logger: FastifyBaseLogger = pino({ level: options.level, base: { pid: process.pid } }, destination)
  return {
    logger,
    reopen: () => {
      if (options.file !== undefined) destination.reopen()
    },
    flush: () => {
      try {
        destination.flushSync()
      } catch {
        // Nothing buffered, or the stream is already closed.
      }
    },
  }
}
