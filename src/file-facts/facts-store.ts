// Where remembered facts live: a plain map, or the persistent cache (facts-log.ts).
import type { FileFacts } from '../core/index-model.js'

/** Facts by file identity. */
export interface FactsStore {
  get(identity: string): FileFacts | undefined
  set(identity: string, facts: FileFacts): void
  delete(identity: string): void
  readonly size: number
  /** Every identity with its facts (what a new process serving the same tree starts from). */
  entries(): IterableIterator<[string, FileFacts]>
}

/** Facts kept in memory for the life of the process. */
export class MemoryFactsStore implements FactsStore {
  readonly #facts = new Map<string, FileFacts>()

  get(identity: string): FileFacts | undefined {
    return this.#facts.get(identity)
  }

  set(identity: string, facts: FileFacts): void {
    this.#facts.set(identity, facts)
  }

  delete(identity: string): void {
    this.#facts.delete(identity)
  }

  get size(): number {
    return this.#facts.size
  }

  entries(): IterableIterator<[string, FileFacts]> {
    return this.#facts.entries()
  }
}
