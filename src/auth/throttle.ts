// Throttling failed logins per client address: after `limit` failures within a window, the
// address gets 429 until the window is over, without any password being checked.

/** Options of a FailureThrottle. */
export interface ThrottleOptions {
  /** Failures allowed per window; 0 disables throttling. */
  readonly limit: number
  readonly windowMs?: number
  /** Addresses remembered at most (the oldest windows are dropped first). */
  readonly maxAddresses?: number
  readonly now?: () => number
}

interface Window {
  readonly start: number
  failures: number
}

/** Fixed-window counters of failed logins, by client address. */
export class FailureThrottle {
  readonly #limit: number
  readonly #windowMs: number
  readonly #maxAddresses: number
  readonly #now: () => number
  readonly #windows = new Map<string, Window>()

  constructor (options: ThrottleOptions) {
    this.#limit = options.limit
    this.#windowMs = options.windowMs ?? 60_000
    this.#maxAddresses = options.maxAddresses ?? 10_000
    this.#now = options.now ?? Date.now
  }

  /** Milliseconds until `address` may try again, or undefined when it may try now. */
  blockedFor (address: string): number | undefined {
    if (this.#limit === 0) return undefined
    const window = this.#current(address)
    if (window === undefined || window.failures < this.#limit) return undefined
    return window.start + this.#windowMs - this.#now()
  }

  /** Count a failed login of `address`. */
  fail (address: string): void {
    if (this.#limit === 0) return
    const window = this.#current(address)
    if (window !== undefined) {
      window.failures++
      return
    }
    this.#windows.delete(address)
    this.#windows.set(address, { start: this.#now(), failures: 1 })
    // Maps iterate in insertion order: the first entries are the oldest windows.
    for (const key of this.#windows.keys()) {
      if (this.#windows.size <= this.#maxAddresses) break
      this.#windows.delete(key)
    }
  }

  #current (address: string): Window | undefined {
    const window = this.#windows.get(address)
    if (window === undefined) return undefined
    if (this.#now() - window.start < this.#windowMs) return window
    this.#windows.delete(address)
    return undefined
  }
}
