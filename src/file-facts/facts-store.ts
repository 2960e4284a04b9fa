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
  /**
   * Hold the facts of each of `identities` under that very string from now on (identities not
   * held are passed over). A listing's identity strings live as long as their files are
   * indexed; the store's own copies (read from the cache file) held the same text a second
   * time for every file.
   */
  adopt(identities: Iterable<string>): void
}

/**
 * `map` keyed by the strings of `identities` where they are keys of it, every other entry as it
 * was. A Map keeps the key it was first given, so it is built anew, in one pass: deleting and
 * setting entries one by one made V8 double the table, which cost more than the strings saved.
 */
export function rekeyed<V>(map: ReadonlyMap<string, V>, identities: Iterable<string>): Map<string, V> {
  const next = new Map<string, V>()
  for (const identity of identities) {
    const value = map.get(identity)
    if (value !== undefined) next.set(identity, value)
  }
  for (const [identity, value] of map) if (!next.has(identity)) next.set(identity, value)
  return next
}

/** Facts kept in memory for the life of the process. */
export class MemoryFactsStore implements FactsStore {
  #facts = new Map<string, FileFacts>()

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

  adopt(identities: Iterable<string>): void {
    this.#facts = rekeyed(this.#facts, identities)
  }
}
