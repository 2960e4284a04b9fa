// The first download of an upstream file: one upstream GET, written to a part file and hashed
// as it comes, while every client that asked for the file reads the part file behind the
// writer (so N clients cost one upstream request and no memory per client beyond a chunk).
// The last chunk is held back until the digest matches the upstream page's: a client never
// receives the final byte of a file that turns out wrong; it sees the transfer fail instead.
import { createHash, randomBytes, type Hash } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { mkdir, open, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { upstreamGet, type UpstreamRequest } from './http-client.js'
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

const READ_CHUNK = 64 * 1024

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
      await handle.write(bytes, 0, bytes.length, written)
      hashes.sha256.update(bytes)
      hashes.expected?.update(bytes)
      // The previous chunks may go out; this one waits for the next (or for the verdict).
      this.available = written
      written += bytes.length
      this.received = written
      this.emit('progress')
    }
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

  /** Resolves once the download is over, whether it succeeded ('done') or not ('failed'). */
  async settled(): Promise<'done' | 'failed'> {
    while (this.state !== 'done' && this.state !== 'failed') await once(this, 'progress')
    return this.state
  }

  /** The file's bytes as they become safe to send; fails (instead of ending) when the download does. */
  reader(): Readable {
    this.#readers++
    // One chunk read ahead per client, not Readable.from's default 16: with 50 clients of one
    // download, 16 × 64 KiB each was most of the memory the download used (docs/benchmarks.md).
    return Readable.from(this.#follow(), { highWaterMark: 1 })
  }

  async *#follow(): AsyncGenerator<Buffer> {
    let position = 0
    try {
      for (;;) {
        const handle = this.#handle
        if (handle !== undefined && position < this.available && this.state !== 'failed') {
          const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, this.available - position))
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position)
          position += bytesRead
          yield buffer.subarray(0, bytesRead)
          continue
        }
        if (this.state === 'failed') throw this.error ?? new Error('download failed')
        if (this.state === 'done') return
        await once(this, 'progress')
      }
    } finally {
      this.#readers--
      this.#release()
    }
  }

  // The part file stays open while the download runs or anyone still reads it.
  #release(): void {
    if (this.#readers > 0 || this.state === 'connecting' || this.state === 'streaming') return
    const handle = this.#handle
    this.#handle = undefined
    void handle?.close()
  }
}
