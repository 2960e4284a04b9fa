// The first download of an upstream file: one upstream GET, written to a part file as it comes,
// while every client that asked for the file follows the writer (so N clients cost one upstream
// request and no memory per client beyond a chunk). The newest bytes stay in memory for a while
// (RECENT_BYTES): clients at the head get them from there; clients that fall behind read the
// part file back in blocks they share (PartBlocks). The pieces that arrive while a write runs go
// to the part file together in the next one, and the upstream is read on meanwhile
// (WRITES_IN_FLIGHT). The digests are computed in a worker thread from the part file as it is
// written (PartDigest), not on this event loop.
// The last chunk is held back until the digest matches the upstream page's: a client never
// receives the final byte of a file that turns out wrong; it sees the transfer fail instead.
import { randomBytes } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { read, writev } from 'node:fs'
import { mkdir, open, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { DownloadReader, type DownloadSource } from './download-reader.js'
import { upstreamGet, type UpstreamRequest } from './http-client.js'
import { PartBlocks, type ReadAt } from './part-blocks.js'
import type { DigestWorker, PartDigest } from './part-digest.js'
import { UpstreamFetchError } from './upstream-errors.js'

/** The digest a file must have: from the upstream page's hashes. */
export interface ExpectedDigest {
  readonly algorithm: string
  readonly hex: string
}

/** What to download and where it ends up. */
export interface DownloadPlan {
  readonly request: UpstreamRequest
  readonly expected: ExpectedDigest | undefined
  /** PEP 700 size from the page, checked when known. */
  readonly size: number | undefined
  /** Where the verified file goes (its sha256 beside it, in `<path>.sha256`). */
  readonly finalPath: string
  /** The worker that hashes the part file. */
  readonly digests: DigestWorker
}

/** Blocks of the part file kept for the clients behind the bytes in memory (PART_BLOCK each). */
export const SHARED_BLOCKS = 32

/**
 * Bytes written to the part file but not yet on it, at most (plus one chunk): the upstream is
 * read on while they are written, instead of each chunk waiting for its write. Bench row "the
 * first download of an uncached 100 MB file" (docs/benchmarks.md).
 */
export const WRITES_IN_FLIGHT = 1024 * 1024

/**
 * The newest bytes kept in memory (besides those still being written), shared by every client
 * of the download: a client at the head is handed them without reading the part file back.
 * Per download, not per client, so 50 clients of one file cost this once.
 */
export const RECENT_BYTES = 1024 * 1024

/** A piece of the body as it came from the upstream, at its offset in the file. */
interface Piece {
  readonly start: number
  readonly bytes: Buffer
}

// Under IOV_MAX (1024 on Linux): the pieces one pwritev may take.
const MAX_PIECES_PER_WRITE = 256

/** One download in progress, and its readers. */
export class Download extends EventEmitter implements DownloadSource {
  state: 'connecting' | 'streaming' | 'done' | 'failed' = 'connecting'
  /** Bytes readers may have: what was written, minus the chunk held back. */
  available = 0
  /** Body bytes received from the upstream so far (for the metrics). */
  received = 0
  /** Content-Length of the upstream answer, or the page's size. */
  length: number | undefined
  error: Error | undefined
  /** sha256 of the verified file, once done. */
  sha256: string | undefined
  readonly #plan: DownloadPlan
  #handle: FileHandle | undefined
  #readers = 0
  /** Reads of the part file in flight. */
  #partReads = 0
  /** What was read back of the part file, shared by the readers behind. */
  readonly #blocks = new PartBlocks(SHARED_BLOCKS)
  /** Readers waiting for the next change. */
  readonly #waiting = new Set<() => void>()
  /** The newest pieces, oldest first, contiguous up to `received`: every piece not yet written, and RECENT_BYTES more. */
  #recent: Piece[] = []
  #recentBytes = 0
  /** Pieces not handed to a write yet, in order. */
  #queued: Piece[] = []
  /** A write is in flight. */
  #flushing = false
  /** Bytes of the part file written, from its start without a gap. */
  #written = 0
  /** Bytes queued or being written. */
  #writing = 0
  /** The digests, computed from the part file as it is written. */
  #digest: PartDigest | undefined
  #writeError: Error | undefined
  /** Resolves when bytes start to flow (or rejects when the download failed before). */
  readonly started: Promise<void>

  constructor(plan: DownloadPlan) {
    super()
    this.setMaxListeners(0)
    this.#plan = plan
    this.started = new Promise<void>((resolve, reject) => {
      this.once('streaming', resolve)
      this.once('failed', reject)
    })
    // Handled here: a download nobody waits for must not become an unhandled rejection.
    this.started.catch(() => undefined)
  }

  /** Run the download to its end (never rejects: failures end in state 'failed'). */
  async run(): Promise<void> {
    const part = join(dirname(this.#plan.finalPath), `.${randomBytes(6).toString('hex')}.part`)
    let digest: PartDigest | undefined
    try {
      await mkdir(dirname(part), { recursive: true })
      const response = await upstreamGet(this.#plan.request)
      if (response.status !== 200) {
        response.body.resume()
        throw new UpstreamFetchError('status', `the upstream answered ${String(response.status)}`, {
          status: response.status,
        })
      }
      const announced = Number(response.headers['content-length'])
      this.length =
        response.headers['content-encoding'] === undefined && Number.isSafeInteger(announced)
          ? announced
          : this.#plan.size
      this.#handle = await open(part, 'w+')
      const expected = this.#plan.expected
      digest = this.#plan.digests.hash(
        part,
        expected === undefined || expected.algorithm === 'sha256' ? ['sha256'] : ['sha256', expected.algorithm],
      )
      this.#digest = digest
      this.state = 'streaming'
      this.emit('streaming')
      const written = await this.#copy(response.body, digest)
      await writeFile(`${this.#plan.finalPath}.sha256`, `${this.sha256 ?? ''}\n`)
      await rename(part, this.#plan.finalPath)
      // The last chunk goes out only now: a client that got the whole body can count on the file
      // being in the cache (and a next request being served from it, never from the upstream).
      this.available = written
      this.state = 'done'
      this.#changed('progress')
    } catch (err) {
      digest?.abort()
      this.error = err instanceof Error ? err : new Error(String(err))
      this.state = 'failed'
      this.emit('failed', this.error)
      this.#changed('progress')
      // Nothing more is written, and the write in flight ends before the file is closed.
      this.#queued = []
      while (this.#flushing) await once(this, 'written')
      await unlink(part).catch(() => undefined)
    } finally {
      // Awaited: once run() resolves, a part file no reader needs is closed.
      await this.#release()
    }
  }

  /** Copy and verify the body; returns its length (its last chunk is not made available yet). */
  async #copy(body: Readable, digest: PartDigest): Promise<number> {
    let received = 0
    for await (const chunk of body) {
      const bytes = chunk as Buffer
      this.#throwIfWriteFailed()
      this.#write({ start: received, bytes })
      // The previous chunks may go out; this one waits for the next (or for the verdict).
      this.available = received
      received += bytes.length
      this.received = received
      this.#changed('progress')
      while (this.#writesOver(WRITES_IN_FLIGHT)) await once(this, 'written')
    }
    while (this.#writesOver(0)) await once(this, 'written')
    this.#throwIfWriteFailed()
    if (this.length !== undefined && received !== this.length)
      throw new UpstreamFetchError(
        'length',
        `the upstream sent ${String(received)} bytes instead of ${String(this.length)}`,
      )
    const [sha256, other] = await digest.finish(received)
    if (sha256 === undefined) throw new Error('the hashing worker gave no sha256')
    const expected = this.#plan.expected
    const actual = other ?? sha256
    if (expected !== undefined && actual !== expected.hex)
      throw new UpstreamFetchError(
        'digest',
        `the upstream sent bytes whose ${expected.algorithm} is ${actual}, not the page's ${expected.hex}`,
      )
    this.sha256 = sha256
    return received
  }

  /** True while more than `bytes` are being written (and no write failed). */
  #writesOver(bytes: number): boolean {
    return this.#writing > bytes && this.#writeError === undefined
  }

  #throwIfWriteFailed(): void {
    if (this.#writeError !== undefined) throw this.#writeError
  }

  /** Queue a piece for the part file; readers may have it from memory at once. */
  #write(piece: Piece): void {
    this.#recent.push(piece)
    this.#recentBytes += piece.bytes.length
    this.#queued.push(piece)
    this.#writing += piece.bytes.length
    this.#flush()
  }

  // One write at a time, of every piece queued meanwhile (pwritev): a few large writes instead
  // of one per socket read, and never two writes racing for the file.
  #flush(): void {
    const handle = this.#handle
    if (this.#flushing || this.#queued.length === 0 || handle === undefined) return
    const batch = this.#queued.splice(0, MAX_PIECES_PER_WRITE)
    const start = batch[0]?.start ?? this.#written
    let bytes = 0
    for (const piece of batch) bytes += piece.bytes.length
    this.#flushing = true
    writev(
      handle.fd,
      batch.map((piece) => piece.bytes),
      start,
      (err, written) => {
        this.#flushing = false
        if (err === null && written !== bytes) err = new Error(`wrote ${String(written)} of ${String(bytes)} bytes`)
        if (err !== null) {
          // Kept, and thrown by the copy loop.
          this.#writeError ??= err
          this.#changed('written')
          return
        }
        this.#writing -= bytes
        this.#written = start + bytes
        this.#digest?.written(this.#written)
        this.#trim()
        this.#flush()
        this.#changed('written')
      },
    )
  }

  // Forget the oldest pieces that are on disk, keeping RECENT_BYTES of the newest.
  #trim(): void {
    for (let first = this.#recent[0]; first !== undefined; first = this.#recent[0]) {
      const end = first.start + first.bytes.length
      if (end > this.#written || this.#recentBytes - first.bytes.length < RECENT_BYTES) return
      this.#recent.shift()
      this.#recentBytes -= first.bytes.length
    }
  }

  /** Bytes of this download held in memory now (for tests: bounded, whatever the file's size). */
  get heldBytes(): number {
    return this.#recentBytes + this.#blocks.heldBytes
  }

  /** Resolves once the download is over, whether it succeeded ('done') or not ('failed'). */
  async settled(): Promise<'done' | 'failed'> {
    while (this.state !== 'done' && this.state !== 'failed') await once(this, 'progress')
    return this.state
  }

  /** The file's bytes as they become safe to send; fails (instead of ending) when the download does. */
  reader(): Readable {
    this.#readers++
    return new DownloadReader(this)
  }

  /** DownloadSource: the bytes from `position` (up to what readers may have) in the piece in memory holding them. */
  pieceAt(position: number): Buffer | undefined {
    const recent = this.#recent
    // Newest first: a reader at the head finds its piece at once.
    for (let i = recent.length - 1; i >= 0; i--) {
      const piece = recent[i]
      if (piece === undefined || piece.start > position) continue
      const end = Math.min(piece.start + piece.bytes.length, this.available)
      return position < end ? piece.bytes.subarray(position - piece.start, end - piece.start) : undefined
    }
    return undefined
  }

  /** DownloadSource: bytes from `position` read back from the part file, for a reader behind the pieces in memory. */
  readPart(position: number, done: (err: Error | null, bytes: Buffer | undefined) => void): void {
    const limit = Math.min(this.#written, this.available)
    if (position >= limit) {
      done(null, undefined)
      return
    }
    this.#blocks.get(position, limit, this.#readAt, done)
  }

  // One read of the part file. The callback API: the promise one costs a promise and an object
  // per read. The file is not closed while a read is in flight (#release waits for #partReads).
  readonly #readAt: ReadAt = (start, length, done) => {
    const handle = this.#handle
    if (handle === undefined) {
      done(new Error('the part file was closed before the download was read'), Buffer.alloc(0))
      return
    }
    const buffer = Buffer.allocUnsafe(length)
    this.#partReads++
    read(handle.fd, buffer, 0, length, start, (err, bytesRead) => {
      this.#partReads--
      if (this.#partReads === 0) void this.#release()
      done(err, buffer.subarray(0, bytesRead))
    })
  }

  /** DownloadSource: `wake` is called once, at the next change (bytes, a write, the verdict). */
  wait(wake: () => void): void {
    this.#waiting.add(wake)
  }

  stopWaiting(wake: () => void): void {
    this.#waiting.delete(wake)
  }

  /** DownloadSource: a reader is gone (ended, failed or destroyed, pulled or not). */
  detach(): Promise<void> {
    this.#readers--
    return this.#release()
  }

  // Tell the listeners (settled(), the progress of `cache warm`) and the waiting readers.
  #changed(event: 'progress' | 'written'): void {
    this.emit(event)
    this.#wakeReaders()
  }

  // Wake every waiting reader (each waits again if there is still nothing for it).
  #wakeReaders(): void {
    if (this.#waiting.size === 0) return
    const waiting = [...this.#waiting]
    this.#waiting.clear()
    for (const wake of waiting) wake()
  }

  // The part file stays open while the download runs or anyone still reads it.
  async #release(): Promise<void> {
    if (this.#readers > 0 || this.#partReads > 0 || this.state === 'connecting' || this.state === 'streaming') return
    const handle = this.#handle
    this.#handle = undefined
    this.#recent = []
    this.#recentBytes = 0
    this.#blocks.clear()
    await handle?.close().catch(() => undefined)
  }
}
