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
  return deferred(make, options).stream
}

/**
 * The same stream, with its source made now rather than at the first read: it resolves once
 * the source is there (for a GET, once the store has answered), and rejects with make's own
 * error (the stream destroyed) when it could not be made. A caller that must know the store's
 * answer before it commits to anything (a response's headers) waits for it.
 */
export async function startedStream(
  make: (target: PushTarget) => Promise<Readable | PushSource>,
  options: DeferredOptions,
): Promise<Readable> {
  const { stream, begin } = deferred(make, options)
  await begin(true)
  return stream
}

function deferred(
  make: (target: PushTarget) => Promise<Readable | PushSource>,
  options: DeferredOptions,
): { stream: Readable; begin: (quiet: boolean) => Promise<void> } {
  const failure = options.failure ?? ((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
  let source: Readable | PushSource | undefined
  const target: PushTarget = {
    push: (chunk) => !stream.destroyed && stream.push(chunk),
    fail: (err) => {
      if (!stream.destroyed) stream.destroy(failure(err))
    },
    get queued() {
      return stream.readableLength
    },
  }
  // Starts the source once; settles when it is made (rejects with make's error, unchanged).
  // Quiet: the caller takes the rejection, and the stream nobody holds yet is destroyed
  // without an error (one would be an 'error' event without a listener).
  let begun: Promise<void> | undefined
  const begin = (quiet: boolean): Promise<void> => {
    begun ??= make(target).then(
      (made) => {
        adopt(made)
      },
      (err: unknown) => {
        if (!stream.destroyed) stream.destroy(quiet ? undefined : failure(err))
        throw err
      },
    )
    return begun
  }
  const adopt = (made: Readable | PushSource): void => {
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
  }
  const stream = new Readable({
    highWaterMark: options.highWaterMark,
    read() {
      if (source !== undefined) {
        source.resume()
        return
      }
      // A failure is reported by destroying the stream (begin() already did).
      begin(false).catch(() => undefined)
    },
    destroy(err, callback) {
      source?.destroy()
      callback(err)
    },
  })
  return { stream, begin }
}
