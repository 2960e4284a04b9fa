// Facts kept in the store beside the files (a bucket shared by several replicas): read them
// before reading a file, and keep what was computed, so each file is hashed once for every
// replica sharing the store, not once per replica.
import type { FastifyBaseLogger } from 'fastify'
import type { HashAlgorithm } from '../core/digests.js'
import type { DistFile, FileFacts } from '../core/index-model.js'
import type { StoredFacts } from '../storage/storage.js'
import type { AnalysisResult, Analyzer, AnalyzeOptions } from './analyzer.js'

/** Options of StoredFactsAnalyzer. */
export interface StoredFactsAnalyzerOptions {
  readonly stored: StoredFacts
  /** The digests this server needs: stored facts without one of them are computed again. */
  readonly algorithms: readonly HashAlgorithm[]
  readonly log: FastifyBaseLogger
}

/** Asks the stored facts first, the inner analyzer (which reads the file) only when they lack. */
export class StoredFactsAnalyzer implements Analyzer {
  readonly #inner: Analyzer
  readonly #stored: StoredFacts
  readonly #algorithms: readonly HashAlgorithm[]
  readonly #log: FastifyBaseLogger

  constructor(inner: Analyzer, options: StoredFactsAnalyzerOptions) {
    this.#inner = inner
    this.#stored = options.stored
    this.#algorithms = options.algorithms
    this.#log = options.log.child({ component: 'stored-facts' })
  }

  async analyze(file: DistFile, options: AnalyzeOptions): Promise<AnalysisResult> {
    const stored = await this.#stored.read(file).catch((err: unknown) => {
      // Reading the file itself still works, or fails with the real reason.
      this.#log.debug({ err, key: file.key }, 'Cannot read the stored facts of a file; reading the file')
      return undefined
    })
    if (stored !== undefined && this.#complete(stored)) return { file, facts: stored }
    const result = await this.#inner.analyze(file, options)
    await this.#stored.write(result.file, result.facts).catch((err: unknown) => {
      this.#log.debug({ err, key: file.key }, 'Cannot store the facts of a file beside it')
    })
    return result
  }

  remember(identity: string, facts: FileFacts): void {
    this.#inner.remember(identity, facts)
  }

  forget(identity: string): void {
    this.#inner.forget(identity)
  }

  #complete(facts: FileFacts): boolean {
    return this.#algorithms.every((algorithm) => facts.digests[algorithm] !== undefined)
  }
}
