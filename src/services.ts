// Wiring of the index (storage, analyzer with its decorators, index service) and of access control.
// Shared by the daemon and the tests, so both run exactly the same parts.
import type { FastifyBaseLogger } from 'fastify'
import { MemoizingAnalyzer, StreamingAnalyzer } from './analysis/analyzer.js'
import { FairScheduler } from './analysis/fair-scheduler.js'
import { Authenticator } from './auth/authenticator.js'
import { BcryptPool } from './auth/bcrypt-pool.js'
import { PasswordFile } from './auth/password-file.js'
import { FailureThrottle } from './auth/throttle.js'
import type { AuthAction } from './config.js'
import { algorithmsFor, type HashAlgorithm } from './core/digests.js'
import { AccessControl } from './http/access-control.js'
import { IndexService } from './index/index-service.js'
import { LocalStorage } from './storage/local-storage.js'

// Files read at once. Bounded so a cold folder of thousands of files cannot exhaust descriptors.
const DEFAULT_CONCURRENCY = 8

/** The parts behind the HTTP routes. */
export interface IndexServices {
  readonly storage: LocalStorage
  /** The analyzer that really reads files; its stats count the work done. */
  readonly streamingAnalyzer: StreamingAnalyzer
  readonly index: IndexService
}

/** Options of createIndexServices. */
export interface IndexServicesOptions {
  readonly eggdir: string
  readonly hashAlgorithm: HashAlgorithm
  readonly logger: FastifyBaseLogger
  readonly concurrency?: number
}

/** Open the eggdir and build the index over it (not loaded yet: call index.load()). */
export async function createIndexServices (options: IndexServicesOptions): Promise<IndexServices> {
  const storage = await LocalStorage.create(options.eggdir, options.logger)
  const streamingAnalyzer = new StreamingAnalyzer({
    storage,
    algorithms: algorithmsFor(options.hashAlgorithm),
    scheduler: new FairScheduler(options.concurrency ?? DEFAULT_CONCURRENCY),
    log: options.logger,
  })
  const index = new IndexService({ storage, analyzer: new MemoizingAnalyzer(streamingAnalyzer), log: options.logger })
  return { storage, streamingAnalyzer, index }
}

/** Access control with what it is built from, so the daemon can reload and stop it. */
export interface AccessServices {
  readonly access: AccessControl
  /** undefined without a password file. */
  readonly authenticator: Authenticator | undefined
  readonly passwords: PasswordFile | undefined
  /** Stop the bcrypt worker. */
  close (): Promise<void>
}

// bcrypt checks waiting at most; more are refused with 503 at once (a flood of logins costs one core).
const BCRYPT_QUEUE = 32

/** Load the password file (a PasswordFileError when it cannot be used) and build access control. */
export async function createAccessServices (options: {
  readonly passwordFile: string | undefined
  readonly authenticate: readonly AuthAction[]
  readonly authFailureLimit: number
  readonly logger: FastifyBaseLogger
}): Promise<AccessServices> {
  const throttle = new FailureThrottle({ limit: options.authFailureLimit })
  if (options.passwordFile === undefined) {
    return { access: AccessControl.open(options.logger, throttle), authenticator: undefined, passwords: undefined, close: () => Promise.resolve() }
  }
  const passwords = await PasswordFile.load(options.passwordFile, options.logger)
  const bcrypt = new BcryptPool({ maxQueued: BCRYPT_QUEUE, log: options.logger.child({ component: 'bcrypt' }) })
  const authenticator = new Authenticator({ passwords, bcrypt })
  const access = new AccessControl({ protect: options.authenticate, authenticator, throttle, log: options.logger })
  return { access, authenticator, passwords, close: () => bcrypt.close() }
}
