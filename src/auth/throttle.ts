// Throttling failed logins per client address: after `limit` failures within a window, the
// address gets 429 until the window is over, without any password being checked. The client
// chooses its address (an IPv6 /64 alone holds 2^64 of them), so the counters live in an LRU
// cache bounded by bytes: a flood from many addresses forgets the oldest windows first.
import { LRUCache } from 'lru-cache'

/** Options of a FailureThrottle. */
export interface ThrottleOptions {
  /** Failures allowed per window; 0 disables throttling. */
  readonly limit: number
  readonly windowMs?: number
  /** Memory the counters may take, estimated (default 2 MiB, about 12,000 addresses). */
  readonly maxBytes?: number
  /** A clock for tests (milliseconds); the default is lru-cache's (performance.now()). */
  readonly now?: () => number
}

interface Window {
  failures: number
}

const DEFAULT_MAX_BYTES = 2 * 1024 * 1024
/** Estimated bytes of one remembered address besides its characters (key, counter, cache slots). */
export const THROTTLE_ENTRY_OVERHEAD = 160

/** Fixed-window counters of failed logins, by client address. */
export class FailureThrottle {
  readonly #limit: number
  readonly #windows: LRUCache<string, Window>

  constructor(options: ThrottleOptions) {
    this.#limit = options.limit
    const now = options.now
    this.#windows = new LRUCache<string, Window>({
      maxSize: options.maxBytes ?? DEFAULT_MAX_BYTES,
      sizeCalculation: (_window, address) => THROTTLE_ENTRY_OVERHEAD + address.length,
      // The window starts at the first failure; reading or counting does not extend it.
      ttl: options.windowMs ?? 60_000,
      updateAgeOnGet: false,
      // A test clock is read every time (lru-cache otherwise keeps a reading for 1 ms of real time).
      ...(now === undefined ? {} : { perf: { now }, ttlResolution: 0 }),
    })
  }

  /** Milliseconds until `address` may try again, or undefined when it may try now. */
  blockedFor(address: string): number | undefined {
    if (this.#limit === 0) return undefined
    const window = this.#windows.get(address)
    if (window === undefined || window.failures < this.#limit) return undefined
    // lru-cache keeps an entry up to and including its last millisecond; the window is over then.
    const left = this.#windows.getRemainingTTL(address)
    return left > 0 ? left : undefined
  }

  /** Count a failed login of `address`. */
  fail(address: string): void {
    if (this.#limit === 0) return
    const window = this.#windows.get(address)
    // Counted in place: setting it again would restart the window.
    if (window !== undefined) window.failures++
    else this.#windows.set(address, { failures: 1 })
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#windows.size
  }

  /** Estimated memory the counters take, in bytes (at most `maxBytes`). */
  get bytes(): number {
    return this.#windows.calculatedSize
  }
}
