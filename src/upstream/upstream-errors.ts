// The errors of the upstream proxy; their codes are in the registry (src/error-codes.ts).
import type { ErrorCode } from '../error-codes.js'
import { errorSpec } from '../error-codes.js'
import { AppError, type AppErrorOptions } from '../errors.js'

/** Codes of upstream failures a client can meet (a code missing from the registry does not compile here, unlike Extract<>). */
export type UpstreamFailureCode = RegistryCodes<
  'EGGSERVE_UPSTREAM_UNAVAILABLE' | 'EGGSERVE_UPSTREAM_BAD_FILE' | 'EGGSERVE_UPSTREAM_OFFLINE'
>
type RegistryCodes<T extends ErrorCode> = T

/**
 * An upstream failure as a client sees it. The message is written for clients: it names no
 * upstream URL and no credential (the log has the details).
 */
export class UpstreamFailure extends AppError {
  readonly headers: Readonly<Record<string, string>>

  constructor(code: UpstreamFailureCode, message: string, options: AppErrorOptions = {}) {
    super(code, message, options)
    // RFC 9110 §10.2.3: how long clients should wait before trying again.
    const retryAfter = errorSpec(code).retryAfterSeconds
    this.headers = retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) }
  }
}

/** Why one request to an upstream failed (for the breaker, the log and stale serving). */
export type FetchFailureKind =
  | 'connect-timeout'
  | 'first-byte-timeout'
  | 'idle-timeout'
  | 'network'
  | 'too-large'
  | 'redirect'
  | 'status'
  | 'bad-page'
  | 'breaker-open'
  /** The bytes do not match the page's digest. */
  | 'digest'
  /** Fewer or more bytes than announced. */
  | 'length'

/** A request to an upstream failed; the message names the upstream without credentials. */
export class UpstreamFetchError extends Error {
  readonly kind: FetchFailureKind
  readonly status: number | undefined

  constructor(kind: FetchFailureKind, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'UpstreamFetchError'
    this.kind = kind
    this.status = options.status
  }
}
