// Errors as data: a stable code from the registry (error-codes.ts, documented in docs/errors.md)
// and, through it, an HTTP status where one applies.
import { getSystemErrorMap } from 'node:util'
import { errorSpec, isErrorCode, type ErrorCode } from './error-codes.js'

/** Some of the registry's codes: a name that is not in it does not compile (unlike Extract<>). */
type CodesOf<T extends ErrorCode> = T

/** What an error may carry besides its message. */
export interface AppErrorOptions {
  /** The error behind it (a system error, an SDK failure in words): logged, never sent to clients. */
  readonly cause?: unknown
  /** Facts for the operator's log, e.g. an S3 request id; never sent to clients. */
  readonly details?: Readonly<Record<string, unknown>>
}

/**
 * Base of every error eggserve raises on purpose: its status and exposure come from the
 * registry. Code that throws one does not log it: whoever handles the failure logs it, once,
 * with its cause and details (for a request, the error handler).
 */
export class AppError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number | undefined
  /** True when the message may be shown to HTTP clients even for a 5xx (it names no path and no secret). */
  readonly expose: boolean
  readonly details?: Readonly<Record<string, unknown>>

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    // The type system keeps typos out of TypeScript; this keeps them out of anything else.
    if (!isErrorCode(code))
      throw new TypeError(`${String(code)} is not in the registry of error codes (src/error-codes.ts)`)
    this.name = new.target.name
    this.code = code
    const spec = errorSpec(code)
    this.statusCode = spec.status
    this.expose = spec.expose
    if (options.details !== undefined) this.details = options.details
  }
}

/** A bad flag or environment value (exit code 2). */
export class ConfigError extends AppError {
  constructor(message: string) {
    super('EGGSERVE_CONFIG', message)
  }
}

/** The eggdir is missing, unreadable or badly laid out (exit code 1). */
export class LayoutError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EGGSERVE_LAYOUT', message, options)
  }
}

/** The server could not listen (exit code 1). */
export class ListenError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EGGSERVE_LISTEN', message, options)
  }
}

/** The TLS certificate or key cannot be read or used (exit code 1 at start-up). */
export class TlsError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EGGSERVE_TLS', message, options)
  }
}

/** The password file is missing, unreadable or holds an entry eggserve refuses (exit code 1 at start-up). */
export class PasswordFileError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EGGSERVE_PASSWORDS', message, options)
  }
}

/** A storage operation failed for a reason other than "not there"; its message names no absolute path. */
export class StorageError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('EGGSERVE_STORAGE', message, options)
  }
}

/**
 * The stored file is no longer the version it was opened as (replaced or removed since): its
 * bytes are gone, and the store refused to send others (an If-Match GET answered 412 or 404).
 */
export class FileChangedError extends StorageError {}

/** 404: the index does not know this project, release or file. */
export class NotFoundError extends AppError {
  constructor(message = 'Not Found') {
    super('EGGSERVE_NOT_FOUND', message)
  }
}

/** Codes of refused requests. */
export type RejectionCode = CodesOf<
  | 'EGGSERVE_BAD_UPLOAD'
  | 'EGGSERVE_FILE_EXISTS'
  | 'EGGSERVE_GONE'
  | 'EGGSERVE_TOO_LARGE'
  | 'EGGSERVE_UPLOAD_TIMEOUT'
  | 'EGGSERVE_UPLOAD_ABORTED'
  | 'EGGSERVE_UPLOADS_DISABLED'
  | 'EGGSERVE_UNAUTHORIZED'
  | 'EGGSERVE_THROTTLED'
  | 'EGGSERVE_AUTH_BUSY'
>

/**
 * A request eggserve refuses, with a one-line reason that goes into the body and the reason
 * phrase, and the headers the refusal needs (WWW-Authenticate, Retry-After, Allow).
 */
export class RequestRejected extends AppError {
  readonly headers: Readonly<Record<string, string>>

  constructor(code: RejectionCode, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(code, message)
    this.headers = headers
  }
}

/** Codes of failed writes the operator can fix: a full disk, a read-only filesystem, missing permissions. */
export type WriteFailureCode = CodesOf<'EGGSERVE_DISK_FULL' | 'EGGSERVE_READ_ONLY' | 'EGGSERVE_WRITE_DENIED'>

/**
 * Writing to the eggdir failed in a way the operator can fix. The message is safe to show to
 * clients (it names no path), so uploaders see why instead of a bare 500.
 */
export class WriteFailure extends AppError {
  constructor(code: WriteFailureCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
  }
}

const STORE_FAILURES = [
  'EGGSERVE_STORE_UNAVAILABLE',
  'EGGSERVE_STORE_THROTTLED',
  'EGGSERVE_STORE_DENIED',
  'EGGSERVE_STORE_MISSING',
  'EGGSERVE_STORE_CONFIG',
  'EGGSERVE_STORE_UNSAFE',
] as const satisfies readonly ErrorCode[]

/** Codes of a remote store (S3) failing in a way the operator must know about. */
export type StoreFailureCode = (typeof STORE_FAILURES)[number]

/**
 * The object store could not be used: unreachable or timing out, throttling after the retries,
 * refusing this server's credentials, or without the bucket. The message is written for
 * clients (it names no bucket, key, endpoint or credential); its cause and details, for the
 * log, say more. Transient failures carry the registry's Retry-After (RFC 9110 §15.6.4, §10.2.3).
 */
export class StoreFailure extends AppError {
  /** Headers the answer carries (Retry-After for transient failures). */
  readonly headers: Readonly<Record<string, string>>

  constructor(code: StoreFailureCode, message: string, options: AppErrorOptions = {}) {
    super(code, message, options)
    const retryAfter = errorSpec(code).retryAfterSeconds
    this.headers = retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) }
  }
}

/** True when `code` is one of StoreFailure's (also for errors rebuilt from a worker thread's message). */
export function isStoreFailureCode(code: string): code is StoreFailureCode {
  return STORE_FAILURES.some((candidate) => candidate === code)
}

/**
 * True for the system errors that mean "not there": ENOENT (no such entry) and ENOTDIR (a file
 * where a folder was expected). Anything else (EACCES, EIO...) means "cannot look", an error.
 */
export function isAbsent(err: unknown): boolean {
  const code = errnoCode(err)
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/** Narrow an unknown thrown value to a Node system error with a code. */
export function errnoCode(err: unknown): string | undefined {
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
export function describeErrno(err: unknown, wanted?: 'file' | 'directory'): string {
  const code = errnoCode(err)
  if (code === undefined) return 'unexpected error'
  if (code === 'ENOENT' && wanted !== undefined) return `no such ${wanted}`
  const words = WORDS[code]
  if (words !== undefined) return words
  systemWords ??= new Map([...getSystemErrorMap().values()])
  return systemWords.get(code) ?? `unexpected error (${code})`
}
