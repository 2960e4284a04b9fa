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
   * Mark `message` as the one the log opens with. Until release(), lines are held (start-up
   * logs a cache directory that cannot be used or a symlink leading out before it knows the
   * address it will listen on); then the first line logged with exactly this message, as the
   * message alone (`info(message)`), by this logger or any child of it (Fastify's included),
   * goes out before them. Returns `message`, to hand to whoever logs it (Fastify's
   * listenTextResolver). After release() it marks nothing.
   */
  firstLine (message: string): string
  /** Let the held lines out: the one firstLine() marked, if it was logged, then the others in order. */
  release (): void
}

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
  const firstMessages = new Set<string>()
  // Set while pino writes the line of a marked message: pino serializes and writes a line
  // synchronously inside the log call, so the next write is that line.
  let marking = false
  let first: string | undefined
  const gate = {
    write: (line: string): void => {
      if (held === undefined) destination.write(line)
      else if (marking && first === undefined) first = line
      else held.push(line)
    },
  }
  const logger: FastifyBaseLogger = pino({
    level: options.level,
    base: { pid: process.pid },
    hooks: {
      // Called for every log call at an enabled level, children's included, before pino writes.
      logMethod (args, method) {
        const [message] = args
        if (held === undefined || args.length !== 1 || typeof message !== 'string' || !firstMessages.has(message)) {
          method.apply(this, args)
          return
        }
        marking = true
        try {
          method.apply(this, args)
        } finally {
          marking = false
        }
      },
    },
  }, gate)
  return {
    logger,
    firstLine: (message) => {
      if (held !== undefined) firstMessages.add(message)
      return message
    },
    release: () => {
      if (held === undefined) return
      const lines = first === undefined ? held : [first, ...held]
      held = undefined
      firstMessages.clear()
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
