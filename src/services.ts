// Wiring of the index (storage, analyzer with its decorators, index service) and of the
// password checks. Shared by the daemon, the CLI's check/warm commands and the tests, so all
// run the same parts. The HTTP layer's access control is built above, from these parts.
import { availableParallelism } from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import type { Analyzer } from './file-facts/analyzer.js'
import { FairScheduler } from './file-facts/fair-scheduler.js'
import { FactsLog } from './file-facts/facts-log.js'
import { MemoryFactsStore, type FactsStore } from './file-facts/facts-store.js'
import { MemoizingAnalyzer } from './file-facts/memoizing-analyzer.js'
import { StoredFactsAnalyzer } from './file-facts/stored-facts-analyzer.js'
import { StreamingAnalyzer, type AnalysisStats } from './file-facts/streaming-analyzer.js'
import { WorkerAnalyzer } from './file-facts/worker-analyzer.js'
import { Authenticator } from './auth/authenticator.js'
import { PasswordFile } from './auth/password-file.js'
import { PasswordWorker } from './auth/password-worker.js'
import { FailureThrottle } from './auth/throttle.js'
import type { Config } from './config.js'
import { algorithmsFor, type HashAlgorithm } from './core/digests.js'
import { describeErrno } from './errors.js'
import { IndexService, type IndexPeers } from './live-index/index-service.js'
import type { Metrics } from './core/metrics.js'
import { LocalStorage } from './storage/local-storage.js'
import { openStorage } from './storage/open-storage.js'
import type { StorageBackend } from './storage/storage.js'

// Files read at once in the main thread, or per worker. Bounded so a cold folder of thousands
// of files cannot exhaust descriptors.
const DEFAULT_CONCURRENCY = 8
const PER_WORKER = 4

/** The parts behind the HTTP routes. */
export interface IndexServices {
  readonly storage: StorageBackend
  /** The remembering analyzer the index uses. */
  readonly analyzer: MemoizingAnalyzer
  /** The analyzer that really reads files; its stats count the work done. */
  readonly reader: Analyzer & { readonly stats: AnalysisStats; close(): Promise<void> }
  /** Where facts are remembered: memory, or the persistent cache. */
  readonly facts: FactsStore
  /** Why the cache directory asked for could not be used (facts are then kept in memory). */
  readonly cacheProblem: string | undefined
  readonly index: IndexService
  /** Stop watching, stop reading (queued and running analyses fail at once), write the cache out. */
  close(): Promise<void>
}

/** Options of createIndexServices. */
export interface IndexServicesOptions {
  readonly eggdir: string
  /** A storage opened already (a bucket): then `eggdir` is not opened. */
  readonly storage?: StorageBackend
  readonly hashAlgorithm: HashAlgorithm
  /** The /simple/ tree's anchor algorithm, when it differs (its digest is computed too). */
  readonly simpleHashAlgorithm?: HashAlgorithm
  readonly logger: FastifyBaseLogger
  /** Worker threads that hash; 0 hashes in the main thread. */
  readonly workers?: number
  /** Files read at once when hashing in the main thread. */
  readonly concurrency?: number
  /** Directory of the persistent cache; undefined keeps facts in memory only. */
  readonly cacheDir?: string | undefined
  /** Where the index counts what it does (default: nowhere). */
  readonly metrics?: Metrics
  /**
   * Facts come from another process (a --workers worker asks the primary, which reads files
   * and keeps the persistent cache): this analyzer and this store are used as they are.
   */
  readonly remoteFacts?: { readonly reader: IndexServices['reader']; readonly facts: FactsStore }
  /** Other processes serving the tree, told of uploads and removals (--workers). */
  readonly peers?: IndexPeers
  /**
   * Return before the persistent cache has been read: it is read while index.load() lists the
   * tree (in a worker thread when large), and index.load() waits for it. Only for a caller
   * that uses `facts` and `analyzer` after index.load() and not before (the daemon's server);
   * default: read before this returns.
   */
  readonly cacheBesideListing?: boolean
}

/** The index services a configuration asks for (the daemon's and `eggserve warm`'s). */
export async function indexServicesFor(
  config: Config,
  logger: FastifyBaseLogger,
  metrics?: Metrics,
  cluster: Pick<IndexServicesOptions, 'remoteFacts' | 'peers' | 'cacheBesideListing'> = {},
): Promise<IndexServices> {
  const storage = await configuredBucket(config, logger)
  return createIndexServices({
    ...cluster,
    eggdir: config.eggdir,
    ...(storage === undefined ? {} : { storage }),
    hashAlgorithm: config.hashAlgorithm,
    simpleHashAlgorithm: config.simpleHashAlgorithm,
    logger,
    workers: config.hashWorkers === 'auto' ? availableParallelism() : config.hashWorkers,
    cacheDir: config.cacheDir,
    ...(metrics === undefined ? {} : { metrics }),
  })
}

/** The bucket `--storage` names, opened; undefined when the eggdir is served. */
export async function configuredBucket(
  config: Pick<Config, 'storage' | 's3PathStyle'> &
    Partial<Pick<Config, 'reconcileIntervalMs' | 's3Writers' | 'cacheDir'>>,
  logger: FastifyBaseLogger,
): Promise<StorageBackend | undefined> {
  if (config.storage === undefined) return undefined
  // A file copied into the bucket by hand is reported by no journal: listings are trusted as
  // long as the reconcile interval, which bounds how late such a file shows.
  const trusted = config.reconcileIntervalMs === undefined ? {} : { trustedListingTtlMs: config.reconcileIntervalMs }
  const writers = config.s3Writers === undefined ? {} : { writers: config.s3Writers }
  // The last snapshot of the bucket's listings is kept in the cache folder: a warm start reads no folder.
  const snapshots = config.cacheDir === undefined ? {} : { snapshotDir: config.cacheDir }
  return openStorage(
    { kind: 's3', ...config.storage, pathStyle: config.s3PathStyle, ...trusted, ...writers, ...snapshots },
    logger,
  )
}

/** Open the eggdir and build the index over it (not loaded yet: call index.load()). */
export async function createIndexServices(options: IndexServicesOptions): Promise<IndexServices> {
  const { logger } = options
  const storage = options.storage ?? (await LocalStorage.create(options.eggdir, logger))
  const algorithms = algorithmsFor(options.hashAlgorithm, options.simpleHashAlgorithm ?? options.hashAlgorithm)
  const index = (analyzer: MemoizingAnalyzer, factsLoaded?: Promise<void>): IndexService =>
    new IndexService({
      storage,
      analyzer,
      log: logger,
      ...(factsLoaded === undefined ? {} : { factsLoaded }),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.peers === undefined ? {} : { peers: options.peers }),
    })
  if (options.remoteFacts !== undefined) {
    const { reader, facts } = options.remoteFacts
    const analyzer = new MemoizingAnalyzer(reader, facts)
    const remote = index(analyzer)
    const close = async (): Promise<void> => {
      remote.close()
      await reader.close()
    }
    return { storage, analyzer, reader, facts, cacheProblem: undefined, index: remote, close }
  }
  const workers = options.workers ?? 0
  const reader =
    workers > 0
      ? WorkerAnalyzer.create({ workers, perWorker: PER_WORKER, storage: storage.spec, algorithms, log: logger })
      : new StreamingAnalyzer({
          storage,
          algorithms,
          scheduler: new FairScheduler(options.concurrency ?? DEFAULT_CONCURRENCY),
          log: logger,
        })
  const { facts, cacheProblem } = await openFacts(options, storage.cacheNamespace, algorithms)
  const factsLoaded = facts instanceof FactsLog ? facts.loaded : undefined
  if (options.cacheBesideListing !== true) await factsLoaded
  const backend: StorageBackend = storage
  const stored = backend.storedFacts
  const analyzer = new MemoizingAnalyzer(
    stored === undefined ? reader : new StoredFactsAnalyzer(reader, { stored, algorithms, log: logger }),
    facts,
  )
  const served = index(analyzer, factsLoaded)
  return {
    storage,
    analyzer,
    reader,
    facts,
    cacheProblem,
    index: served,
    close: async () => {
      served.close()
      await reader.close()
      if (facts instanceof FactsLog) await facts.close()
    },
  }
}

// The cache is an optimisation: if it cannot be opened, run without it (and say so).
async function openFacts(
  options: IndexServicesOptions,
  namespace: string,
  algorithms: ReturnType<typeof algorithmsFor>,
): Promise<{ facts: FactsStore; cacheProblem?: string }> {
  if (options.cacheDir === undefined) return { facts: new MemoryFactsStore() }
  try {
    return { facts: await FactsLog.opening({ dir: options.cacheDir, namespace, algorithms, log: options.logger }) }
  } catch (err) {
    const cacheProblem = `Cannot use the cache directory "${options.cacheDir}": ${describeErrno(err)}`
    options.logger.warn({ err, cacheDir: options.cacheDir }, `${cacheProblem}; facts are kept in memory only`)
    return { facts: new MemoryFactsStore(), cacheProblem }
  }
}

/** What checks passwords, so the daemon can reload and stop it. */
export interface AuthServices {
  /** undefined without a password file. */
  readonly authenticator: Authenticator | undefined
  readonly passwords: PasswordFile | undefined
  /** Failed logins per client address, counted across every protected route. */
  readonly throttle: FailureThrottle
  /** Stop the password worker. */
  close(): Promise<void>
}

// Logins waiting for the password worker at most; more are refused with 503 at once (a flood
// of logins costs one core).
const LOGIN_QUEUE = 32

/** Load the password file (a PasswordFileError when it cannot be used) and start the password worker. */
export async function createAuthServices(options: {
  readonly passwordFile: string | undefined
  readonly authFailureLimit: number
  readonly logger: FastifyBaseLogger
}): Promise<AuthServices> {
  const throttle = new FailureThrottle({ limit: options.authFailureLimit })
  if (options.passwordFile === undefined) {
    return { authenticator: undefined, passwords: undefined, throttle, close: () => Promise.resolve() }
  }
  const passwords = await PasswordFile.load(options.passwordFile, options.logger)
  const worker = new PasswordWorker({
    maxQueued: LOGIN_QUEUE,
    log: options.logger.child({ component: 'password-worker' }),
  })
  const authenticator = new Authenticator({ passwords, worker })
  return { authenticator, passwords, throttle, close: () => worker.close() }
}
