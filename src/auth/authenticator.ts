// Checking a user name and password against the password file: bcrypt on its bounded worker,
// Apache MD5 and {SHA} in place, and a short-lived memory of credentials that were right, so
// that pip's dozens of authenticated requests per install cost one bcrypt check, not dozens.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import aprMd5 from 'apache-md5'
import type { BasicCredentials } from '../core/basic-auth.js'
import type { PasswordEntry } from '../core/htpasswd.js'
import type { BcryptPool } from './bcrypt-pool.js'
import type { PasswordFile } from './password-file.js'

/** The outcome of a login: right, wrong, or not checked because too many checks are waiting. */
export type Verdict = 'ok' | 'bad' | 'busy'

/** Options of an Authenticator. */
export interface AuthenticatorOptions {
  readonly passwords: PasswordFile
  readonly bcrypt: BcryptPool
  /** How long credentials found right are remembered (default 5 minutes). */
  readonly rememberMs?: number
  readonly now?: () => number
}

const REMEMBERED_MAX = 1024

/** Checks credentials against a password file. */
export class Authenticator {
  readonly #passwords: PasswordFile
  readonly #bcrypt: BcryptPool
  readonly #rememberMs: number
  readonly #now: () => number
  // Keyed by an HMAC of the credentials with a key that never leaves the process: no password
  // is kept, and the keys are useless outside it.
  readonly #secret = randomBytes(32)
  readonly #remembered = new Map<string, number>()

  constructor (options: AuthenticatorOptions) {
    this.#passwords = options.passwords
    this.#bcrypt = options.bcrypt
    this.#rememberMs = options.rememberMs ?? 5 * 60_000
    this.#now = options.now ?? Date.now
  }

  /** Check credentials. The password file is reloaded first if it changed. */
  async verify (credentials: BasicCredentials): Promise<Verdict> {
    await this.#passwords.refresh()
    const key = createHmac('sha256', this.#secret)
      .update(`${this.#passwords.generation}\u0000${credentials.user}\u0000${credentials.password}`)
      .digest('base64')
    const until = this.#remembered.get(key)
    if (until !== undefined && until > this.#now()) return 'ok'
    this.#remembered.delete(key)
    const entry = this.#passwords.lookup(credentials.user)
    if (entry === undefined) {
      // Unknown user: spend what a known one costs, then refuse, so timing tells nothing.
      const decoy = this.#passwords.decoy
      if (decoy !== undefined && await this.#bcrypt.compare(credentials.password, decoy.hash) === 'busy') return 'busy'
      return 'bad'
    }
    const verdict = await check(this.#bcrypt, entry, credentials.password)
    if (verdict === 'ok') this.#remember(key)
    return verdict
  }

  /** Reload the password file now (SIGHUP); remembered credentials are forgotten when it changed. */
  async reload (): Promise<void> {
    await this.#passwords.refresh(true)
  }

  #remember (key: string): void {
    this.#remembered.set(key, this.#now() + this.#rememberMs)
    for (const oldest of this.#remembered.keys()) {
      if (this.#remembered.size <= REMEMBERED_MAX) break
      this.#remembered.delete(oldest)
    }
  }
}

async function check (bcrypt: BcryptPool, entry: PasswordEntry, password: string): Promise<Verdict> {
  switch (entry.scheme) {
    case 'bcrypt': {
      const matched = await bcrypt.compare(password, entry.hash)
      return matched === 'busy' ? 'busy' : matched ? 'ok' : 'bad'
    }
    case 'apr1':
      // apache-md5 hashes each character as one byte: hand it the UTF-8 bytes, as htpasswd hashed them.
      return same(aprMd5(Buffer.from(password, 'utf8').toString('latin1'), entry.hash), entry.hash) ? 'ok' : 'bad'
    case 'sha1':
      return same(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`, entry.hash) ? 'ok' : 'bad'
  }
}

function same (a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}
