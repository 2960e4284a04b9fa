// The errors of the upstream proxy; their codes are in the registry (src/error-codes.ts).
import type { Hold } from '../core/cooldown.js'
import { formatDuration } from '../core/duration.js'
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

/**
 * An upstream file the cooldown holds back (403): too young by its PEP 700 upload-time, or
 * without one while such files are hidden. The message says when it becomes available.
 */
export class CooldownError extends AppError {
  constructor(held: { filename: string; hold: Hold; upstream: { cooldown: { minAgeMs: number } } }) {
    const age = formatDuration(held.upstream.cooldown.minAgeMs)
    super(
      'EGGSERVE_UPSTREAM_COOLDOWN',
      held.hold.reason === 'young'
        ? `${held.filename} was uploaded at ${new Date(held.hold.uploadedAtMs).toISOString()} and is held back by the minimum release age (${age}): it becomes available at ${new Date(held.hold.availableAtMs).toISOString()}`
        : `${held.filename} has no upload time on the upstream's page, so its age cannot be checked against the minimum release age (${age}): it is held back (min-release-age-undated = "hide")`,
    )
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

/**
 * What a reader of a failed download throws, so that a client whose answer has not started
 * gets the status fetch() gives a download that failed before its head (the route sends the
 * headers with the first byte): 502 for bytes that do not match the page's hash, 503 for a
 * transfer that broke off (the next request tries the upstream again). A client whose body is
 * under way is cut either way. Seen in the e2e tests under load: the upstream's head came, then
 * its connection was reset before any body byte, and the raw error answered 500.
 */
export function transferFailure(error: Error | undefined): UpstreamFailure {
  if (error instanceof UpstreamFetchError && error.kind === 'digest')
    return new UpstreamFailure(
      'EGGSERVE_UPSTREAM_BAD_FILE',
      'The upstream sent bytes that do not match the hash on its page; the file was not kept',
      { cause: error },
    )
  return new UpstreamFailure(
    'EGGSERVE_UPSTREAM_UNAVAILABLE',
    'The upstream failed while sending this file; nothing was kept',
    error === undefined ? {} : { cause: error },
  )
}
