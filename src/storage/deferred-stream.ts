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

/** A stream of what `make` gives; destroying it destroys the source (and so aborts a request). */
export function deferredStream(make: () => Promise<Readable>, options: DeferredOptions): Readable {
  const failure = options.failure ?? ((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
  let source: Readable | undefined
  let started = false
  const stream = new Readable({
    highWaterMark: options.highWaterMark,
    read() {
      if (source !== undefined) {
        source.resume()
        return
      }
      if (started) return
      started = true
      make().then(
        (made) => {
          source = made
          if (stream.destroyed) {
            made.destroy()
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
