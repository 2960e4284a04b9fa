// Where commands write: stdout and stderr, injected so tests can capture them.
import type { FastifyBaseLogger } from 'fastify'
import { pino, type Level } from 'pino'
import { createLogger } from '../logger.js'

/** Text outputs of a command, and whether stderr is a terminal (progress bars). */
export interface Output {
  out: (text: string) => void
  err: (text: string) => void
  readonly isTTY?: boolean
}

const LABELS: Readonly<Record<number, string>> = { 40: 'warning', 50: 'error', 60: 'fatal' }

/**
 * A logger for a command that writes plain text: its warnings and errors become
 * `eggserve: warning: <message>` lines on stderr, like the command's own messages, instead of
 * JSON records mixed into them. Quieter records (progress the command reports itself) are dropped.
 */
export function plainTextLogger(output: Output, level: Level): FastifyBaseLogger {
  const { values } = pino.levels
  const atLeastWarn = (values[level] ?? 0) >= (values.warn ?? 40) ? level : 'warn'
  return pino(
    { level: atLeastWarn, base: null },
    {
      write: (line: string) => {
        const record: unknown = JSON.parse(line)
        if (typeof record !== 'object' || record === null) return
        const label = 'level' in record && typeof record.level === 'number' ? LABELS[record.level] : undefined
        const msg = 'msg' in record && typeof record.msg === 'string' ? record.msg : ''
        output.err(`eggserve: ${label ?? 'warning'}: ${msg}\n`)
      },
    },
  )
}

/**
 * The log of a command: with --log FILE, JSON records written there as the server writes them;
 * else plainTextLogger's lines on stderr. Call flush() before the command returns.
 */
export function commandLog(
  config: { readonly logFile: string | undefined; readonly logLevel: Level },
  output: Output,
): { readonly logger: FastifyBaseLogger; readonly flush: () => Promise<void> } {
  // Plain lines go straight to the output: nothing is buffered.
  if (config.logFile === undefined)
    return { logger: plainTextLogger(output, config.logLevel), flush: () => Promise.resolve() }
  const file = createLogger({ file: config.logFile, level: config.logLevel })
  file.release()
  return { logger: file.logger, flush: () => file.flush() }
}
