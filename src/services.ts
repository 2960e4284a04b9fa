// Wiring of the index: storage, hasher (with its decorators) and the index service.
// Shared by the daemon and the tests, so both run exactly the same parts.
import type { FastifyBaseLogger } from 'fastify'
import { algorithmsFor, type HashAlgorithm } from './core/digests.js'
import { FairScheduler } from './hashing/fair-scheduler.js'
import { MemoizingHasher, StreamingHasher } from './hashing/hasher.js'
import { IndexService } from './index/index-service.js'
import { LocalStorage } from './storage/local-storage.js'

// Files hashed at once. Bounded so a cold folder of thousands of files cannot exhaust descriptors.
const DEFAULT_HASH_CONCURRENCY = 8

/** The parts behind the HTTP routes. */
export interface IndexServices {
  readonly storage: LocalStorage
  /** The hasher that really reads files; its stats count the work done. */
  readonly streamingHasher: StreamingHasher
  readonly index: IndexService
}

/** Options of createIndexServices. */
export interface IndexServicesOptions {
  readonly eggdir: string
  readonly hashAlgorithm: HashAlgorithm
  readonly logger: FastifyBaseLogger
  readonly hashConcurrency?: number
}

/** Open the eggdir and build the index over it (not loaded yet: call index.load()). */
export async function createIndexServices (options: IndexServicesOptions): Promise<IndexServices> {
  const storage = await LocalStorage.create(options.eggdir, options.logger)
  const streamingHasher = new StreamingHasher({
    storage,
    algorithms: algorithmsFor(options.hashAlgorithm),
    scheduler: new FairScheduler(options.hashConcurrency ?? DEFAULT_HASH_CONCURRENCY),
  })
  const index = new IndexService({ storage, hasher: new MemoizingHasher(streamingHasher), log: options.logger })
  return { storage, streamingHasher, index }
}
