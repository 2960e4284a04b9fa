// Remembering facts by file identity, in memory or in a persistent store.
import type { DistFile, FileFacts } from '../core/index-model.js'
import type { AnalysisResult, Analyzer, AnalyzeOptions } from './analyzer.js'
import { MemoryFactsStore, type FactsStore } from './facts-store.js'

/**
 * Remembers facts by file identity in a FactsStore (memory, or the persistent cache), so an
 * unchanged file is read once, and lets concurrent requests for the same file share one
 * computation. The store is the decorator's only state: caching wraps the analyzer.
 */
export class MemoizingAnalyzer implements Analyzer {
  readonly #inner: Analyzer
  readonly #store: FactsStore
  readonly #inFlight = new Map<string, Promise<AnalysisResult>>()

  constructor(inner: Analyzer, store: FactsStore = new MemoryFactsStore()) {
    this.#inner = inner
    this.#store = store
  }

  /** Number of identities remembered. */
  get size(): number {
    return this.#store.size
  }

  /** True when the facts of this identity are known (no read needed). */
  knows(identity: string): boolean {
    return this.#store.has(identity)
  }

  /**
   * Keep remembered facts under these identity strings (the listing's, which live as long as
   * their files are indexed), so that the text of each is held once. The background work calls
   * it once with every listed file, after warm-up (so after a warm start is ready).
   */
  adopt(identities: Iterable<string>): void {
    this.#store.adopt(identities)
  }

  analyze(file: DistFile, options: AnalyzeOptions): Promise<AnalysisResult> {
    const facts = this.#store.get(file.identity)
    if (facts !== undefined) return Promise.resolve({ file, facts })
    const running = this.#inFlight.get(file.identity)
    if (running !== undefined) return running
    const computed = this.#inner
      .analyze(file, options)
      .then((result) => {
        // The file's own identity string when it is unchanged: the result's is a copy (from a
        // worker thread's message), and the store keeps its key as long as the file is indexed.
        const identity = result.file.identity === file.identity ? file.identity : result.file.identity
        this.#store.set(identity, result.facts)
        return result
      })
      .finally(() => {
        this.#inFlight.delete(file.identity)
      })
    this.#inFlight.set(file.identity, computed)
    return computed
  }

  /** Record facts learnt elsewhere (e.g. computed while a file was uploaded). */
  remember(identity: string, facts: FileFacts): void {
    this.#store.set(identity, facts)
    this.#inner.remember(identity, facts)
  }

  forget(identity: string): void {
    this.#store.delete(identity)
    this.#inner.forget(identity)
  }
}
