// Where remembered facts live: a plain map, or the persistent cache (facts-log.ts).
import type { FileFacts } from '../core/index-model.js'
import { InternTable } from '../core/intern.js'
import { packFacts, unpackFacts, type StoredFileFacts } from './packed-facts.js'

/** Facts by file identity. */
export interface FactsStore {
  get(identity: string): FileFacts | undefined
  /** get() !== undefined, without making the facts (they are kept packed, see packed-facts.ts). */
  has(identity: string): boolean
  set(identity: string, facts: FileFacts): void
  delete(identity: string): void
  readonly size: number
  /** Every identity with its facts (what a new process serving the same tree starts from). */
  entries(): IterableIterator<[string, FileFacts]>
  /** Every identity, in entries() order. */
  keys(): IterableIterator<string>
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
  // Every entry taken already (a warm start: the cache holds exactly the tree's files): nothing
  // left to copy, and a pass over 100,000 entries saved.
  if (next.size === map.size) return next
  for (const [identity, value] of map) if (!next.has(identity)) next.set(identity, value)
  return next
}

/**
 * A Map of facts kept packed (packed-facts.ts): 100,000 files' facts in about 14 MB of heap
 * rather than 40 MB. Each get() makes the FileFacts anew, as short-lived garbage: a page made
 * once is cached, and a file's facts are asked for when its page is made.
 */
export class PackedFactsMap {
  #facts = new Map<string, StoredFileFacts>()
  /** Requires-Python values, shared by the facts get() makes. */
  readonly #strings = new InternTable(256)

  get size(): number {
    return this.#facts.size
  }

  get(identity: string): FileFacts | undefined {
    const stored = this.#facts.get(identity)
    return stored === undefined ? undefined : unpackFacts(stored, this.#strings)
  }

  has(identity: string): boolean {
    return this.#facts.has(identity)
  }

  set(identity: string, facts: FileFacts): void {
    this.#facts.set(identity, packFacts(facts))
  }

  /** Keep facts already in the stored form (as the cache file's reader makes them). */
  setStored(identity: string, stored: StoredFileFacts): void {
    this.#facts.set(identity, stored)
  }

  delete(identity: string): void {
    this.#facts.delete(identity)
  }

  clear(): void {
    this.#facts.clear()
  }

  *entries(): IterableIterator<[string, FileFacts]> {
    for (const [identity, stored] of this.#facts) yield [identity, unpackFacts(stored, this.#strings)]
  }

  keys(): IterableIterator<string> {
    return this.#facts.keys()
  }

  /** Every identity with its facts in the stored form. */
  stored(): IterableIterator<[string, StoredFileFacts]> {
    return this.#facts.entries()
  }

  /** See FactsStore.adopt(). */
  adopt(identities: Iterable<string>): void {
    this.#facts = rekeyed(this.#facts, identities)
  }
}

/** Facts kept in memory for the life of the process. */
export class MemoryFactsStore implements FactsStore {
  readonly #facts = new PackedFactsMap()

  get(identity: string): FileFacts | undefined {
    return this.#facts.get(identity)
  }

  has(identity: string): boolean {
    return this.#facts.has(identity)
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

  keys(): IterableIterator<string> {
    return this.#facts.keys()
  }

  adopt(identities: Iterable<string>): void {
    this.#facts.adopt(identities)
  }
}
