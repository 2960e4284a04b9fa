// The persistent cache of file facts: an append-only log of checksummed records, one per line,
// in the cache directory, shared by any number of processes without locks (docs/cache.md):
// - an append is one write() on an O_APPEND descriptor, so records from several processes
//   never interleave; a crash can only leave a torn last line, which its checksum rejects;
// - an append counts as done only when, after it, the cache path still leads to the file it
//   went to; otherwise another process took that file away to compact it, perhaps after
//   reading it, and the batch is written again to the new file;
// - compaction takes the file away (rename), reads it whole, and puts the merged result at the
//   path only where there is no file (link); see facts-files.ts.
// Anything that fails its checksum is logged and skipped, never trusted; a file that is not an
// eggserve cache is replaced. Caching never makes the server fail: errors here are logged.
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { access, open, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import type { HashAlgorithm } from '../core/digests.js'
import type { FileFacts } from '../core/index-model.js'
import { errnoCode } from '../errors.js'
import { makeDirectory } from '../storage/make-directory.js'
import { readFactsFile, WORKER_FROM_BYTES } from './facts-file-read.js'
import { putNew, syncDir, takeAway } from './facts-files.js'
import { encode, header, parseLog } from './facts-record.js'
import { PackedFactsMap, type FactsStore } from './facts-store.js'
import { hasDigest, unpackFacts, type StoredFileFacts } from './packed-facts.js'

/** How often one batch is written again because the file was replaced under it, before giving up. */
const APPEND_ATTEMPTS = 5

/** Options of FactsLog.open(). */
export interface FactsLogOptions {
  readonly dir: string
  /** What the cache is for (the eggdir's real path): one log per eggdir. */
  readonly namespace: string
  /** Digests the facts must hold to be used (records from another --hash-algo may lack one). */
  readonly algorithms: readonly HashAlgorithm[]
  readonly log: FastifyBaseLogger
  /** How long appends are gathered before one write (default 100 ms). */
  readonly flushDelayMs?: number
  /** A cache file this large or larger is read in a worker thread (default WORKER_FROM_BYTES). */
  readonly workerFromBytes?: number
}

/** What loading the log found. */
export interface FactsLogStats {
  loaded: number
  corrupt: number
  appended: number
  compactions: number
  /** The file was read in a worker thread. */
  readInWorker: boolean
}

/** Facts by identity, in memory, mirrored to an append-only log on disk. */
export class FactsLog implements FactsStore {
  readonly stats: FactsLogStats = {
    loaded: 0,
    corrupt: 0,
    appended: 0,
    compactions: 0,
    readInWorker: false,
  }
  readonly path: string
  readonly #options: FactsLogOptions
  readonly #log: FastifyBaseLogger
  readonly #facts = new PackedFactsMap()
  #pending: string[] = []
  #timer: NodeJS.Timeout | undefined
  #open: OpenFile | undefined
  /** Identities deleted since the last compaction: not merged back from the file. */
  readonly #deleted = new Set<string>()
  #writing: Promise<void> = Promise.resolve()
  /** Records in the file, live or not: compaction is worth it when most are dead. */
  #records = 0
  #loaded: Promise<void> = Promise.resolve()

  private constructor(options: FactsLogOptions, path: string) {
    this.#options = options
    this.#log = options.log.child({ component: 'facts-cache' })
    this.path = path
  }

  /**
   * Open (or create) the log for `namespace` in `dir` and load what it holds. Rejects with the
   * system error when `dir` cannot be created or written (the caller runs without a cache).
   */
  static async open(options: FactsLogOptions): Promise<FactsLog> {
    const store = await FactsLog.opening(options)
    await store.loaded
    return store
  }

  /**
   * open(), but resolved before the file is read: `loaded` says when it has been. Until then
   * the store holds nothing, so nothing may use it: a warm start lists the tree meanwhile (the
   * file is read in a worker thread when large), and IndexService.load() waits for `loaded`.
   */
  static async opening(options: FactsLogOptions): Promise<FactsLog> {
    await makeDirectory(options.dir, 0o700)
    // Refused now rather than by every later write: compaction creates and renames files there.
    await access(options.dir, constants.W_OK | constants.X_OK)
    const name = createHash('sha256').update(options.namespace).digest('hex').slice(0, 16)
    const store = new FactsLog(options, join(options.dir, `facts-${name}.log`))
    store.#loaded = store.#load().then(async (clean) => {
      if (!clean) await store.compact()
    })
    return store
  }

  /** Resolves (never rejects) once the file has been read: see opening(). */
  get loaded(): Promise<void> {
    return this.#loaded
  }

  get size(): number {
    return this.#facts.size
  }

  get(identity: string): FileFacts | undefined {
    return this.#facts.get(identity)
  }

  has(identity: string): boolean {
    return this.#facts.has(identity)
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

  set(identity: string, facts: FileFacts): void {
    this.#facts.set(identity, facts)
    this.#pending.push(encode(identity, facts))
    this.#timer ??= setTimeout(() => {
      void this.flush()
    }, this.#options.flushDelayMs ?? 100).unref()
  }

  delete(identity: string): void {
    // Dropped from memory now; from the file at the next compaction.
    this.#facts.delete(identity)
    this.#deleted.add(identity)
  }

  /** True when the file holds mostly records of files that are gone (or duplicates). */
  get wantsCompaction(): boolean {
    return this.#records > 1000 && this.#records > 2 * this.#facts.size
  }

  /** Write what is pending. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const lines = this.#pending
    this.#pending = []
    if (lines.length === 0) return this.#writing
    this.#writing = this.#writing.then(
      () => this.#append(lines.join('')),
      () => this.#append(lines.join('')),
    )
    return this.#writing
  }

  /**
   * Rewrite the file with the current entries only (those in `live`, when given), merged with
   * what other processes appended since this one loaded it.
   */
  async compact(live?: ReadonlySet<string>): Promise<void> {
    if (live !== undefined) {
      for (const identity of this.#facts.keys()) if (!live.has(identity)) this.#facts.delete(identity)
    }
    await this.flush()
    const work = async (): Promise<void> => {
      const entries = await this.#takeFile(live)
      const records = [...entries].map(([identity, facts]) => encode(identity, unpackFacts(facts))).join('')
      // Another process made a file in between (an append, or its own compaction): add to it.
      if (await putNew(this.path, header(this.#options.namespace) + records)) await syncDir(this.#options.dir)
      else await this.#append(records)
      await this.#closeFile()
      this.#records = entries.size
      this.#deleted.clear()
      this.stats.compactions++
    }
    this.#writing = this.#writing.then(work, work).catch((err: unknown) => {
      this.#log.warn({ err }, 'Cannot compact the cache file; it keeps working as it is')
    })
    return this.#writing
  }

  // Take the file away and merge its records (other processes' too) with this one's, which win.
  async #takeFile(live: ReadonlySet<string> | undefined): Promise<Map<string, StoredFileFacts>> {
    const entries = new Map<string, StoredFileFacts>()
    const bytes = await takeAway(this.path)
    if (bytes !== undefined) {
      const { algorithms, namespace } = this.#options
      parseLog(bytes, namespace, (identity, facts) => {
        if (this.#deleted.has(identity) || (live !== undefined && !live.has(identity))) return
        // Kept in the file even when this process cannot use them (another --hash-algo can).
        entries.set(identity, facts)
        if (!this.#facts.has(identity) && algorithms.every((algorithm) => hasDigest(facts, algorithm)))
          this.#facts.setStored(identity, facts)
      })
    }
    for (const [identity, facts] of this.#facts.stored()) entries.set(identity, facts)
    return entries
  }

  /** Flush and release the file. */
  async close(): Promise<void> {
    // A close while the file is still read (start-up failed meanwhile) waits for it.
    await this.#loaded
    await this.flush()
    await this.#writing
    await this.#closeFile()
  }

  // Returns false when the file needs rewriting (corrupt records, a torn tail, a foreign header).
  async #load(): Promise<boolean> {
    const { algorithms, namespace } = this.#options
    let read: Awaited<ReturnType<typeof readFactsFile>>
    try {
      read = await readFactsFile(
        { path: this.path, namespace, algorithms },
        this.#options.workerFromBytes ?? WORKER_FROM_BYTES,
      )
    } catch (err) {
      this.#log.warn({ err }, 'Cannot read the cache file; starting with an empty cache')
      return false
    }
    this.stats.readInWorker = read.inWorker
    const parsed = read.contents
    if (parsed === undefined) return false
    if (parsed.foreign) {
      this.#log.warn(
        { path: this.path },
        'The cache file is not an eggserve cache of this eggdir (or of another version); rebuilding it',
      )
      return false
    }
    const { identities, facts } = parsed
    for (let i = 0; i < identities.length; i++) {
      const identity = identities[i]
      const stored = facts[i]
      if (identity !== undefined && stored !== undefined) this.#facts.setStored(identity, stored)
    }
    this.#records = parsed.records
    this.stats.loaded = this.#facts.size
    this.stats.corrupt = parsed.corrupt
    if (parsed.corrupt > 0) {
      this.#log.warn(
        { corrupt: parsed.corrupt, path: this.path },
        'Ignored corrupt or torn records in the cache file; rewriting it',
      )
    }
    return parsed.corrupt === 0
  }

  async #append(text: string): Promise<void> {
    const bytes = Buffer.from(text)
    const count = text.split('\n').length - 1
    try {
      for (let attempt = 1; ; attempt++) {
        const file = await this.#file()
        // One write() per batch: O_APPEND keeps concurrent writers' records whole.
        const { bytesWritten } = await file.handle.write(bytes)
        if (bytesWritten !== bytes.length)
          throw new Error(`Short write to the cache file (${bytesWritten} of ${bytes.length} bytes)`)
        if (await this.#leadsTo(file)) break
        // Taken away by a compaction, perhaps after it read the file: write the batch again.
        await this.#closeFile()
        if (attempt === APPEND_ATTEMPTS)
          throw new Error(`The cache file was replaced ${APPEND_ATTEMPTS} times while appending to it`)
      }
      this.stats.appended += count
      this.#records += count
    } catch (err) {
      this.#log.warn({ err }, 'Cannot write to the cache file; facts will be computed again after a restart')
    }
  }

  // Whether the cache path still leads to `file` (a path that cannot be looked at does not).
  async #leadsTo(file: OpenFile): Promise<boolean> {
    const current = await stat(this.path).catch(() => undefined)
    return current?.ino === file.ino && current.dev === file.dev
  }

  // The open log; opened (made, when there is none) again after a compaction replaced it.
  async #file(): Promise<OpenFile> {
    if (this.#open !== undefined) return this.#open
    for (let attempt = 1; ; attempt++) {
      try {
        // No O_CREAT: a file is only ever put at the path whole, header included, by putNew().
        const handle = await open(this.path, constants.O_WRONLY | constants.O_APPEND)
        const { ino, dev } = await handle.stat().catch(async (err: unknown) => {
          await handle.close()
          throw err
        })
        this.#open = { handle, ino, dev }
        return this.#open
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT' || attempt === APPEND_ATTEMPTS) throw err
      }
      // Another process may have made it meanwhile (putNew answers false): open that one.
      await putNew(this.path, header(this.#options.namespace))
    }
  }

  async #closeFile(): Promise<void> {
    const file = this.#open
    this.#open = undefined
    await file?.handle.close()
  }
}

/** The log as opened, with the identity of the file it opened. */
interface OpenFile {
  readonly handle: FileHandle
  readonly ino: number
  readonly dev: number
}
