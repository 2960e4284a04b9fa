// The one pino logger: JSON lines to stdout, or appended to a file that SIGHUP can reopen.
import { closeSync, openSync } from 'node:fs'
import type { FastifyBaseLogger } from 'fastify'
import { pino, type Level } from 'pino'
import { AppError, describeErrno } from './errors.js'

/** The logger with the controls the daemon needs. */
export interface LoggerHandle {
  readonly logger: FastifyBaseLogger
  /** Reopen the log file (after logrotate moved it); a no-op for stdout. */
  reopen (): void
  /** Write out what is buffered, giving up after `timeoutMs` (a reader that went away must not block the exit). */
  flush (timeoutMs?: number): Promise<void>
  /**
   * Let held lines out. Until then lines logged during start-up (a cache directory that
   * cannot be used, a symlink leading out) are held, so that the first line is the one
   * naming the bound address; that line goes first, then the others in order.
   */
  release (): void
}

// The line Fastify logs when it listens (daemon.ts sets the text).
const LISTENING = '"msg":"eggserve listening on '

/** Create the logger. A log file that cannot be opened fails here, with a clear message. */
export function createLogger (options: { file?: string | undefined; level: Level }): LoggerHandle {
  if (options.file !== undefined) {
    try {
      // Open once synchronously so a bad path is reported now, not as an asynchronous crash later.
      closeSync(openSync(options.file, 'a'))
    } catch (err) {
      throw new AppError('EGGSERVE_LOG_FILE', `Cannot open log file "${options.file}": ${describeErrno(err)}`, { cause: err })
    }
  }
  const destination = pino.destination({ dest: options.file ?? 1, append: true, sync: false, minLength: 0 })
  // A log reader that went away (EPIPE) or a full disk must not crash the server: logging
  // stops, serving goes on. Without a listener, the 'error' event would be an uncaught exception.
  let broken = false
  destination.on('error', () => { broken = true })
  let held: string[] | undefined = []
  const gate = {
    write: (line: string): void => {
      if (held === undefined) destination.write(line)
      else held.push(line)
    },
  }
  const logger: FastifyBaseLogger = pino({ level: options.level, base: { pid: process.pid } }, gate)
  return {
    logger,
    release: () => {
      if (held === undefined) return
      const lines = held
      held = undefined
      const first = lines.findIndex((line) => line.includes(LISTENING))
      if (first > 0) lines.unshift(...lines.splice(first, 1))
      for (const line of lines) destination.write(line)
    },
    reopen: () => {
      if (options.file !== undefined && !broken) destination.reopen()
    },
    flush: (timeoutMs = 1000) => new Promise<void>((resolve) => {
      // Not flushSync(): sonic-boom 4 retries a failed synchronous write (EPIPE included) for ever.
      if (broken) {
        resolve()
        return
      }
      const timer = setTimeout(resolve, timeoutMs)
      destination.flush(() => {
        clearTimeout(timer)
        resolve()
      })
    }),
  }
}
