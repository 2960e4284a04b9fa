// The change journal of a bucket tree: one small immutable object per change, under
// `<prefix>.eggserve/journal/<20-digit sequence number>.json`, so that every replica sharing
// the bucket learns of every other replica's writes with one LIST per poll (which returns
// nothing when nothing changed), instead of re-listing folders. Records are written with
// PutObject and If-None-Match: *, so a sequence number is taken by exactly one writer; a
// writer tries number n + 1 only after seeing n exist, so the log has no gap and a record
// never becomes visible after a higher one (S3 is strongly consistent for reads after writes
// and for listings: the user guide, "Amazon S3 data consistency model"). Conditional writes:
// the user guide, "How to prevent object overwrites with conditional writes".
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import { fail, HIDDEN_FOLDER, type S3Context } from './s3-context.js'
import { listPages } from './s3-list-pages.js'
import { s3ErrorFacts } from './s3-errors.js'
import { splitKey } from './storage.js'

/** One change, as written to the journal. */
export interface JournalRecord {
  readonly op: 'publish' | 'remove'
  /** The eggserve key ("folder/filename") that changed. */
  readonly key: string
  /** Which replica wrote it (a random id per process): a replica skips its own records. */
  readonly replica: string
  /** When, as an ISO date (for people reading the bucket). */
  readonly time: string
}

/** What the tail reports: a record, or that records may have been missed (re-read everything). */
export type JournalEvent = { readonly kind: 'record'; readonly record: JournalRecord } | { readonly kind: 'lost-track' }

/** A running tail. */
export interface JournalTail {
  /** Records applied so far (the next record read is this number); undefined before the first poll. */
  readonly position: number | undefined
  close(): void
}

/** Records read after a position, to replay on top of a snapshot. */
export interface JournalReplay {
  readonly records: readonly JournalRecord[]
  /** The number of the next record (records 0..next-1 are then applied). */
  readonly next: number
}

// Sequence numbers are zero-padded so that the store's lexicographic listing order is their order.
const DIGITS = 20
// Numbers tried per append before giving up (each 412 moves to after the newest record).
const APPEND_TRIES = 20
// Records above this size are not ours: never read them.
const MAX_RECORD_BYTES = 16 * 1024

/** When old records are deleted (see S3Journal.append). */
export interface JournalPruning {
  /** Every this many records, the appender of the record deletes old ones (default 1,000). */
  readonly every: number
  /** How many of the newest records are kept (default 1,000). */
  readonly keep: number
  /** Records younger than this are kept whatever their number (default one hour). */
  readonly minAgeMs: number
  /**
   * How many records the newest snapshot covers (undefined: none): records it does not
   * cover, and the last one it does (how a replica checks the snapshot against the journal),
   * are never deleted.
   */
  readonly covered?: () => Promise<number | undefined>
}

const PRUNING: JournalPruning = { every: 1000, keep: 1000, minAgeMs: 3_600_000 }
// Records read at once when replaying after a snapshot.
const REPLAY_READS = 16

/** The journal of one S3Storage. */
export class S3Journal {
  /** A random id of this process, written in its records. */
  readonly replica = randomBytes(8).toString('hex')
  readonly #context: S3Context
  /** The number the next append tries first; undefined until the newest record has been looked up. */
  #next: number | undefined
  /** Appends run one at a time: a replica never races itself for a number. */
  #appending: Promise<unknown> = Promise.resolve()

  readonly #pruning: JournalPruning
  /** Told of every record this replica appends (its number). */
  onAppended: ((sequence: number) => void) | undefined

  constructor(context: S3Context, pruning: Partial<JournalPruning> = {}) {
    this.#context = context
    this.#pruning = { ...PRUNING, ...pruning }
  }

  /** The number of records: the newest's number + 1 (0 for an empty journal). */
  async count(): Promise<number> {
    return (await this.#newest(undefined)) + 1
  }

  /**
   * The records from number `from` on, to replay on top of a snapshot covering `from`
   * records; undefined when record `from - 1` is gone (deleted by pruning: this replica is
   * behind what the journal still holds, so the snapshot cannot be brought up to date) or
   * the numbers after it have a gap or a record cannot be read.
   */
  async replay(from: number): Promise<JournalReplay | undefined> {
    const found: number[] = []
    await this.#list(from - 2, (sequence) => {
      found.push(sequence)
    })
    // The journal must still hold the last covered record (pruning keeps it), then no gap.
    const first = from === 0 ? 0 : from - 1
    if (from > 0 && found[0] !== from - 1) return undefined
    if (found.some((sequence, i) => sequence !== first + i)) return undefined
    const after = found.filter((sequence) => sequence >= from)
    const records: (JournalRecord | undefined)[] = new Array<JournalRecord | undefined>(after.length)
    let nextRead = 0
    const worker = async (): Promise<void> => {
      for (let i = nextRead++; i < after.length; i = nextRead++) records[i] = await this.#read(after[i] ?? 0)
    }
    await Promise.all(Array.from({ length: REPLAY_READS }, worker))
    // A record that cannot be read says nothing of what changed: as with a gap, list instead.
    if (records.some((record) => record === undefined)) return undefined
    return { records: records.filter((record) => record !== undefined), next: from + after.length }
  }

  /** The prefix of the record keys. */
  get #prefix(): string {
    return `${this.#context.prefix}${HIDDEN_FOLDER}/journal/`
  }

  /**
   * Append a record of `op` on `key`. Failures are logged, not thrown: the change is made
   * already, and other replicas still see it when their listings expire.
   */
  append(op: JournalRecord['op'], key: string): Promise<void> {
    const appended = this.#appending.then(() =>
      this.#append({ op, key, replica: this.replica, time: new Date().toISOString() }),
    )
    this.#appending = appended
    return appended
  }

  /**
   * Poll for records written after now, every `pollMs`, and report each one not written by this
   * process. `onReady` is called once the newest record is known (from then on nothing is
   * missed); `onPoll` after every poll with whether it worked.
   */
  tail(options: {
    pollMs: number
    /** Start after record `from - 1` (what a snapshot and its replay covered); default: after the newest. */
    from?: number
    onEvent: (event: JournalEvent) => void
    onPoll: (ok: boolean, err?: unknown) => void
    /**
     * Records before `first` were deleted before this replica read them: bring the state up
     * to date another way (a snapshot) and return the number of records it covers, to
     * continue from there; undefined: report lost track and continue after the gap.
     */
    onFellBehind?: (first: number) => Promise<number | undefined>
  }): JournalTail {
    let closed = false
    let applied: number | undefined = options.from === undefined ? undefined : options.from - 1
    if (applied !== undefined) this.#next ??= applied + 1
    let timer: NodeJS.Timeout | undefined
    const poll = async (): Promise<void> => {
      try {
        if (applied === undefined) {
          applied = await this.#newest(undefined)
          this.#next ??= applied + 1
        } else {
          applied = await this.#readAfter(applied, options)
        }
        options.onPoll(true)
      } catch (err) {
        options.onPoll(false, err)
      }
      if (!closed)
        timer = setTimeout(() => {
          void poll()
        }, options.pollMs).unref()
    }
    void poll()
    return {
      get position() {
        return applied === undefined ? undefined : applied + 1
      },
      close: () => {
        closed = true
        clearTimeout(timer)
      },
    }
  }

  async #append(record: JournalRecord): Promise<void> {
    const { client, bucket, log } = this.#context
    const body = JSON.stringify(record)
    try {
      let sequence = this.#next ?? (await this.#newest(undefined)) + 1
      for (let attempt = 1; attempt <= APPEND_TRIES; attempt++) {
        try {
          await client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: this.#recordKey(sequence),
              Body: body,
              ContentType: 'application/json',
              IfNoneMatch: '*',
            }),
          )
          this.#next = sequence + 1
          this.onAppended?.(sequence)
          // In the background: deleting up to `every` objects must not delay the next appends.
          if (sequence > 0 && sequence % this.#pruning.every === 0) void this.#prune(sequence - this.#pruning.keep)
          return
        } catch (err) {
          const { kind } = s3ErrorFacts(err)
          // Taken by another replica: continue after the newest record.
          if (kind === 'precondition-failed') sequence = (await this.#newest(sequence)) + 1
          // Another write of that number in progress (409): try it again, after a pause.
          else if (kind === 'conflict') await sleep(50 * attempt * Math.random())
          else throw err
        }
      }
      log.warn(
        { key: record.key, tries: APPEND_TRIES },
        'Cannot append to the change journal: every number tried was taken; other replicas see the change at their next listing',
      )
    } catch (err) {
      log.warn(
        { err: fail(this.#context, err, 'append to the change journal', record.key) },
        'Cannot append to the change journal; other replicas see the change at their next listing',
      )
    }
  }

  // Delete records numbered below `limit` and older than minAgeMs, so that the journal stays
  // small and a starting replica lists little to find its end. A replica that had not read
  // them yet (it was cut off for longer) sees a gap and lists every folder again.
  async #prune(below: number): Promise<void> {
    const { client, bucket, log } = this.#context
    const oldest = Date.now() - this.#pruning.minAgeMs
    let removed = 0
    let limit = below
    try {
      if (this.#pruning.covered !== undefined) {
        const covered = await this.#pruning.covered()
        if (covered !== undefined) limit = Math.min(limit, covered - 1)
      }
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: this.#prefix, MaxKeys: this.#pruning.every }),
      )
      for (const object of page.Contents ?? []) {
        const sequence = parseSequence(object.Key?.slice(this.#prefix.length))
        if (sequence === undefined || sequence >= limit || (object.LastModified?.getTime() ?? Infinity) > oldest)
          continue
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }))
        removed++
      }
    } catch (err) {
      log.warn(
        { err: fail(this.#context, err, 'delete old journal records') },
        'Cannot delete old records of the change journal; a later appender tries again',
      )
    }
    if (removed > 0) log.debug({ removed }, 'Deleted old records of the change journal')
  }

  // The highest sequence number at or after `known` (-1 for an empty journal).
  async #newest(known: number | undefined): Promise<number> {
    let newest = known ?? -1
    await this.#list(known, (sequence) => {
      newest = Math.max(newest, sequence)
    })
    return newest
  }

  // Report the records after `applied`, in order; returns the last one read.
  async #readAfter(
    applied: number,
    options: {
      onEvent: (event: JournalEvent) => void
      onFellBehind?: (first: number) => Promise<number | undefined>
    },
  ): Promise<number> {
    const { onEvent } = options
    const found: number[] = []
    await this.#list(applied, (sequence) => {
      found.push(sequence)
    })
    let last = applied
    for (const sequence of found) {
      // A gap: records were removed before this replica read them (it was away too long).
      if (sequence !== last + 1) {
        const covered = await options.onFellBehind?.(sequence)
        // Brought up to date past the gap (from a snapshot): continue after what it covers.
        if (covered !== undefined && covered >= sequence) return covered - 1
        onEvent({ kind: 'lost-track' })
      }
      const record = await this.#read(sequence)
      if (record === undefined) onEvent({ kind: 'lost-track' })
      else if (record.replica !== this.replica) onEvent({ kind: 'record', record })
      last = sequence
    }
    return last
  }

  async #list(after: number | undefined, each: (sequence: number) => void): Promise<void> {
    const request = {
      prefix: this.#prefix,
      ...(after === undefined || after < 0 ? {} : { startAfter: this.#recordKey(after) }),
    }
    await listPages(this.#context, request, { action: 'read the change journal' }, (page) => {
      for (const object of page.Contents ?? []) {
        const sequence = parseSequence(object.Key?.slice(this.#prefix.length))
        if (sequence !== undefined && (after === undefined || sequence > after)) each(sequence)
      }
      return true
    })
  }

  async #read(sequence: number): Promise<JournalRecord | undefined> {
    const { client, bucket } = this.#context
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: this.#recordKey(sequence) }))
      if ((got.ContentLength ?? 0) > MAX_RECORD_BYTES) {
        await got.Body?.transformToByteArray()
        return undefined
      }
      return parseRecord((await got.Body?.transformToString()) ?? '')
    } catch (err) {
      if (s3ErrorFacts(err).kind === 'not-found') return undefined
      throw fail(this.#context, err, 'read the change journal')
    }
  }

  #recordKey(sequence: number): string {
    return `${this.#prefix}${String(sequence).padStart(DIGITS, '0')}.json`
  }
}

function parseSequence(name: string | undefined): number | undefined {
  const digits = name === undefined ? undefined : new RegExp(`^(\\d{${DIGITS}})\\.json$`).exec(name)?.[1]
  return digits === undefined ? undefined : Number(digits)
}

// A record as read back; undefined when it is not one of ours (a person's object, a newer format).
function parseRecord(text: string): JournalRecord | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isRecord(value)) return undefined
  const { op, key, replica, time } = value
  if ((op !== 'publish' && op !== 'remove') || typeof key !== 'string' || splitKey(key) === undefined) return undefined
  return { op, key, replica: typeof replica === 'string' ? replica : '', time: typeof time === 'string' ? time : '' }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
