// Access control (pypiserver's --authenticate): which routes need credentials, HTTP Basic
// checks with throttled failures, and the 401/429/503 answers.
import type { FastifyBaseLogger, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import type { Authenticator } from '../auth/authenticator.js'
import type { FailureThrottle } from '../auth/throttle.js'
import type { AuthAction } from '../core/auth-actions.js'
import { parseBasicAuth } from '../core/basic-auth.js'
import { NO_METRICS, type CounterMetric, type Metrics } from '../core/metrics.js'
import { RequestRejected } from '../errors.js'

/** The realm of the WWW-Authenticate challenge. */
export const REALM = 'eggserve'

const CHALLENGE = { 'www-authenticate': `Basic realm="${REALM}"` }

/** Options of AccessControl. */
export interface AccessControlOptions {
  /**
   * Actions that need credentials; others are open and ignore any Authorization header, which
   * pip sends unasked with credentials from the index URL or .netrc (pip's network/auth.py).
   */
  readonly protect: readonly AuthAction[]
  readonly authenticator: Authenticator | undefined
  readonly throttle: FailureThrottle
  readonly log: FastifyBaseLogger
  /** Counts failed logins and refusals (default: none kept). */
  readonly metrics?: Metrics
}

type Refusal = 'invalid' | 'throttled' | 'busy'

/** Decides who may do what; route plugins put its hooks on their routes. */
export class AccessControl {
  readonly #protect: ReadonlySet<AuthAction>
  readonly #authenticator: Authenticator | undefined
  readonly #throttle: FailureThrottle
  readonly #log: FastifyBaseLogger
  readonly #users = new WeakMap<FastifyRequest, string>()
  readonly #refused: CounterMetric<'reason'>

  constructor(options: AccessControlOptions) {
    this.#authenticator = options.authenticator
    this.#protect = new Set(options.authenticator === undefined ? [] : options.protect)
    this.#throttle = options.throttle
    this.#log = options.log.child({ component: 'access' })
    const metrics = options.metrics ?? NO_METRICS
    // A request without credentials is not counted: pip sends none until it is challenged.
    this.#refused = metrics.counter<'reason'>({
      name: 'eggserve_auth_failures_total',
      help: 'Requests refused while checking credentials: invalid (wrong user or password), throttled (429 after too many failures from the address), busy (503: too many logins queued)',
      labelNames: ['reason'],
    })
    const throttle = options.throttle
    metrics.collectedGauge({
      name: 'eggserve_auth_throttle_addresses',
      help: 'Client addresses the login throttle remembers (failed logins within their window; expired ones may linger until evicted)',
      labelNames: [],
      collect: (set) => {
        set({}, throttle.size)
      },
    })
  }

  /** Nothing protected (no password file). */
  static open(log: FastifyBaseLogger, throttle: FailureThrottle): AccessControl {
    return new AccessControl({ protect: [], authenticator: undefined, throttle, log })
  }

  /** True when `action` needs credentials. */
  protects(action: AuthAction): boolean {
    return this.#protect.has(action)
  }

  /** The onRequest hooks of a route doing `action`: none when it is open. */
  hooks(action: AuthAction): onRequestAsyncHookHandler[] {
    const authenticator = this.#authenticator
    if (authenticator === undefined || !this.#protect.has(action)) return []
    return [
      async (request) => {
        await this.#check(request, action, authenticator)
      },
    ]
  }

  /** The user a request was authenticated as, if any. */
  userOf(request: FastifyRequest): string | undefined {
    return this.#users.get(request)
  }

  async #check(request: FastifyRequest, action: AuthAction, authenticator: Authenticator): Promise<void> {
    const credentials = parseBasicAuth(request.headers.authorization)
    // pip asks for credentials (keyring, prompt) only after a 401 with a challenge, never after
    // a 403 (MultiDomainBasicAuth.handle_401 in pip's network/auth.py; RFC 9110 §15.5.2).
    if (credentials === undefined)
      throw new RequestRejected('EGGSERVE_UNAUTHORIZED', 'Authentication required', CHALLENGE)
    const address = request.ip
    const wait = this.#throttle.blockedFor(address)
    if (wait !== undefined) {
      const seconds = Math.max(1, Math.ceil(wait / 1000))
      this.#refuse('throttled')
      throw new RequestRejected(
        'EGGSERVE_THROTTLED',
        `Too many failed logins from this address; retry in ${seconds} s`,
        { 'retry-after': String(seconds) },
      )
    }
    const verdict = await authenticator.verify(credentials)
    if (verdict === 'busy') {
      this.#refuse('busy')
      throw new RequestRejected('EGGSERVE_AUTH_BUSY', 'Too many logins are being checked; retry in a moment', {
        'retry-after': '1',
      })
    }
    if (verdict === 'bad') {
      this.#throttle.fail(address)
      this.#refuse('invalid')
      // The user name helps the operator; the password is never logged.
      this.#log.warn(
        { user: credentials.user.slice(0, 100), remoteAddress: address, action, url: request.url },
        'Authentication failed',
      )
      throw new RequestRejected('EGGSERVE_UNAUTHORIZED', 'Invalid credentials', CHALLENGE)
    }
    this.#users.set(request, credentials.user)
  }

  #refuse(reason: Refusal): void {
    this.#refused.inc({ reason })
  }
}
