// The persistent cache of file facts: an append-only log of checksummed records, one per line,
// in the cache directory. Crash-safe without locks:
// - an append is one write() on an O_APPEND descriptor, so records from several processes
//   never interleave; a crash can only leave a torn last line, which its checksum rejects;
// - compaction (pruning entries of deleted files) writes a new file, fsyncs it and renames it
//   over the old one; a process still appending to the old file notices the new inode and
//   reopens (what it wrote in between is only lost cache, never corruption).
// Anything that fails its checksum is logged and skipped, never trusted; a file that is not an
// eggserve cache is replaced. Caching never makes the server fail: errors here are logged.
import { createHash, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, open, readFile, rename, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { FastifyBaseLogger } from 'fastify'
import { isHashAlgorithm, type HashAlgorithm } from '../core/digests.js'
import type { FileFacts } from '../core/index-model.js'
import { errnoCode } from '../errors.js'
import { makeDirectory } from '../storage/make-directory.js'
import type { FactsStore } from './facts-store.js'

const FORMAT = 'eggserve-facts 2'

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
}

/** What loading the log found. */
export interface FactsLogStats {
  loaded: number
  corrupt: number
  appended: number
  compactions: number
}

/** Facts by identity, in memory, mirrored to an append-only log on disk. */
export class FactsLog implements FactsStore {
  readonly stats: FactsLogStats = { loaded: 0, corrupt: 0, appended: 0, compactions: 0 }
  readonly path: string
  readonly #options: FactsLogOptions
  readonly #log: FastifyBaseLogger
  readonly #facts = new Map<string, FileFacts>()
  #pending: string[] = []
  #timer: NodeJS.Timeout | undefined
  #handle: FileHandle | undefined
  #writing: Promise<void> = Promise.resolve()
  /** Records in the file, live or not: compaction is worth it when most are dead. */
  #records = 0

  private constructor (options: FactsLogOptions, path: string) {
    this.#options = options
    this.#log = options.log.child({ component: 'facts-cache' })
    this.path = path
  }

  /**
   * Open (or create) the log for `namespace` in `dir` and load what it holds. Rejects with the
   * system error when `dir` cannot be created or written (the caller runs without a cache).
   */
  static async open (options: FactsLogOptions): Promise<FactsLog> {
    await makeDirectory(options.dir, 0o700)
    // Refused now rather than by every later write: compaction creates and renames files there.
    await access(options.dir, constants.W_OK | constants.X_OK)
    const name = createHash('sha256').update(options.namespace).digest('hex').slice(0, 16)
    const store = new FactsLog(options, join(options.dir, `facts-${name}.log`))
    const clean = await store.#load()
    if (!clean) await store.compact()
    return store
  }

  get size (): number {
    return this.#facts.size
  }

  get (identity: string): FileFacts | undefined {
    return this.#facts.get(identity)
  }

  set (identity: string, facts: FileFacts): void {
    this.#facts.set(identity, facts)
    this.#pending.push(encode(identity, facts))
    this.#timer ??= setTimeout(() => { void this.flush() }, this.#options.flushDelayMs ?? 100).unref()
  }

  delete (identity: string): void {
    // Dropped from memory now; from the file at the next compaction.
    this.#facts.delete(identity)
  }

  /** True when the file holds mostly records of files that are gone (or duplicates). */
  get wantsCompaction (): boolean {
    return this.#records > 1000 && this.#records > 2 * this.#facts.size
  }

  /** Write what is pending. */
  async flush (): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const lines = this.#pending
    this.#pending = []
    if (lines.length === 0) return this.#writing
    this.#writing = this.#writing.then(() => this.#append(lines.join('')), () => this.#append(lines.join('')))
    return this.#writing
  }

  /** Rewrite the file with the current entries only (those in `live`, when given), atomically. */
  async compact (live?: ReadonlySet<string>): Promise<void> {
    if (live !== undefined) {
      for (const identity of this.#facts.keys()) if (!live.has(identity)) this.#facts.delete(identity)
    }
    await this.flush()
    const work = async (): Promise<void> => {
      const tmp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
      const lines = [`${FORMAT} ${this.#options.namespace}\n`]
      for (const [identity, facts] of this.#facts) lines.push(encode(identity, facts))
      const handle = await open(tmp, 'w', 0o600)
      try {
        await handle.writeFile(lines.join(''))
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(tmp, this.path)
      await syncDir(this.#options.dir)
      await this.#handle?.close()
      this.#handle = undefined
      this.#records = this.#facts.size
      this.stats.compactions++
    }
    this.#writing = this.#writing.then(work, work).catch((err: unknown) => {
      this.#log.warn({ err }, 'Cannot compact the cache file; it keeps working as it is')
    })
    return this.#writing
  }

  /** Flush and release the file. */
  async close (): Promise<void> {
    await this.flush()
    await this.#writing
    await this.#handle?.close()
    this.#handle = undefined
  }

  // Returns false when the file needs rewriting (corrupt records, a torn tail, a foreign header).
  async #load (): Promise<boolean> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.path)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false
      this.#log.warn({ err }, 'Cannot read the cache file; starting with an empty cache')
      return false
    }
    // Line by line from the bytes: one big string would stay alive through every slice of it.
    let start = bytes.indexOf(10)
    if (start < 0 || bytes.toString('utf8', 0, start) !== `${FORMAT} ${this.#options.namespace}`) {
      this.#log.warn({ path: this.path }, 'The cache file is not an eggserve cache of this eggdir (or of another version); rebuilding it')
      return false
    }
    start++
    let clean = true
    while (start < bytes.length) {
      const end = bytes.indexOf(10, start)
      if (end < 0) {
        // A torn last line: the crash happened in the middle of a write.
        this.stats.corrupt++
        clean = false
        break
      }
      const entry = decode(bytes, start, end)
      start = end + 1
      if (entry === undefined) {
        this.stats.corrupt++
        clean = false
        continue
      }
      this.#records++
      // Records computed with other algorithms cannot serve this configuration.
      if (this.#options.algorithms.every((algorithm) => entry.facts.digests[algorithm] !== undefined)) this.#facts.set(entry.identity, entry.facts)
    }
    this.stats.loaded = this.#facts.size
    if (this.stats.corrupt > 0) {
      this.#log.warn({ corrupt: this.stats.corrupt, path: this.path }, 'Ignored corrupt or torn records in the cache file; rewriting it')
    }
    return clean
  }

  async #append (text: string): Promise<void> {
    try {
      const handle = await this.#file()
      // One write() per batch: O_APPEND keeps concurrent writers' records whole.
      await handle.write(text)
      this.stats.appended += text.split('\n').length - 1
      this.#records += text.split('\n').length - 1
    } catch (err) {
      this.#log.warn({ err }, 'Cannot write to the cache file; facts will be computed again after a restart')
    }
  }

  // The open log, reopened when another process compacted (replaced) it.
  async #file (): Promise<FileHandle> {
    if (this.#handle !== undefined) {
      // A file that cannot be looked at counts as replaced: opening it again reports why.
      const [mine, current] = await Promise.all([this.#handle.stat(), stat(this.path).catch(() => undefined)])
      if (current?.ino === mine.ino && current.dev === mine.dev) return this.#handle
      await this.#handle.close()
      this.#handle = undefined
    }
    const handle = await open(this.path, 'a', 0o600)
    if ((await handle.stat()).size === 0) await handle.write(`${FORMAT} ${this.#options.namespace}\n`)
    this.#handle = handle
    return handle
  }
}

// A record is one line of tab-separated fields, checksummed:
//   <crc32 hex> TAB <identity> TAB <algo>=<hex>,<algo>=<hex>... TAB <metadata sha256 or -> TAB <Requires-Python as JSON or ->
// Splitting on tabs costs a fraction of JSON.parse, which matters for 100,000 records at start-up.
// Identities and hex digests never hold a tab; Requires-Python is JSON-encoded, which escapes one.
const NONE = '-'

function encode (identity: string, facts: FileFacts): string {
  const digests = Object.entries(facts.digests).map(([algorithm, hex]) => `${algorithm}=${hex}`).join(',')
  const metadata = facts.metadata
  const body = `${identity}\t${digests}\t${metadata?.sha256 ?? NONE}\t${metadata?.requiresPython === undefined ? NONE : JSON.stringify(metadata.requiresPython)}`
  return `${checksum(body)}\t${body}\n`
}

// Fields are cut straight from the bytes: substrings of one line string would be V8 "sliced
// strings" keeping the whole line alive, for every digest of 100,000 records.
function decode (bytes: Buffer, start: number, end: number): { identity: string; facts: FileFacts } | undefined {
  const bodyStart = start + 9
  if (end - start < 10 || bytes[start + 8] !== 9) return undefined
  if (crc32(bytes.subarray(bodyStart, end)).toString(16).padStart(8, '0') !== bytes.toString('latin1', start, start + 8)) return undefined
  const tabs: number[] = []
  for (let i = bodyStart; i < end; i++) if (bytes[i] === 9) tabs.push(i)
  if (tabs.length !== 3) return undefined
  const [t1 = 0, t2 = 0, t3 = 0] = tabs
  const identity = bytes.toString('utf8', bodyStart, t1)
  const digests: Partial<Record<HashAlgorithm, string>> = {}
  for (let pair = t1 + 1; pair < t2;) {
    const comma = bytes.indexOf(44, pair)
    const pairEnd = comma < 0 || comma > t2 ? t2 : comma
    const eq = bytes.indexOf(61, pair)
    if (eq < 0 || eq > pairEnd) return undefined
    const algorithm = bytes.toString('latin1', pair, eq)
    if (!isHashAlgorithm(algorithm)) return undefined
    digests[algorithm] = bytes.toString('latin1', eq + 1, pairEnd)
    pair = pairEnd + 1
  }
  const metadataSha = bytes.toString('latin1', t2 + 1, t3)
  if (metadataSha === NONE) return { identity, facts: { digests } }
  const requiresPython = bytes.toString('utf8', t3 + 1, end)
  if (requiresPython === NONE) return { identity, facts: { digests, metadata: { sha256: metadataSha } } }
  let parsed: unknown
  try {
    parsed = JSON.parse(requiresPython)
  } catch {
    return undefined
  }
  return typeof parsed === 'string' ? { identity, facts: { digests, metadata: { sha256: metadataSha, requiresPython: parsed } } } : undefined
}

function checksum (text: string): string {
  return crc32(text).toString(16).padStart(8, '0')
}

// What fsync(2) of a directory answers where the filesystem does not support it; PostgreSQL's
// fsync_fname_ext (src/backend/storage/file/fd.c) ignores EBADF and EINVAL for directories too.
const SYNC_UNSUPPORTED = new Set(['EINVAL', 'EBADF', 'ENOTSUP', 'EOPNOTSUPP'])

async function syncDir (dir: string): Promise<void> {
  // The rename is durable only once the directory itself is on disk.
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } catch (err) {
    // Not supported: as durable as this filesystem gets. Anything else (EIO) fails the compaction.
    if (!SYNC_UNSUPPORTED.has(errnoCode(err) ?? '')) throw err
  } finally {
    await handle.close()
  }
}
