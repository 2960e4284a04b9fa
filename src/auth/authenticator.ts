// Checking a user name and password against the password file, on the bounded password worker,
// with a short-lived memory of credentials that were right, so that pip's dozens of
// authenticated requests per install cost one check, not dozens. Every login of a file does
// the same work whoever logs in (core/login-work.ts), so response times do not tell who exists.
import { createHmac, randomBytes } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { BasicCredentials } from '../core/basic-auth.js'
import { loginWork } from '../core/login-work.js'
import type { PasswordFile } from './password-file.js'
import type { PasswordWorker } from './password-worker.js'

/** The outcome of a login: right, wrong, or not checked because too many checks are waiting. */
export type Verdict = 'ok' | 'bad' | 'busy'

/** Options of an Authenticator. */
export interface AuthenticatorOptions {
  readonly passwords: PasswordFile
  readonly worker: PasswordWorker
  /** How long credentials found right are remembered (default 5 minutes). */
  readonly rememberMs?: number
  /** Memory the remembered logins may take, estimated (default 256 KiB, about 1,300 logins). */
  readonly maxBytes?: number
  /** A clock for tests (milliseconds); the default is lru-cache's (performance.now()). */
  readonly now?: () => number
}

const DEFAULT_MAX_BYTES = 256 * 1024
/** Estimated bytes of one remembered login besides its key's characters (verdict, cache slots). */
export const LOGIN_ENTRY_OVERHEAD = 160

/** Checks credentials against a password file. */
export class Authenticator {
  readonly #passwords: PasswordFile
  readonly #worker: PasswordWorker
  // Keyed by an HMAC of the credentials with a key that never leaves the process: no password
  // is kept, and the keys are useless outside it.
  readonly #secret = randomBytes(32)
  readonly #logins: LRUCache<string, Verdict, BasicCredentials>

  constructor(options: AuthenticatorOptions) {
    this.#passwords = options.passwords
    this.#worker = options.worker
    const now = options.now
    this.#logins = new LRUCache<string, Verdict, BasicCredentials>({
      maxSize: options.maxBytes ?? DEFAULT_MAX_BYTES,
      sizeCalculation: (_verdict, key) => LOGIN_ENTRY_OVERHEAD + key.length,
      ttl: options.rememberMs ?? 5 * 60_000,
      // Logins with the same credentials at the same time (uv downloads in parallel) share one check.
      fetchMethod: (_key, _stale, { context }) => this.#check(context),
      // A check pushed out of a full cache while running still answers its logins (lru-cache
      // would otherwise abort it, and they would fail).
      ignoreFetchAbort: true,
      ...(now === undefined ? {} : { perf: { now }, ttlResolution: 0 }),
    })
  }

  /** Check credentials. The password file is reloaded first if it changed. */
  async verify(credentials: BasicCredentials): Promise<Verdict> {
    await this.#passwords.refresh()
    const key = createHmac('sha256', this.#secret)
      .update(`${this.#passwords.generation}\u0000${credentials.user}\u0000${credentials.password}`)
      .digest('base64')
    const verdict = (await this.#logins.fetch(key, { context: credentials })) ?? 'bad'
    // Only a right login is remembered: wrong ones are checked every time (and throttled).
    if (verdict !== 'ok') this.#logins.delete(key)
    return verdict
  }

  /** Reload the password file now (SIGHUP); remembered credentials are forgotten when it changed. */
  async reload(): Promise<void> {
    await this.#passwords.refresh(true)
  }

  /** Logins remembered now, and the memory they take (estimated bytes, at most `maxBytes`). */
  get remembered(): { readonly size: number; readonly bytes: number } {
    return { size: this.#logins.size, bytes: this.#logins.calculatedSize }
  }

  async #check(credentials: BasicCredentials): Promise<Verdict> {
    if (this.#passwords.size === 0) return 'bad'
    const entry = this.#passwords.lookup(credentials.user)
    const matches = await this.#worker.check(credentials.password, loginWork(this.#passwords.decoys, entry))
    if (matches === 'busy') return 'busy'
    // An unknown user was checked against decoys only: whatever matched, the answer is no.
    return entry !== undefined && matches[entry.scheme] === true ? 'ok' : 'bad'
  }
}
