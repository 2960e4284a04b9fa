// What the upstream code tells whoever watches it: plain calls at the moments that matter,
// named for what happened rather than for a metric. The daemon turns them into Prometheus
// metrics (src/metrics/upstream-metrics.ts); without metrics NO_OBSERVER ignores them.
// Every `upstream` argument is an upstream's label (its URL without credentials), so the
// values come from the configuration, never from a request.
import { UpstreamFetchError } from './upstream-errors.js'

/** What was asked of an upstream: a project page, a distribution file, or PEP 658 metadata. */
export type UpstreamRequestKind = 'page' | 'file' | 'metadata'

/**
 * How one request to an upstream ended: `ok` (a 200 read to its end and accepted),
 * `not_modified` (304), `not_found` (404 or 410), `timeout` (no connection, no answer or a
 * stalled body in time), `refused` (connection refused), `invalid` (a file whose bytes do not
 * match the page's digest or size) or `error` (anything else: another status, a page that
 * cannot be read or is too large, a bad redirect, a reset).
 */
export type UpstreamOutcome = 'ok' | 'not_modified' | 'not_found' | 'error' | 'timeout' | 'refused' | 'invalid'

/** One request to an upstream, over. */
export interface UpstreamRequestEvent {
  readonly upstream: string
  readonly kind: UpstreamRequestKind
  readonly outcome: UpstreamOutcome
  /** From sending the request to the end of its body (or the failure). */
  readonly seconds: number
  /** Body bytes received (after gzip decoding). */
  readonly bytes: number
}

/** The hooks; each is called synchronously and must not throw. */
export interface UpstreamObserver {
  /** A request to an upstream ended, however it ended. */
  requested(event: UpstreamRequestEvent): void
  /** A project page was looked up: answered by the cache (`hit`: fresh, or a 404 remembered) or not. */
  pageLookup(upstream: string, result: 'hit' | 'miss'): void
  /** A cached page was served stale because the upstream failed. */
  stalePage(upstream: string): void
  /** A client asked for an upstream file: in the file cache or not. */
  fileLookup(result: 'hit' | 'miss'): void
  /** A lookup joined a request already in flight for the same page or file (singleflight). */
  joined(upstream: string, kind: UpstreamRequestKind): void
  /** A downloaded file did not match the digest on the upstream's page (nothing was kept). */
  hashMismatch(upstream: string): void
  /** The upstream's circuit breaker opened (or opened again after a failed probe). */
  breakerOpened(upstream: string): void
}

/** Watches nothing. */
export const NO_OBSERVER: UpstreamObserver = {
  requested: () => undefined,
  pageLookup: () => undefined,
  stalePage: () => undefined,
  fileLookup: () => undefined,
  joined: () => undefined,
  hashMismatch: () => undefined,
  breakerOpened: () => undefined,
}

/** The outcome of a request that failed with `err`. */
export function outcomeOf(err: unknown): UpstreamOutcome {
  if (!(err instanceof UpstreamFetchError)) return 'error'
  switch (err.kind) {
    case 'connect-timeout':
    case 'first-byte-timeout':
    case 'idle-timeout':
      return 'timeout'
    case 'digest':
    case 'length':
      return 'invalid'
    case 'status':
      return err.status === 404 || err.status === 410 ? 'not_found' : 'error'
    case 'network': {
      const cause: unknown = err.cause
      const code = cause instanceof Error && 'code' in cause ? cause.code : undefined
      return code === 'ECONNREFUSED' ? 'refused' : 'error'
    }
    default:
      return 'error'
  }
}

/** The kind of a file request: PEP 658 metadata files end in `.metadata`. */
export function fileKind(filename: string): UpstreamRequestKind {
  return filename.endsWith('.metadata') ? 'metadata' : 'file'
}
