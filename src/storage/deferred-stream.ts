// A readable stream whose source is made when it is first read: a stream can be handed out at
// once (to a route that pipes it) while what feeds it is still to be asked for (a GET to the
// store, a copy being fetched), and nothing is asked for if it is never read.
import { Readable } from 'node:stream'

/** Options of deferredStream(). */
export interface DeferredOptions {
  /** Bytes buffered ahead of the reader before the source is paused. */
  readonly highWaterMark: number
  /** The error the stream fails with when `make` or the source fails (default: as it is). */
  readonly failure?: (err: unknown) => Error
}

/** Where a PushSource puts what it reads: the deferred stream itself. */
export interface PushTarget {
  /** A chunk (null: the end); false: stop until resume(). */
  push(chunk: Buffer | null): boolean
  /** Fail the stream. */
  fail(err: unknown): void
  /** Bytes pushed that the reader has not taken yet. */
  readonly queued: number
}

/**
 * A source that pushes into the deferred stream (no stream of its own in between: one push per
 * chunk instead of two, s3-plain-get.ts). It may push as soon as it is made.
 */
export interface PushSource {
  /** The reader wants more after a push answered false. */
  resume(): void
  destroy(): void
}

/** A stream of what `make` gives; destroying it destroys the source (and so aborts a request). */
export function deferredStream(
  make: (target: PushTarget) => Promise<Readable | PushSource>,
  options: DeferredOptions,
): Readable {
  const failure = options.failure ?? ((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
  let source: Readable | PushSource | undefined
  let started = false
  const target: PushTarget = {
    push: (chunk) => !stream.destroyed && stream.push(chunk),
    fail: (err) => {
      if (!stream.destroyed) stream.destroy(failure(err))
    },
    get queued() {
      return stream.readableLength
    },
  }
  const stream = new Readable({
    highWaterMark: options.highWaterMark,
    read() {
      if (source !== undefined) {
        source.resume()
        return
      }
      if (started) return
      started = true
      make(target).then(
        (made) => {
          source = made
          if (stream.destroyed) {
            made.destroy()
            return
          }
          // It may have pushed and been told to stop before it was the source: reads asked meanwhile went unheard.
          if (!(made instanceof Readable)) {
            made.resume()
            return
          }
          made.on('data', (chunk: Buffer) => {
            if (!stream.push(chunk)) made.pause()
          })
          made.once('end', () => stream.push(null))
          made.once('error', (err) => {
            stream.destroy(failure(err))
          })
        },
        (err: unknown) => {
          if (!stream.destroyed) stream.destroy(failure(err))
        },
      )
    },
    destroy(err, callback) {
      source?.destroy()
      callback(err)
    },
  })
  return stream
}
