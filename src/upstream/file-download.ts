// The first download of an upstream file: one upstream GET, written to a part file and hashed
// as it comes, while every client that asked for the file follows the writer (so N clients cost
// one upstream request and no memory per client beyond a chunk). The newest bytes stay in
// memory for a while (RECENT_BYTES): clients at the head get them from there, and only one that
// falls behind reads the part file back. The body is copied as it comes into blocks of BLOCK
// bytes (the socket reads into one buffer of its own, used again: socket-reads.ts), each written
// to the part file in one write once full; writes overlap (WRITES_IN_FLIGHT), so the upstream
// is read on while they run. A block is used again (by this download or the next) once it is
// on disk, out of the newest bytes, and no client's response can still be sending from it.
// The last chunk is held back until the digest matches the upstream page's: a client never
// receives the final byte of a file that turns out wrong; it sees the transfer fail instead.
import { createHash, randomBytes, type Hash } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { write } from 'node:fs'
import { mkdir, open, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { BufferPool } from '../storage/sink-buffers.js'
import { upstreamGet, type UpstreamRequest } from './http-client.js'
import { plainFileGet } from './plain-file-get.js'
import { ReadBuffers, type ReaderSink } from './read-buffers.js'
import { transferFailure, UpstreamFetchError } from './upstream-errors.js'

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

/** Blocks out of the newest bytes kept until the responses sending them are done with them. */
const RETIRED_KEPT = 8

/**
 * The body is copied into blocks of this size, each written to the part file in one write: 400
 * writes per 100 MB instead of one per socket read (1,600 of 64 KiB), each a round trip through
 * libuv's thread pool whose lock the main thread waited on (docs/benchmarks.md).
 */
export const BLOCK = 256 * 1024

/**
 * Files of this size or more (or of a size the page does not give) are read off the socket
 * (plain-file-get.ts), on a connection of their own; smaller ones through upstreamGet().
 */
const PLAIN_FROM = 1024 * 1024

// Blocks given back by downloads, for the next ones (at most 16 kept).
const blocks = new BufferPool(BLOCK, 16)

/** Blocks allocated by every download so far (for tests: reused ones are not counted). */
export const blockStats = {
  get allocated(): number {
    return blocks.allocated
  },
}

/** A block of the body at its offset in the file: `filled` bytes so far. */
interface Block {
  readonly start: number
  readonly bytes: Buffer
  filled: number
  /** True once its write to the part file completed. */
  written: boolean
  /** Handed to a reader without a sink: whoever has it may keep it, so never used again. */
  escaped: boolean
}

/**
 * A reader whose bytes go to a response (its sink): the bytes it handed out up to `end`, the
 * last `lastLength` of them in the chunk handed out last. That chunk may still wait in the
 * reader's stream (highWaterMark 1); every earlier one went to the response's write(), which
 * keeps its buffer (not a copy) until the socket took it, and until then counts the bytes in its
 * writableLength (node:http: its own queue plus the socket's), in order. So the bytes it may
 * still be sending from memory are within [end - lastLength - writableLength, end).
 */
interface Follower {
  readonly sink: ReaderSink
  end: number
  lastLength: number
}

function takeBlock(start: number): Block {
  return { start, bytes: blocks.take(), filled: 0, written: false, escaped: false }
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
  /** The newest blocks, oldest first, contiguous up to `received`: every block not yet written, and RECENT_BYTES more. */
  #recent: Block[] = []
  #recentBytes = 0
  /** Blocks not written yet (the one being filled too), in order. */
  #unwritten: Block[] = []
  /** The block the body is being copied into (written once full, or at the end). */
  #filling: Block | undefined
  /** Blocks out of `#recent` that a response may still be sending from, oldest first. */
  #retired: Block[] = []
  /** Readers with a sink, until their response is over. */
  readonly #followers = new Set<Follower>()
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
      const { request, size } = this.#plan
      // Small files keep the agent's keep-alive connections: a connection per file would cost
      // more than the copies it saves (plain-file-get.ts).
      const plain = size === undefined || size >= PLAIN_FROM ? await plainFileGet(request) : undefined
      const response = plain ?? (await upstreamGet(request))
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
    // Each chunk is hashed and copied into the blocks at once: it dies young, freed by the
    // next scavenge. Kept for the clients instead (as the chunks used to be), chunks lived long
    // enough to be promoted, and only full collections freed them (docs/benchmarks.md).
    const resume = (): void => {
      if (!this.#writesOver(WRITES_IN_FLIGHT)) body.resume()
    }
    this.on('written', resume)
    body.on('data', (chunk: Buffer) => {
      try {
        this.#throwIfWriteFailed()
        hashes.sha256.update(chunk)
        hashes.expected?.update(chunk)
        this.#take(handle.fd, chunk)
      } catch (err) {
        body.destroy(err instanceof Error ? err : new Error(String(err)))
        return
      }
      if (this.#writesOver(WRITES_IN_FLIGHT)) body.pause()
    })
    let failure: Error | undefined
    try {
      await finished(body)
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err))
    } finally {
      this.off('written', resume)
    }
    if (failure === undefined && this.#filling !== undefined) this.#writeBlock(handle.fd, this.#filling)
    // Every write settles before the part file may be closed: they write to its descriptor.
    while (this.#writing > 0) await once(this, 'written')
    if (failure !== undefined) throw failure
    this.#throwIfWriteFailed()
    const written = this.received
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

  /** Copy `chunk` into the blocks; the blocks it fills go to the part file. */
  #take(fd: number, chunk: Buffer): void {
    for (let offset = 0; offset < chunk.length;) {
      let block = this.#filling
      if (block === undefined) {
        block = takeBlock(this.received + offset)
        this.#filling = block
        this.#unwritten.push(block)
        this.#recent.push(block)
      }
      const copied = chunk.copy(block.bytes, block.filled, offset)
      block.filled += copied
      this.#recentBytes += copied
      offset += copied
      if (block.filled === block.bytes.length) this.#writeBlock(fd, block)
    }
    // The previous chunks may go out; this one waits for the next (or for the verdict).
    this.available = this.received
    this.received += chunk.length
    this.emit('progress')
  }

  /** Start writing a block to the part file (readers may have its bytes from memory already). */
  #writeBlock(fd: number, block: Block): void {
    if (this.#filling === block) this.#filling = undefined
    const length = block.filled
    this.#writing += length
    write(fd, block.bytes, 0, length, block.start, (err) => {
      this.#writing -= length
      if (err !== null) {
        this.#writeError ??= err
        this.emit('written')
        return
      }
      block.written = true
      for (let first = this.#unwritten[0]; first?.written === true; first = this.#unwritten[0]) {
        this.#written = first.start + first.filled
        this.#unwritten.shift()
      }
      this.#trim()
      this.emit('written')
    })
  }

  // Forget the oldest blocks that are on disk, keeping RECENT_BYTES of the newest; they are
  // used again once no response can still be sending from them.
  #trim(): void {
    for (let first = this.#recent[0]; first !== undefined; first = this.#recent[0]) {
      if (!first.written || this.#recentBytes - first.filled < RECENT_BYTES) break
      this.#recent.shift()
      this.#recentBytes -= first.filled
      this.#retire(first)
    }
    this.#recycle()
  }

  #retire(block: Block): void {
    if (block.escaped) return
    this.#retired.push(block)
    // A response that stopped sending (a stalled client) keeps only the few it holds from
    // being used again; the rest are left to the garbage collector.
    if (this.#retired.length > RETIRED_KEPT) this.#retired.shift()
  }

  /** Give back the retired blocks no response can still be sending from. */
  #recycle(): void {
    if (this.#retired.length === 0) return
    this.#retired = this.#retired.filter((block) => {
      if (this.#sending(block)) return true
      blocks.give([block.bytes])
      return false
    })
  }

  /** True when a reader's response may still be sending bytes of `block` (see Follower). */
  #sending(block: Block): boolean {
    const end = block.start + block.filled
    for (const follower of this.#followers) {
      const from = follower.end - follower.lastLength - follower.sink.writableLength
      if (from < end && follower.end > block.start) return true
    }
    return false
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
    const follower: Follower | undefined = sink === undefined ? undefined : { sink, end: 0, lastLength: 0 }
    if (follower !== undefined && sink !== undefined) {
      this.#followers.add(follower)
      // Over once the response has sent everything ('finish': its last write is done) or is
      // gone ('close': its socket destroyed, nothing more is read from its buffers).
      const over = (): void => {
        this.#followers.delete(follower)
        this.#recycle()
      }
      sink.once('finish', over)
      sink.once('close', over)
    }
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
    const stream = Readable.from(this.#follow(gone, new ReadBuffers(READ_CHUNK, sink), follower), {
      highWaterMark: 1,
    })
    // A generator never pulled runs no `finally` when its stream is destroyed: a client gone
    // before its first chunk must let the part file close too.
    stream.once('close', gone)
    return stream
  }

  /** Buffers allocated to read the part file back, by every reader so far (for tests). */
  get readBuffersAllocated(): number {
    return this.#readBuffersAllocated
  }

  async *#follow(gone: () => void, buffers: ReadBuffers, follower: Follower | undefined): AsyncGenerator<Buffer> {
    let position = 0
    try {
      for (;;) {
        this.#throwIfFailed()
        if (position < this.available) {
          const piece = this.#fromMemory(position, follower !== undefined) ?? (await this.#fromFile(position, buffers))
          if (piece === undefined) {
            await once(this, 'written')
            continue
          }
          // Checked again after the read: a failure meanwhile must cut the body before its end.
          this.#throwIfFailed()
          position += piece.length
          buffers.handOut(piece)
          if (follower !== undefined) {
            follower.end = position
            follower.lastLength = piece.length
          }
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
    if (this.state === 'failed') throw transferFailure(this.error)
  }

  // The bytes from `position` on (up to what readers may have) in the block in memory holding
  // them; `followed`: the reader has a sink, which tells when the block is free again.
  #fromMemory(position: number, followed: boolean): Buffer | undefined {
    const recent = this.#recent
    // Newest first: a reader at the head finds its block at once.
    for (let i = recent.length - 1; i >= 0; i--) {
      const block = recent[i]
      if (block === undefined || block.start > position) continue
      const end = Math.min(block.start + block.filled, this.available)
      if (position >= end) return undefined
      if (!followed) block.escaped = true
      return block.bytes.subarray(position - block.start, end - block.start)
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
    // A failed download may still be writing some: those are left to the garbage collector.
    for (const block of this.#recent) if (block.written) this.#retire(block)
    this.#recent = []
    this.#unwritten = []
    this.#recentBytes = 0
    this.#recycle()
    void handle?.close()
  }
}
