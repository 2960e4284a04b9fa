// The size cap of the upstream file cache (--upstream-cache-max): which cached files to evict,
// least recently used first. Pure bookkeeping; UpstreamFiles does the unlinking.
//
// Not lru-cache: it evicts strictly its least recent entry, and a file that a client is being
// sent (or that is still arriving) must be skipped, not evicted; and its size total cannot count
// the bytes of a file that is gone from the cache but still open (removed while streamed: on
// Linux the unlinked file keeps its blocks until the last descriptor closes). A Map in
// insertion order (delete + set on use) is the whole LRU here.

/** One cached file. */
interface Entry {
  readonly key: string
  readonly size: number
}

/** Files by last use, with their sizes, the files in use, and what to evict to stay under the cap. */
export class FileLru {
  readonly maxBytes: number
  /** Oldest use first. */
  readonly #entries = new Map<string, Entry>()
  /** Clients (or downloads) using a key: its file is not evicted while this is above 0. */
  readonly #users = new Map<string, number>()
  /** Bytes of files removed while in use, still on disk until their last user is done. */
  readonly #lingering = new Map<string, number>()
  #cachedBytes = 0

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes
  }

  /** Bytes the cached files take, including removed files still held open. */
  get totalBytes(): number {
    let lingering = 0
    for (const bytes of this.#lingering.values()) lingering += bytes
    return this.#cachedBytes + lingering
  }

  /** Number of cached files counted. */
  get size(): number {
    return this.#entries.size
  }

  has(key: string): boolean {
    return this.#entries.has(key)
  }

  /** The keys, least recently used first. */
  keys(): string[] {
    return [...this.#entries.keys()]
  }

  /** Count a file (or count it anew, as the most recent); returns the keys to evict now. */
  add(key: string, size: number): string[] {
    this.remove(key)
    this.#entries.set(key, { key, size })
    this.#cachedBytes += size
    return this.#evictable()
  }

  /** Mark `key` as just used. */
  touch(key: string): void {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    this.#entries.delete(key)
    this.#entries.set(key, entry)
  }

  /**
   * Stop counting `key` (evicted, purged, replaced); when it is in use its bytes stay counted
   * until its last user releases it.
   */
  remove(key: string): void {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    this.#entries.delete(key)
    this.#cachedBytes -= entry.size
    if ((this.#users.get(key) ?? 0) > 0) this.#lingering.set(key, (this.#lingering.get(key) ?? 0) + entry.size)
  }

  /** A user starts reading `key` (known or still arriving); returns the release, which returns the keys to evict then. */
  use(key: string): () => string[] {
    this.#users.set(key, (this.#users.get(key) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return []
      released = true
      const left = (this.#users.get(key) ?? 1) - 1
      if (left > 0) {
        this.#users.set(key, left)
        return []
      }
      this.#users.delete(key)
      this.#lingering.delete(key)
      return this.#evictable()
    }
  }

  /** Least recently used files not in use, removed from the count until the total fits the cap. */
  #evictable(): string[] {
    const evicted: string[] = []
    for (const entry of [...this.#entries.values()]) {
      if (this.totalBytes <= this.maxBytes) break
      if ((this.#users.get(entry.key) ?? 0) > 0) continue
      this.remove(entry.key)
      evicted.push(entry.key)
    }
    return evicted
  }
}
