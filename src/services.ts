// Wiring of the index: storage, analyzer (with its decorators) and the index service.
// Shared by the daemon and the tests, so both run exactly the same parts.
import type { FastifyBaseLogger } from 'fastify'
import { MemoizingAnalyzer, StreamingAnalyzer } from './analysis/analyzer.js'
import { FairScheduler } from './analysis/fair-scheduler.js'
import { algorithmsFor, type HashAlgorithm } from './core/digests.js'
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
