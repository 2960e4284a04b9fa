// One client's view of a Download: the file's bytes as they become safe to send, failing
// (instead of ending) when the download does. A Readable of its own rather than
// Readable.from(async generator): a generator that was never pulled runs no `finally` when the
// stream is destroyed, so a client gone before its first chunk kept the part file open; and a
// chunk here costs no promise or listener, which with 50 clients of one download was a good
// part of the event loop's time.
import { Readable } from 'node:stream'

/** What a reader needs from its download (Download implements it). */
export interface DownloadSource {
  readonly state: 'connecting' | 'streaming' | 'done' | 'failed'
  /** Bytes readers may have: everything received minus the piece held back for the verdict. */
  readonly available: number
  readonly error: Error | undefined
  /** The bytes at `position` (up to `available`) if they are still in memory. */
  pieceAt(position: number): Buffer | undefined
  /** The bytes at `position` read back from the part file (undefined: not written yet). */
  readPart(position: number, done: (err: Error | null, bytes: Buffer | undefined) => void): void
  /** Call `wake` once, the next time something changes (bytes, the verdict, a write). */
  wait(wake: () => void): void
  stopWaiting(wake: () => void): void
  /** This reader is gone: the part file is closed (resolves then) once nothing else needs it. */
  detach(): Promise<void>
}

export class DownloadReader extends Readable {
  readonly #source: DownloadSource
  #position = 0
  /** A read of the part file is in flight. */
  #reading = false
  #waiting = false
  #detached = false
  readonly #wake = (): void => {
    this.#waiting = false
    this.#pump()
  }

  constructor(source: DownloadSource) {
    // One chunk ahead per client: with 50 clients of one download, buffers read ahead per
    // client were most of the memory the download used (docs/benchmarks.md).
    super({ highWaterMark: 1 })
    this.#source = source
  }

  override _read(): void {
    this.#pump()
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.#waiting) this.#source.stopWaiting(this.#wake)
    this.#waiting = false
    // 'close' comes once the part file is closed (when this was its last user).
    this.#detach().then(
      () => {
        callback(err)
      },
      () => {
        callback(err)
      },
    )
  }

  // Push what is there until the consumer has enough; otherwise wait for the download.
  #pump(): void {
    const source = this.#source
    while (!this.#reading && !this.destroyed) {
      if (source.state === 'failed') {
        this.destroy(source.error ?? new Error('download failed'))
        return
      }
      if (this.#position < source.available) {
        const piece = source.pieceAt(this.#position)
        if (piece === undefined) {
          this.#readPart()
          return
        }
        this.#position += piece.length
        if (!this.push(piece)) return
        continue
      }
      if (source.state === 'done') {
        // Detached when destroyed, as it is right after its end (autoDestroy).
        this.push(null)
        return
      }
      this.#sleep()
      return
    }
  }

  #readPart(): void {
    this.#reading = true
    this.#source.readPart(this.#position, (err, bytes) => {
      this.#reading = false
      if (this.destroyed) return
      if (err !== null) {
        this.destroy(err)
        return
      }
      if (bytes === undefined) {
        // Not on the disk yet (and no longer in memory): the write in flight will wake us.
        this.#sleep()
        return
      }
      // Checked again after the read: a failure meanwhile must cut the body before its end.
      if (this.#source.state === 'failed') {
        this.#pump()
        return
      }
      this.#position += bytes.length
      if (this.push(bytes)) this.#pump()
    })
  }

  #sleep(): void {
    if (this.#waiting) return
    this.#waiting = true
    this.#source.wait(this.#wake)
  }

  #detach(): Promise<void> {
    if (this.#detached) return Promise.resolve()
    this.#detached = true
    return this.#source.detach()
  }
}
