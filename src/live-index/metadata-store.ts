// Core metadata bytes on demand (PEP 658 `.metadata` files, the PyPI JSON API), read from the
// archive by random access and kept in a byte-bounded lru-cache keyed by file identity;
// concurrent reads of one file share one read.
import type { FastifyBaseLogger } from 'fastify'
import { LRUCache } from 'lru-cache'
import { randomAccessSource, readCoreMetadata } from '../archives/read-core-metadata.js'
import type { DistFile } from '../core/index-model.js'
import type { CacheMeter } from '../core/metrics.js'
import type { Storage } from '../storage/storage.js'

/** Metadata bytes of the file as it is now (which may be newer than the one asked for). */
export interface MetadataBytes {
  readonly bytes: Buffer
  /** Identity of the file the bytes were read from. */
  readonly identity: string
}

// The entry's objects and lru-cache's bookkeeping, beyond the bytes and the key.
const ENTRY_OVERHEAD = 256

/** Reads and remembers distributions' core metadata. */
export class CoreMetadataStore {
  readonly #storage: Storage
  readonly #log: FastifyBaseLogger
  readonly #cache: LRUCache<string, MetadataBytes, DistFile>
  readonly #meter: CacheMeter | undefined

  /** `meter` counts hits and misses (eggserve_cache_*_total{cache="metadata"}). */
  constructor(options: { storage: Storage; log: FastifyBaseLogger; maxBytes?: number; meter?: CacheMeter }) {
    this.#storage = options.storage
    this.#meter = options.meter
    this.#log = options.log.child({ component: 'metadata' })
    this.#cache = new LRUCache<string, MetadataBytes, DistFile>({
      maxSize: options.maxBytes ?? 16 * 1024 * 1024,
      sizeCalculation: (value, key) => value.bytes.length + (key.length + value.identity.length) * 2 + ENTRY_OVERHEAD,
      // Undefined (no readable metadata, or the file is gone) is answered but never kept.
      fetchMethod: (_identity, _stale, { context }) => this.#readFile(context),
      ignoreFetchAbort: true,
    })
  }

  /** Bytes held (metadata, keys and an estimate of the bookkeeping). */
  get bytes(): number {
    return this.#cache.calculatedSize
  }

  /** The exact core metadata bytes of `file`, or undefined when the file has none (or is gone). */
  async read(file: DistFile): Promise<MetadataBytes | undefined> {
    const cached = this.#cache.get(file.identity)
    if (cached !== undefined) {
      this.#meter?.hit()
      return cached
    }
    this.#meter?.miss()
    return this.#cache.fetch(file.identity, { context: file })
  }

  /** Keep metadata bytes read elsewhere (from an upload, before it was published) for a file identity. */
  remember(identity: string, bytes: Buffer): void {
    if (!this.#cache.has(identity)) this.#cache.set(identity, { bytes, identity })
  }

  async #readFile(file: DistFile): Promise<MetadataBytes | undefined> {
    const opened = await this.#storage.open(file.key, { expected: file.identity })
    if (opened === undefined) return undefined
    try {
      const read = await readCoreMetadata(randomAccessSource(opened), file.parsed, file.filename)
      if (!read.ok) {
        this.#log.debug({ key: file.key, code: read.code }, read.reason)
        return undefined
      }
      // The file may have changed since the index saw it: these are the bytes of the file as
      // it is now, under its own identity too (the next listing will ask for that one).
      const found = { bytes: read.bytes, identity: opened.file.identity }
      if (found.identity !== file.identity) this.remember(found.identity, found.bytes)
      return found
    } finally {
      await opened.close()
    }
  }
}
