// Snapshots of a bucket tree's listings, so that a replica starts without listing every
// project folder: at start-up it takes the newest usable snapshot (its own copy in the cache
// folder, or the bucket's newest), replays the journal records written after it, and answers
// the index's start-up listings from that. A folder a replayed record names is listed again;
// a file copied in by hand (reported by no journal) shows once the listings' trust runs out
// (--reconcile-interval), as after a listing. Snapshots are written by the replica that
// appends every `every`-th journal record, and at start-up when none was usable or the replay
// was long; the journal keeps what the newest snapshot does not cover (s3-journal.ts). A
// snapshot carries the facts known of the files (s3-facts.ts): once the facts learnt since the
// last one stop coming (the files were hashed, or their facts read), a new revision at the same
// position carries them too, so that the next replica reads none of them one by one.
import type { FileFacts } from '../core/index-model.js'
import type { S3Context } from './s3-context.js'
import type { S3StoredFacts } from './s3-facts.js'
import type { S3Journal } from './s3-journal.js'
import { folderToken, type S3Listings } from './s3-listing.js'
import { decodeSnapshot, encodeSnapshot, type SnapshotState } from './s3-snapshot-format.js'
import { comparePositions, SnapshotStore, type SnapshotPosition } from './s3-snapshot-store.js'
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
// A revision with the facts learnt since the last snapshot waits until none came for this long
// (hashing a tree learns them one after the other: one revision at the end, not one a second).
const FACTS_QUIET_MS = 3_000

interface Candidate {
  readonly source: 'local' | 'bucket'
  readonly state: SnapshotState
  readonly bytes: Uint8Array
}

/** Loading and writing the snapshots of one S3Storage. */
export class S3Snapshots {
  readonly #context: S3Context
  readonly #listings: S3Listings
  readonly #facts: S3StoredFacts
  readonly #journal: S3Journal
  readonly #store: SnapshotStore
  readonly #every: number
  /** A snapshot is due once the journal is followed up to this many records; undefined: none is. */
  #due: number | undefined
  #writing = false
  #retryAt = 0
  #bucketWrites = true
  /** The newest snapshot this replica loaded or wrote, and how many facts it had learnt by then. */
  #last: { readonly position: SnapshotPosition; readonly learnt: number } | undefined

  constructor(
    context: S3Context,
    parts: { listings: S3Listings; facts: S3StoredFacts; journal: S3Journal; options: SnapshotOptions },
  ) {
    this.#context = context
    this.#listings = parts.listings
    this.#facts = parts.facts
    this.#journal = parts.journal
    this.#store = new SnapshotStore(context, parts.options.local)
    this.#every = parts.options.every
    parts.journal.onAppended = (sequence) => {
      if ((sequence + 1) % this.#every === 0) this.#due = Math.min(this.#due ?? Infinity, sequence + 1)
    }
  }

  /** How many records the bucket's newest snapshot covers (what journal pruning keeps after). */
  async newestCovered(): Promise<number | undefined> {
    return (await this.#store.list())[0]?.covered
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
    let covered: number | undefined
    try {
      covered = await this.#journal.count()
      log.info({ covered }, 'No usable snapshot: listing every folder')
      this.#due = covered
    } catch (err) {
      log.warn({ err }, 'Cannot read the change journal at start-up: listing every folder')
    }
    // After the journal's length is read: whatever the listing misses, the tail reports.
    await this.#listings.listTree().catch((err: unknown) => {
      log.warn({ err }, 'Cannot list the whole tree at once: listing folder by folder')
    })
    return covered
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
    if (covered === undefined || !(covered >= (this.#due ?? Infinity) || this.#factsDue())) return
    if (this.#writing || Date.now() < this.#retryAt) return
    this.#writing = true
    const { log } = this.#context
    try {
      const learnt = this.#facts.learnt.count
      const last = this.#last?.position
      const position = { covered, revision: last?.covered === covered ? last.revision + 1 : 0 }
      const listed = await this.#listings.current()
      const state = { ...listed, ...position, facts: this.#knownFacts(listed.listings) }
      const bytes = await encodeSnapshot(state, this.#context)
      await this.#store.writeLocal(bytes)
      const written = this.#bucketWrites ? await this.#store.write(position, bytes) : 'denied'
      // Written or not (another replica wrote this position first), the next revision is after it.
      this.#last = { position, learnt }
      if (this.#due !== undefined && this.#due <= covered) this.#due = undefined
      if (written === true)
        await this.#store.prune().catch((err: unknown) => {
          log.debug({ err }, 'Cannot delete old snapshots; the next writer tries again')
        })
      if (written === 'denied' && this.#bucketWrites) {
        this.#bucketWrites = false
        log.warn('The credentials may not write snapshots to the bucket: only the local copy is kept')
      }
      log.info(
        { ...position, folders: state.listings.size, facts: state.facts.size, bytes: bytes.length, inBucket: written },
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

  // Facts came since the last snapshot, and none for a while.
  #factsDue(): boolean {
    const learnt = this.#facts.learnt
    if (this.#last === undefined || learnt.count <= this.#last.learnt) return false
    return Date.now() - learnt.at >= FACTS_QUIET_MS
  }

  #knownFacts(listings: SnapshotState['listings']): Map<string, FileFacts> {
    const facts = new Map<string, FileFacts>()
    for (const listing of listings.values())
      for (const file of listing.files) {
        const known = this.#facts.known(file)
        if (known !== undefined) facts.set(file.key, known)
      }
    return facts
  }

  // The local copy and the bucket's newest, the one covering more first (the local copy on a tie:
  // no request). A snapshot that cannot be used is logged and skipped.
  async *#candidates(): AsyncGenerator<Candidate> {
    const local = await this.#decode(await this.#store.readLocal(), 'local')
    let positions: SnapshotPosition[] = []
    try {
      positions = await this.#store.list()
    } catch (err) {
      this.#context.log.warn({ err }, 'Cannot list the snapshots in the bucket')
    }
    const newest = positions[0]
    if (local !== undefined && (newest === undefined || comparePositions(local.state, newest) >= 0)) yield local
    for (const position of positions.slice(0, 2)) {
      if (local !== undefined && comparePositions(position, local.state) <= 0) break
      const candidate = await this.#read(position)
      if (candidate !== undefined) {
        yield candidate
        break
      }
    }
    if (local !== undefined && newest !== undefined && comparePositions(local.state, newest) < 0) yield local
  }

  async #fromBucket(): Promise<Candidate | undefined> {
    const newest = (await this.#store.list())[0]
    return newest === undefined ? undefined : this.#read(newest)
  }

  async #read(position: SnapshotPosition): Promise<Candidate | undefined> {
    try {
      return await this.#decode(await this.#store.read(position), 'bucket', position)
    } catch (err) {
      this.#context.log.warn({ err, ...position }, 'Cannot read a snapshot from the bucket; ignoring it')
      return undefined
    }
  }

  async #decode(
    bytes: Uint8Array | undefined,
    source: Candidate['source'],
    named?: SnapshotPosition,
  ): Promise<Candidate | undefined> {
    if (bytes === undefined) return undefined
    const decoded = await decodeSnapshot(bytes, this.#context, folderToken)
    let reason = decoded.ok ? undefined : decoded.reason
    if (decoded.ok && named !== undefined && comparePositions(decoded.state, named) !== 0)
      reason = `named for ${String(named.covered)} journal records (revision ${String(named.revision)}), holds ${String(decoded.state.covered)} (revision ${String(decoded.state.revision)})`
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
    for (const listing of state.listings.values())
      for (const file of listing.files) {
        const facts = state.facts.get(file.key)
        if (facts !== undefined) this.#facts.seed(file, facts)
      }
    this.#last = { position: { covered: state.covered, revision: state.revision }, learnt: this.#facts.learnt.count }
    for (const record of replay.records) {
      const parts = splitKey(record.key)
      if (parts !== undefined) this.#listings.replayed(parts.folder, record.op)
    }
    log.info(
      {
        source,
        covered: state.covered,
        revision: state.revision,
        replayed: replay.records.length,
        folders: state.listings.size,
        facts: state.facts.size,
      },
      'Loaded the listings from a snapshot',
    )
    if (source === 'bucket') await this.#store.writeLocal(candidate.bytes)
    if (replay.records.length >= this.#every) this.#due = replay.next
    return replay.next
  }
}
