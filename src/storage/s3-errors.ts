// What an S3 client error means for eggserve. Errors are read by shape (name, status), not by
// class, so this module does not load the AWS SDK. Nothing of the request (URL, headers,
// signature) is kept: only the error name, the HTTP status, the request id and the attempts.
import { errnoCode, StorageError, StoreFailure, type AppErrorOptions } from '../errors.js'

/** What went wrong, as far as eggserve's answer is concerned. */
export type S3ErrorKind =
  | 'not-found'
  | 'precondition-failed'
  | 'conflict'
  | 'denied'
  | 'throttled'
  | 'unavailable'
  | 'no-bucket'
  | 'no-region'
  | 'other'

/** The facts of an SDK error that are safe to log. */
export interface S3ErrorFacts {
  readonly kind: S3ErrorKind
  /** The S3 error code (AccessDenied, SlowDown...) or the network error code (ECONNREFUSED...). */
  readonly error: string
  readonly status: number | undefined
  readonly requestId: string | undefined
  readonly attempts: number | undefined
}

const DENIED = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AllAccessDisabled',
  'CredentialsProviderError',
  'AccountProblem',
])
// S3 answers 503 SlowDown when a prefix gets too many requests ("Best practices design
// patterns: optimizing Amazon S3 performance"); other stores say it with 429.
const THROTTLED = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
])
const UNAVAILABLE = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServiceUnavailable',
  'InternalError',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
])

const BODYLESS: Readonly<Partial<Record<number, string>>> = {
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  412: 'PreconditionFailed',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
}

/** Read an SDK (or network) error. */
export function s3ErrorFacts(err: unknown): S3ErrorFacts {
  const name = err instanceof Error ? err.name : 'Error'
  const errno = errnoCode(err)
  const metadata =
    err instanceof Error && '$metadata' in err && typeof err.$metadata === 'object' && err.$metadata !== null
      ? err.$metadata
      : {}
  const status =
    'httpStatusCode' in metadata && typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined
  const requestId = 'requestId' in metadata && typeof metadata.requestId === 'string' ? metadata.requestId : undefined
  const attempts = 'attempts' in metadata && typeof metadata.attempts === 'number' ? metadata.attempts : undefined
  // Network errors are plain Errors with an errno code; service errors are named after the S3
  // code, except answers without a body (HEAD), which the SDK calls Unknown: named by status.
  const error =
    name === 'Error' && errno !== undefined
      ? errno
      : name === 'Unknown' && status !== undefined
        ? (BODYLESS[status] ?? `HTTP ${status}`)
        : name
  return { kind: classify(error, status, err), error, status, requestId, attempts }
}

function classify(error: string, status: number | undefined, err: unknown): S3ErrorKind {
  if (error === 'NoSuchBucket') return 'no-bucket'
  if (error === 'NoSuchKey' || error === 'NotFound' || error === 'NoSuchUpload' || status === 404) return 'not-found'
  if (error === 'PreconditionFailed' || status === 412) return 'precondition-failed'
  // "A conflicting operation occurred... re-initiate": the conditional-writes documentation.
  if (error === 'ConditionalRequestConflict' || status === 409) return 'conflict'
  if (DENIED.has(error) || status === 403 || status === 401) return 'denied'
  if (THROTTLED.has(error) || status === 429) return 'throttled'
  if (UNAVAILABLE.has(error) || (status !== undefined && status >= 500)) return 'unavailable'
  if (err instanceof Error && err.message === 'Region is missing') return 'no-region'
  return 'other'
}

/** What an operation was doing, for the log. */
export interface S3Action {
  /** e.g. 'list', 'read', 'publish'. */
  readonly action: string
  /** The eggserve key (or folder) concerned, if any. */
  readonly key?: string
  /** The store, e.g. s3://bucket/prefix. */
  readonly location: string
}

/**
 * Turn an SDK error into the error eggserve raises: a StoreFailure (503 with Retry-After for
 * transient failures) or a masked StorageError. It is not logged here: its cause says in words
 * what was being done, on which key of which store, and why; its details hold the SDK error's
 * safe facts. Whoever handles the failure logs both, once (for a request, the error handler).
 */
export function storeError(err: unknown, what: S3Action): StoreFailure | StorageError {
  const facts = s3ErrorFacts(err)
  const where = what.key === undefined ? what.location : `"${what.key}" in ${what.location}`
  const after =
    facts.attempts === undefined ? '' : ` after ${facts.attempts} ${facts.attempts === 1 ? 'attempt' : 'attempts'}`
  const status = facts.status === undefined ? '' : ` (HTTP ${facts.status})`
  const s3 = { error: facts.error, status: facts.status, requestId: facts.requestId, attempts: facts.attempts }
  // Not the SDK error itself: it holds the request (URL, headers, signature).
  const cause = new Error(`Cannot ${what.action} ${where}: ${explain(facts)}${status}${after}`)
  return failureFor(facts, { cause, details: { action: what.action, key: what.key, s3 } })
}

function failureFor(facts: S3ErrorFacts, options: AppErrorOptions): StoreFailure | StorageError {
  switch (facts.kind) {
    case 'throttled':
      return new StoreFailure(
        'EGGSERVE_STORE_THROTTLED',
        'Service Unavailable: the package store is throttling requests; retry later',
        options,
      )
    case 'unavailable':
      return new StoreFailure(
        'EGGSERVE_STORE_UNAVAILABLE',
        'Service Unavailable: the package store is not answering; retry later',
        options,
      )
    case 'denied':
      return new StoreFailure(
        'EGGSERVE_STORE_DENIED',
        "The package store refused this server's credentials; the server's operator must fix its access",
        options,
      )
    case 'no-bucket':
      return new StoreFailure(
        'EGGSERVE_STORE_MISSING',
        "The package store's bucket does not exist; the server's operator must fix the configuration",
        options,
      )
    case 'no-region':
      return new StoreFailure(
        'EGGSERVE_STORE_CONFIG',
        'No AWS region is configured: set AWS_REGION (S3-compatible stores usually accept us-east-1)',
        options,
      )
    default:
      return new StorageError(`Unexpected answer of the package store: ${facts.error}`, options)
  }
}

function explain(facts: S3ErrorFacts): string {
  switch (facts.kind) {
    case 'denied':
      return facts.error === 'CredentialsProviderError'
        ? 'no AWS credentials found (environment, shared credentials or config file, SSO, web identity, container or instance role)'
        : `access denied (${facts.error}): check the credentials and the IAM permissions listed in the README`
    case 'throttled':
      return `the store is throttling requests (${facts.error})`
    case 'unavailable':
      return `the store is not answering (${facts.error})`
    case 'no-bucket':
      return 'the bucket does not exist (NoSuchBucket)'
    case 'no-region':
      return 'no AWS region is configured (set AWS_REGION or region in the AWS config file)'
    default:
      return facts.error
  }
}
