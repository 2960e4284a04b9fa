// A circuit breaker per upstream: after `failures` failures in a row the upstream is not asked
// for `openMs` (requests answer from the cache, or 503, at once instead of each waiting for
// its own timeout); then one request is let through to try it again.

/** Breaker settings. */
export interface BreakerSettings {
  /** Consecutive failures that open the breaker. */
  readonly failures: number
  /** How long it stays open. */
  readonly openMs: number
}

/** The state, for logs and the readiness report. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/** Counts failures in a row; `now` is injectable for tests. */
export class CircuitBreaker {
  readonly #settings: BreakerSettings
  readonly #now: () => number
  #failures = 0
  #openedAt: number | undefined
  #probing = false
  readonly #onOpen: () => void

  /** `onOpen` is told each time the breaker opens (for the metrics). */
  constructor(settings: BreakerSettings, now: () => number = Date.now, onOpen: () => void = () => undefined) {
    this.#settings = settings
    this.#now = now
    this.#onOpen = onOpen
  }

  get state(): BreakerState {
    if (this.#openedAt === undefined) return 'closed'
    return this.#now() - this.#openedAt >= this.#settings.openMs ? 'half-open' : 'open'
  }

  /** True when a request may go out now (in half-open state: only one at a time). */
  allow(): boolean {
    const state = this.state
    if (state === 'closed') return true
    if (state === 'open' || this.#probing) return false
    this.#probing = true
    return true
  }

  success(): void {
    this.#failures = 0
    this.#openedAt = undefined
    this.#probing = false
  }

  failure(): void {
    const wasOpen = this.state === 'open'
    this.#failures++
    this.#probing = false
    if (this.#openedAt !== undefined || this.#failures >= this.#settings.failures) this.#openedAt = this.#now()
    // A failure while open only extends it; closed or half-open to open is an opening.
    if (!wasOpen && this.#openedAt !== undefined) this.#onOpen()
  }
}
