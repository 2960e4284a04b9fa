// The error codes of the upstream proxy, in one place (README "Error codes", docs/upstream.md).
import { AppError } from '../errors.js'

/** Codes of upstream failures a client can meet. */
export type UpstreamFailureCode =
  /** No upstream could be asked and nothing usable is cached (503, Retry-After). */
  | 'EGGSERVE_UPSTREAM_UNAVAILABLE'
  /** The upstream answered a file request with an error, or sent bytes that do not match the page's hash (502). */
  | 'EGGSERVE_UPSTREAM_BAD_FILE'
  /** --offline and the project or file is not in the cache (503). */
  | 'EGGSERVE_UPSTREAM_OFFLINE'

/** How long clients are asked to wait before retrying a 503 (RFC 9110 §10.2.3). */
export const UPSTREAM_RETRY_AFTER_SECONDS = 30

/**
 * An upstream failure as a client sees it. The message is written for clients: it names no
 * upstream URL and no credential (the log has the details).
 */
export class UpstreamFailure extends AppError {
  readonly headers: Readonly<Record<string, string>>

  constructor (code: UpstreamFailureCode, message: string, options: { cause?: unknown } = {}) {
    const status = code === 'EGGSERVE_UPSTREAM_BAD_FILE' ? 502 : 503
    super(code, message, { statusCode: status, expose: true, ...options })
    this.headers = status === 503 ? { 'retry-after': String(UPSTREAM_RETRY_AFTER_SECONDS) } : {}
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

  constructor (kind: FetchFailureKind, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'UpstreamFetchError'
    this.kind = kind
    this.status = options.status
  }
}
