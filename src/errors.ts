// Errors as data: a stable code (documented in the README), an HTTP status where one applies.

/** Base of every error eggserve raises on purpose. */
export class AppError extends Error {
  readonly code: string
  readonly statusCode: number | undefined

  constructor (code: string, message: string, options: { statusCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.statusCode = options.statusCode
  }
}

/** A bad flag or environment value (exit code 2). */
export class ConfigError extends AppError {
  constructor (message: string) {
    super('EGGSERVE_CONFIG', message)
  }
}

/** The eggdir is missing, unreadable or badly laid out (exit code 1). */
export class LayoutError extends AppError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('EGGSERVE_LAYOUT', message, options)
  }
}

/** The server could not listen (exit code 1). */
export class ListenError extends AppError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('EGGSERVE_LISTEN', message, options)
  }
}

/** A storage operation failed for a reason other than "not there"; its message names no absolute path. */
export class StorageError extends AppError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('EGGSERVE_STORAGE', message, { statusCode: 500, ...options })
  }
}

/** Narrow an unknown thrown value to a Node system error with a code. */
export function errnoCode (err: unknown): string | undefined {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code
  return undefined
}
