// Snapshots of a bucket tree's listings, so that a replica starts without listing every
// project folder: at start-up it takes the newest usable snapshot (its own copy in the cache
// folder, or the bucket's newest), replays the journal records written after it, and answers
// the index's start-up listings from that. A folder a replayed record names is listed again;
// a file copied in by hand (reported by no journal) shows once the listings' trust runs out
// (--reconcile-interval), as after a listing. Snapshots are written by the replica that
// appends every `every`-th journal record, and at start-up when none was usable or the replay
// was long; the journal keeps what the newest snapshot does not cover (s3-journal.ts).
import type { S3Context } from './s3-context.js'
import type { S3Journal } from './s3-journal.js'
import { folderToken, type S3Listings } from './s3-listing.js'
import { decodeSnapshot, encodeSnapshot, type SnapshotState } from './s3-snapshot-format.js'
import { SnapshotStore } from './s3-snapshot-store.js'
import { splitKey } from './storage.js'

/** How snapshots are kept. */
export interface SnapshotOptions {
  /** The cache folder the local copy lives in (undefined: no local copy) and its file name. */
  readonly local: { readonly dir: string; readonly name: string } | undefined
  /** A snapshot every this many journal records (default 1,000). */
  readonly every: number
}

// After a failed write, the next try waits this long (the journal is polled every second).
const RETRY_MS = 60_000

interface Candidate {
  readonly source: 'local' | 'bucket'
  readonly state: SnapshotState
  readonly bytes: Uint8Array
}

/** Loading and writing the snapshots of one S3Storage. */
export class S3Snapshots {
  readonly #context: S3Context
  readonly #listings: S3Listings
  readonly #journal: S3Journal
  readonly #store: SnapshotStore
  readonly #every: number
  /** A snapshot is due once the journal is followed up to this many records; undefined: none is. */
  #due: number | undefined
  #writing = false
  #retryAt = 0
  #bucketWrites = true

  constructor(context: S3Context, parts: { listings: S3Listings; journal: S3Journal; options: SnapshotOptions }) {
    this.#context = context
    this.#listings = parts.listings
    this.#journal = parts.journal
    this.#store = new SnapshotStore(context, parts.options.local)
    this.#every = parts.options.every
    parts.journal.onAppended = (sequence) => {
      if ((sequence + 1) % this.#every === 0) this.#due = Math.min(this.#due ?? Infinity, sequence + 1)
    }
  }

  /** How many records the bucket's newest snapshot covers (what journal pruning keeps after). */
  async newestCovered(): Promise<number | undefined> {
    return (await this.#store.list())[0]
  }

  /**
   * Prime the listings from the newest usable snapshot and replay the journal after it.
   * Returns the number of journal records the listings now reflect (the tail continues from
   * there), or, with no usable snapshot, the journal's length taken before any listing (so
   * the tail misses nothing the listings to come do not show); undefined when the journal
   * cannot be read.
   */
  async start(): Promise<number | undefined> {
    const { log } = this.#context
    for await (const candidate of this.#candidates()) {
      const covered = await this.#apply(candidate)
      if (covered !== undefined) return covered
    }
    try {
      const covered = await this.#journal.count()
      log.info({ covered }, 'No usable snapshot: listing every folder')
      this.#due = covered
      return covered
    } catch (err) {
      log.warn({ err }, 'Cannot read the change journal at start-up: listing every folder')
      return undefined
    }
  }

  /**
   * This replica fell behind the journal (records before `first` were deleted before it read
   * them): take the bucket's newest snapshot, if it covers them. Returns what the listings now
   * reflect, or undefined (the caller then forgets every listing).
   */
  async catchUp(first: number): Promise<number | undefined> {
    const { log } = this.#context
    const newest = await this.#fromBucket()
    if (newest === undefined || newest.state.covered < first) {
      log.warn({ first }, 'Fell behind the change journal and no snapshot covers the gap: listing folders again')
      return undefined
    }
    return this.#apply(newest)
  }

  /**
   * Write a snapshot as of `covered` records when one is due; one write at a time. The local
   * copy first (a read-only server keeps one too), then the bucket's, unless the credentials
   * were found not to allow it. A failure is tried again a minute later.
   */
  async maybeWrite(covered: number | undefined): Promise<void> {
    if (this.#due === undefined || covered === undefined || covered < this.#due) return
    if (this.#writing || Date.now() < this.#retryAt) return
    this.#writing = true
    const { log } = this.#context
    try {
      const state = { ...(await this.#listings.current()), covered }
      const bytes = await encodeSnapshot(state, this.#context)
      await this.#store.writeLocal(bytes)
      const written = this.#bucketWrites ? await this.#store.write(covered, bytes) : 'denied'
      if (this.#due <= covered) this.#due = undefined
      if (written === true)
        await this.#store.prune().catch((err: unknown) => {
          log.debug({ err }, 'Cannot delete old snapshots; the next writer tries again')
        })
      if (written === 'denied' && this.#bucketWrites) {
        this.#bucketWrites = false
        log.warn('The credentials may not write snapshots to the bucket: only the local copy is kept')
      }
      log.info(
        { covered, folders: state.listings.size, bytes: bytes.length, inBucket: written },
        written === false
          ? 'Another replica wrote the snapshot at this position first'
          : 'Wrote a snapshot of the listings',
      )
    } catch (err) {
      log.warn({ err }, 'Cannot write a snapshot of the listings; trying again in a minute')
      this.#retryAt = Date.now() + RETRY_MS
    } finally {
      this.#writing = false
    }
  }

  // The local copy and the bucket's newest, the one covering more first (the local copy on a tie:
  // no request). A snapshot that cannot be used is logged and skipped.
  async *#candidates(): AsyncGenerator<Candidate> {
    const local = await this.#decode(await this.#store.readLocal(), 'local')
    let positions: number[] = []
    try {
      positions = await this.#store.list()
    } catch (err) {
      this.#context.log.warn({ err }, 'Cannot list the snapshots in the bucket')
    }
    const newest = positions[0]
    if (local !== undefined && (newest === undefined || local.state.covered >= newest)) yield local
    for (const covered of positions.slice(0, 2)) {
      if (local !== undefined && covered <= local.state.covered) break
      const candidate = await this.#read(covered)
      if (candidate !== undefined) {
        yield candidate
        break
      }
    }
    if (local !== undefined && newest !== undefined && local.state.covered < newest) yield local
  }

  async #fromBucket(): Promise<Candidate | undefined> {
    const newest = (await this.#store.list())[0]
    return newest === undefined ? undefined : this.#read(newest)
  }

  async #read(covered: number): Promise<Candidate | undefined> {
    try {
      return await this.#decode(await this.#store.read(covered), 'bucket', covered)
    } catch (err) {
      this.#context.log.warn({ err, covered }, 'Cannot read a snapshot from the bucket; ignoring it')
      return undefined
    }
  }

  async #decode(
    bytes: Uint8Array | undefined,
    source: Candidate['source'],
    named?: number,
  ): Promise<Candidate | undefined> {
    if (bytes === undefined) return undefined
    const decoded = await decodeSnapshot(bytes, this.#context, folderToken)
    let reason = decoded.ok ? undefined : decoded.reason
    if (decoded.ok && named !== undefined && decoded.state.covered !== named)
      reason = `named for ${String(named)} journal records, holds ${String(decoded.state.covered)}`
    if (!decoded.ok || reason !== undefined) {
      this.#context.log.warn({ source, reason }, `Ignoring a snapshot that cannot be used (${reason ?? ''})`)
      return undefined
    }
    return { source, state: decoded.state, bytes }
  }

  // The journal after the snapshot is read before anything is trusted: a snapshot whose last
  // record was pruned cannot be brought up to date, and is not used.
  async #apply(candidate: Candidate): Promise<number | undefined> {
    const { log } = this.#context
    const { state, source } = candidate
    const replay = await this.#journal.replay(state.covered).catch((err: unknown) => {
      log.warn({ err }, 'Cannot read the change journal after a snapshot; not using it')
      return undefined
    })
    if (replay === undefined) {
      log.warn(
        { source, covered: state.covered },
        'Ignoring a snapshot older than what the change journal still holds (stale)',
      )
      return undefined
    }
    this.#listings.prime(state)
    for (const record of replay.records) {
      const parts = splitKey(record.key)
      if (parts !== undefined) this.#listings.replayed(parts.folder, record.op)
    }
    log.info(
      { source, covered: state.covered, replayed: replay.records.length, folders: state.listings.size },
      'Loaded the listings from a snapshot',
    )
    if (source === 'bucket') await this.#store.writeLocal(candidate.bytes)
    if (replay.records.length >= this.#every) this.#due = replay.next
    return replay.next
  }
}
