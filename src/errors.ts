// Errors as data: a stable code (documented in the README), an HTTP status where one applies.
import { getSystemErrorMap } from 'node:util'

/** Base of every error eggserve raises on purpose. */
export class AppError extends Error {
  readonly code: string
  readonly statusCode: number | undefined
  /** True when the message may be shown to HTTP clients even for a 5xx (it names no path and no secret). */
  readonly expose: boolean

  constructor (code: string, message: string, options: { statusCode?: number; cause?: unknown; expose?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.statusCode = options.statusCode
    this.expose = options.expose ?? (options.statusCode !== undefined && options.statusCode < 500)
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

/** The password file is missing, unreadable or holds an entry eggserve refuses (exit code 1 at start-up). */
export class PasswordFileError extends AppError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('EGGSERVE_PASSWORDS', message, options)
  }
}

/** A storage operation failed for a reason other than "not there"; its message names no absolute path. */
export class StorageError extends AppError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('EGGSERVE_STORAGE', message, { statusCode: 500, ...options })
  }
}

/** Codes of failed writes the operator can fix: a full disk, a read-only filesystem, missing permissions. */
export type WriteFailureCode = 'EGGSERVE_DISK_FULL' | 'EGGSERVE_READ_ONLY' | 'EGGSERVE_WRITE_DENIED'

/**
 * Writing to the eggdir failed in a way the operator can fix. The message is safe to show to
 * clients (it names no path), so uploaders see why instead of a bare 500.
 */
export class WriteFailure extends AppError {
  constructor (code: WriteFailureCode, message: string, options: { cause?: unknown } = {}) {
    // RFC 4918 §11.5: 507 Insufficient Storage for a full disk; the others are plain server faults.
    super(code, message, { statusCode: code === 'EGGSERVE_DISK_FULL' ? 507 : 500, expose: true, ...options })
  }
}

/** Codes of a remote store (S3) failing in a way the operator must know about. */
export type StoreFailureCode =
  | 'EGGSERVE_STORE_UNAVAILABLE'
  | 'EGGSERVE_STORE_THROTTLED'
  | 'EGGSERVE_STORE_DENIED'
  | 'EGGSERVE_STORE_MISSING'
  | 'EGGSERVE_STORE_CONFIG'

/**
 * The object store could not be used: unreachable or timing out, throttling after the retries,
 * refusing this server's credentials, or without the bucket. The message is written for
 * clients (it names no bucket, key, endpoint or credential); the details are in the log.
 * Transient failures are 503 with Retry-After (RFC 9110 §15.6.4, §10.2.3).
 */
export class StoreFailure extends AppError {
  /** Headers the answer carries (Retry-After for transient failures). */
  readonly headers: Readonly<Record<string, string>>

  constructor (code: StoreFailureCode, message: string, options: { retryAfterSeconds?: number } = {}) {
    const transient = options.retryAfterSeconds !== undefined
    super(code, message, { statusCode: transient ? 503 : 500, expose: true })
    this.headers = transient ? { 'retry-after': String(options.retryAfterSeconds) } : {}
  }
}

/** True when `code` is one of StoreFailure's (also for errors rebuilt from a worker thread's message). */
export function isStoreFailureCode (code: string): code is StoreFailureCode {
  return code.startsWith('EGGSERVE_STORE_')
}

/** Narrow an unknown thrown value to a Node system error with a code. */
export function errnoCode (err: unknown): string | undefined {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code
  return undefined
}

// Where libuv's own wording reads oddly in a sentence, or two codes mean the same to an operator.
const WORDS: Readonly<Record<string, string>> = {
  EPERM: 'permission denied',
  EIO: 'input/output error',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENFILE: 'too many open files',
  EDQUOT: 'disk quota exceeded',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'unknown host',
}

let systemWords: Map<string, string> | undefined

/**
 * A failed system call in words, for messages people read (the one errno→words mapping):
 * `ENOENT` becomes "no such file or directory" ("no such file" or "no such directory" when
 * the caller knows which it wanted), `EACCES` and `EPERM` "permission denied", and any other
 * code libuv's description. Never a bare errno code.
 * @example describeErrno(Object.assign(new Error(), { code: 'EACCES' })) // "permission denied"
 */
export function describeErrno (err: unknown, wanted?: 'file' | 'directory'): string {
  const code = errnoCode(err)
  if (code === undefined) return 'unexpected error'
  if (code === 'ENOENT' && wanted !== undefined) return `no such ${wanted}`
  const words = WORDS[code]
  if (words !== undefined) return words
  systemWords ??= new Map([...getSystemErrorMap().values()])
  return systemWords.get(code) ?? `unexpected error (${code})`
}
