// The first download of an upstream file: one upstream GET, written to a part file and hashed
// as it comes, while every client that asked for the file follows the writer (so N clients cost
// one upstream request and no memory per client beyond a chunk). The newest bytes stay in
// memory for a while (RECENT_BYTES): clients at the head get them from there, and only one that
// falls behind reads the part file back. Writes to the part file overlap (WRITES_IN_FLIGHT), so
// the upstream is read on while they run.
// The last chunk is held back until the digest matches the upstream page's: a client never
// receives the final byte of a file that turns out wrong; it sees the transfer fail instead.
import { createHash, randomBytes, type Hash } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { mkdir, open, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { upstreamGet, type UpstreamRequest } from './http-client.js'
import { ReadBuffers, type ReaderSink } from './read-buffers.js'
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
}

/** What a client that fell behind the bytes in memory reads from the part file at a time. */
const READ_CHUNK = 64 * 1024

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
  /** True once its write to the part file completed. */
  written: boolean
}

/** One download in progress, and its readers. */
export class Download extends EventEmitter {
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
  /** The newest pieces, oldest first, contiguous up to `received`: every piece not yet written, and RECENT_BYTES more. */
  #recent: Piece[] = []
  #recentBytes = 0
  /** Pieces whose writes were started, in order, until the writes before them completed too. */
  #unwritten: Piece[] = []
  /** Bytes of the part file written, from its start without a gap. */
  #written = 0
  /** Bytes whose writes were started and did not complete yet. */
  #writing = 0
  #writeError: Error | undefined
  #readBuffersAllocated = 0
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
      this.state = 'streaming'
      this.emit('streaming')
      const written = await this.#copy(response.body)
      await writeFile(`${this.#plan.finalPath}.sha256`, `${this.sha256 ?? ''}\n`)
      await rename(part, this.#plan.finalPath)
      // The last chunk goes out only now: a client that got the whole body can count on the file
      // being in the cache (and a next request being served from it, never from the upstream).
      this.available = written
      this.state = 'done'
      this.emit('progress')
    } catch (err) {
      this.error = err instanceof Error ? err : new Error(String(err))
      this.state = 'failed'
      this.emit('failed', this.error)
      this.emit('progress')
      this.emit('written')
      await unlink(part).catch(() => undefined)
    } finally {
      this.#release()
    }
  }

  /** Copy and verify the body; returns its length (its last chunk is not made available yet). */
  async #copy(body: Readable): Promise<number> {
    const handle = this.#handle
    if (handle === undefined) return 0
    const expected = this.#plan.expected
    const hashes: { sha256: Hash; expected: Hash | undefined } = {
      sha256: createHash('sha256'),
      expected: expected === undefined || expected.algorithm === 'sha256' ? undefined : createHash(expected.algorithm),
    }
    let written = 0
    for await (const chunk of body) {
      const bytes = chunk as Buffer
      this.#throwIfWriteFailed()
      hashes.sha256.update(bytes)
      hashes.expected?.update(bytes)
      this.#write(handle, { start: written, bytes, written: false })
      // The previous chunks may go out; this one waits for the next (or for the verdict).
      this.available = written
      written += bytes.length
      this.received = written
      this.emit('progress')
      while (this.#writesOver(WRITES_IN_FLIGHT)) await once(this, 'written')
    }
    while (this.#writesOver(0)) await once(this, 'written')
    this.#throwIfWriteFailed()
    const sha256 = hashes.sha256.digest('hex')
    const digest = hashes.expected === undefined ? sha256 : hashes.expected.digest('hex')
    if (this.length !== undefined && written !== this.length)
      throw new UpstreamFetchError(
        'length',
        `the upstream sent ${String(written)} bytes instead of ${String(this.length)}`,
      )
    if (expected !== undefined && digest !== expected.hex)
      throw new UpstreamFetchError(
        'digest',
        `the upstream sent bytes whose ${expected.algorithm} is ${digest}, not the page's ${expected.hex}`,
      )
    this.sha256 = sha256
    return written
  }

  /** True while more than `bytes` are being written (and no write failed). */
  #writesOver(bytes: number): boolean {
    return this.#writing > bytes && this.#writeError === undefined
  }

  #throwIfWriteFailed(): void {
    if (this.#writeError !== undefined) throw this.#writeError
  }

  /** Start writing a piece to the part file; readers may have it from memory at once. */
  #write(handle: FileHandle, piece: Piece): void {
    this.#recent.push(piece)
    this.#recentBytes += piece.bytes.length
    this.#unwritten.push(piece)
    this.#writing += piece.bytes.length
    // Handled at once (a rejection is kept, and thrown by the copy loop), so it is never unhandled.
    handle.write(piece.bytes, 0, piece.bytes.length, piece.start).then(
      () => {
        piece.written = true
        this.#writing -= piece.bytes.length
        for (let first = this.#unwritten[0]; first?.written === true; first = this.#unwritten[0]) {
          this.#written = first.start + first.bytes.length
          this.#unwritten.shift()
        }
        this.#trim()
        this.emit('written')
      },
      (err: unknown) => {
        this.#writeError ??= err instanceof Error ? err : new Error(String(err))
        this.emit('written')
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
    return this.#recentBytes
  }

  /** Resolves once the download is over, whether it succeeded ('done') or not ('failed'). */
  async settled(): Promise<'done' | 'failed'> {
    while (this.state !== 'done' && this.state !== 'failed') await once(this, 'progress')
    return this.state
  }

  /**
   * The file's bytes as they become safe to send; fails (instead of ending) when the download does.
   * With `sink`, the response the stream is piped to, a reader that fell behind reads the part
   * file into two buffers of its own, reused once the sink has taken what was in them (see
   * ReadBuffers), instead of a new buffer per read.
   */
  reader(sink?: ReaderSink): Readable {
    this.#readers++
    let counted = true
    const gone = (): void => {
      if (!counted) return
      counted = false
      this.#readers--
      this.#release()
    }
    // One chunk read ahead per client, not Readable.from's default 16: with 50 clients of one
    // download, 16 × 64 KiB each was most of the memory the download used (docs/benchmarks.md).
    // ReadBuffers counts on this too: only the chunk handed out last may still wait in the stream.
    const stream = Readable.from(this.#follow(gone, new ReadBuffers(READ_CHUNK, sink)), { highWaterMark: 1 })
    // A generator never pulled runs no `finally` when its stream is destroyed: a client gone
    // before its first chunk must let the part file close too.
    stream.once('close', gone)
    return stream
  }

  /** Buffers allocated to read the part file back, by every reader so far (for tests). */
  get readBuffersAllocated(): number {
    return this.#readBuffersAllocated
  }

  async *#follow(gone: () => void, buffers: ReadBuffers): AsyncGenerator<Buffer> {
    let position = 0
    try {
      for (;;) {
        this.#throwIfFailed()
        if (position < this.available) {
          const piece = this.#fromMemory(position) ?? (await this.#fromFile(position, buffers))
          if (piece === undefined) {
            await once(this, 'written')
            continue
          }
          // Checked again after the read: a failure meanwhile must cut the body before its end.
          this.#throwIfFailed()
          position += piece.length
          buffers.handOut(piece)
          yield piece
          continue
        }
        if (this.state === 'done') return
        await once(this, 'progress')
      }
    } finally {
      gone()
    }
  }

  #throwIfFailed(): void {
    if (this.state === 'failed') throw this.error ?? new Error('download failed')
  }

  // The bytes from `position` on (up to what readers may have) in the piece in memory holding them.
  #fromMemory(position: number): Buffer | undefined {
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

  // Bytes from `position` read back from the part file, for a reader behind the pieces in memory.
  async #fromFile(position: number, buffers: ReadBuffers): Promise<Buffer | undefined> {
    const limit = Math.min(this.#written, this.available)
    if (position >= limit) return undefined
    const handle = this.#handle
    if (handle === undefined) throw new Error('the part file was closed before the download was read')
    const { buffer, fresh } = await buffers.take()
    if (fresh) this.#readBuffersAllocated++
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, limit - position), position)
    if (bytesRead === 0) throw new Error('the part file ended before its written bytes')
    return buffer.subarray(0, bytesRead)
  }

  // The part file stays open while the download runs or anyone still reads it.
  #release(): void {
    if (this.#readers > 0 || this.state === 'connecting' || this.state === 'streaming') return
    const handle = this.#handle
    this.#handle = undefined
    this.#recent = []
    this.#recentBytes = 0
    void handle?.close()
  }
}
