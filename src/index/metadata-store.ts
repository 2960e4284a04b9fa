// Core metadata bytes on demand (PEP 658 `.metadata` files, the PyPI JSON API), read from the
// archive by random access and kept in a small byte-bounded LRU keyed by file identity.
import type { FastifyBaseLogger } from 'fastify'
import { randomAccessSource, readCoreMetadata } from '../archives/read-core-metadata.js'
import type { DistFile } from '../core/index-model.js'
import type { Storage } from '../storage/storage.js'

/** Metadata bytes of the file as it is now (which may be newer than the one asked for). */
export interface MetadataBytes {
  readonly bytes: Buffer
  /** Identity of the file the bytes were read from. */
  readonly identity: string
}

/** Reads and remembers distributions' core metadata. */
export class CoreMetadataStore {
  readonly #storage: Storage
  readonly #log: FastifyBaseLogger
  readonly #maxBytes: number
  readonly #cache = new Map<string, Buffer>()
  #bytes = 0

  constructor (options: { storage: Storage; log: FastifyBaseLogger; maxBytes?: number }) {
    this.#storage = options.storage
    this.#log = options.log.child({ component: 'metadata' })
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024
  }

  /** The exact core metadata bytes of `file`, or undefined when the file has none (or is gone). */
  async read (file: DistFile): Promise<MetadataBytes | undefined> {
    const cached = this.#cache.get(file.identity)
    if (cached !== undefined) {
      this.#cache.delete(file.identity)
      this.#cache.set(file.identity, cached)
      return { bytes: cached, identity: file.identity }
    }
    const opened = await this.#storage.open(file.key, { expected: file.identity })
    if (opened === undefined) return undefined
    try {
      const read = await readCoreMetadata(randomAccessSource(opened), file.parsed, file.filename)
      if (!read.ok) {
        this.#log.debug({ key: file.key, code: read.code }, read.reason)
        return undefined
      }
      this.#remember(opened.file.identity, read.bytes)
      return { bytes: read.bytes, identity: opened.file.identity }
    } finally {
      await opened.close()
    }
  }

  /** Keep metadata bytes read elsewhere (from an upload, before it was published) for a file identity. */
  remember (identity: string, bytes: Buffer): void {
    if (!this.#cache.has(identity)) this.#remember(identity, bytes)
  }

  #remember (identity: string, bytes: Buffer): void {
    if (bytes.length > this.#maxBytes) return
    this.#cache.set(identity, bytes)
    this.#bytes += bytes.length
    for (const [key, value] of this.#cache) {
      if (this.#bytes <= this.#maxBytes) break
      this.#cache.delete(key)
      this.#bytes -= value.length
    }
  }
}
