// The one pino logger: JSON lines to stdout, or appended to a file that SIGHUP can reopen.
import { closeSync, openSync } from 'node:fs'
import type { FastifyBaseLogger } from 'fastify'
import { pino, type Level } from 'pino'
import { AppError, describeErrno } from './errors.js'

/** The logger with the controls the daemon needs. */
export interface LoggerHandle {
  readonly logger: FastifyBaseLogger
  /** Reopen the log file (after logrotate moved it); a no-op for stdout. */
  reopen(): void
  /** Write out what is buffered, giving up after `timeoutMs` (a reader that went away must not block the exit). */
  flush(timeoutMs?: number): Promise<void>
  /**
   * Mark `message` as the one the log opens with. Until release(), lines are held (start-up
   * logs a cache directory that cannot be used or a symlink leading out before it knows the
   * address it will listen on); then the first line logged with exactly this message, as the
   * message alone (`info(message)`), by this logger or any child of it (Fastify's included),
   * goes out before them. Returns `message`, to hand to whoever logs it (Fastify's
   * listenTextResolver). After release() it marks nothing.
   */
  firstLine(message: string): string
  /** Let the held lines out: the one firstLine() marked, if it was logged, then the others in order. */
  release(): void
}

/** Create the logger. A log file that cannot be opened fails here, with a clear message. */
export function createLogger(options: { file?: string | undefined; level: Level }): LoggerHandle {
  if (options.file !== undefined) {
    try {
      // Open once synchronously so a bad path is reported now, not as an asynchronous crash later.
      closeSync(openSync(options.file, 'a'))
    } catch (err) {
      throw new AppError('EGGSERVE_LOG_FILE', `Cannot open log file "${options.file}": ${describeErrno(err)}`, {
        cause: err,
      })
    }
  }
  const destination = pino.destination({ dest: options.file ?? 1, append: true, sync: false, minLength: 0 })
  // A log reader that went away (EPIPE) or a full disk must not crash the server: logging
  // stops, serving goes on. Without a listener, the 'error' event would be an uncaught exception.
  let broken = false
  destination.on('error', () => {
    broken = true
  })
  const hold = new HeldLines(destination)
  const logger: FastifyBaseLogger = pino(
    {
      level: options.level,
      base: { pid: process.pid },
      hooks: {
        // Called for every log call at an enabled level, children's included, before pino writes.
        logMethod(args, method) {
          hold.logging(args, () => {
            method.apply(this, args)
          })
        },
      },
    },
    hold,
  )
  return {
    logger,
    firstLine: (message) => hold.mark(message),
    release: () => {
      hold.release()
    },
    reopen: () => {
      if (options.file !== undefined && !broken) destination.reopen()
    },
    flush: (timeoutMs = 1000) =>
      new Promise<void>((resolve) => {
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

/**
 * pino's stream during start-up: lines are held until release(), and the line of a message
 * marked with mark() goes out before them. Afterwards lines go straight to the destination.
 */
class HeldLines {
  readonly #destination: { write(line: string): unknown }
  #held: string[] | undefined = []
  #first: string | undefined
  readonly #marked = new Set<string>()
  // Set while pino logs a marked message: pino serializes and writes a line synchronously
  // inside the log call, so the write that comes meanwhile is that message's line.
  #marking = false

  constructor(destination: { write(line: string): unknown }) {
    this.#destination = destination
  }

  write(line: string): void {
    if (this.#held === undefined) this.#destination.write(line)
    else if (this.#marking && this.#first === undefined) this.#first = line
    else this.#held.push(line)
  }

  mark(message: string): string {
    if (this.#held !== undefined) this.#marked.add(message)
    return message
  }

  /** Run `log`, pino's log call of `args`, noting whether it logs a marked message alone. */
  logging(args: readonly unknown[], log: () => void): void {
    const [message] = args
    if (this.#held === undefined || args.length !== 1 || typeof message !== 'string' || !this.#marked.has(message)) {
      log()
      return
    }
    this.#marking = true
    try {
      log()
    } finally {
      this.#marking = false
    }
  }

  release(): void {
    if (this.#held === undefined) return
    const lines = this.#first === undefined ? this.#held : [this.#first, ...this.#held]
    this.#held = undefined
    this.#marked.clear()
    for (const line of lines) this.#destination.write(line)
  }
}
