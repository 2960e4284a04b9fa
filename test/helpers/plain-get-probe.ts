// Run in a child process (`node --import tsx test/helpers/plain-get-probe.ts URL LENGTH [upstream]`),
// so that its environment decides which certificate authorities TLS trusts (NODE_EXTRA_CA_CERTS
// is read once, when Node starts): plainGet() of URL, expecting a 200 of LENGTH bytes, or with
// `upstream` plainFileGet() of URL (src/upstream/plain-file-get.ts), or with `sink` (or
// `slow-sink`) plainGet() piped into a sink given to it (as a download's response is). Prints one JSON line: { sha256 }
// of the body it read (with `sink`, and `blocks`: how many distinct ArrayBuffers its chunks
// were views of), { refused: true } when it gave up, or { failed: kind } when plainFileGet()
// failed with an UpstreamFetchError of that kind.
import { createHash } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { deferredStream } from '../../src/storage/deferred-stream.js'
import { plainGet } from '../../src/storage/s3-plain-get.js'
import { plainFileGet } from '../../src/upstream/plain-file-get.js'
import { UpstreamFetchError } from '../../src/upstream/upstream-errors.js'

const url = new URL(process.argv[2] ?? '')
const length = Number(process.argv[3] ?? '0')
// An object: TypeScript would take a plain `let` set in the callback as never changed.
const outcome: { refused: boolean; failed?: string } = { refused: false }
const hash = createHash('sha256')
const blocks = new Set<ArrayBufferLike>()
// Hashes each chunk once it is "sent": at once, or with `slow-sink` every other one a little
// later, as a response whose client lags keeps the chunks written to it (the plain GET must not
// read into their buffer meanwhile).
let writes = 0
const sink =
  process.argv[4] === 'sink' || process.argv[4] === 'slow-sink'
    ? new Writable({
        write(chunk: Buffer, _encoding, callback) {
          blocks.add(chunk.buffer)
          const sent = (): void => {
            hash.update(chunk)
            callback()
          }
          if (process.argv[4] === 'slow-sink' && ++writes % 2 === 0) setTimeout(sent, 2)
          else sent()
        },
      })
    : undefined
const body =
  process.argv[4] === 'upstream'
    ? await plainFileGet({
        url: url.href,
        headers: { accept: '*/*' },
        timeouts: { connectMs: 10_000, firstByteMs: 10_000, idleMs: 10_000 },
        maxRedirects: 0,
      }).then(
        (response) => {
          outcome.refused = response === undefined
          return response?.body ?? Readable.from([])
        },
        (err: unknown) => {
          outcome.failed = err instanceof UpstreamFetchError ? err.kind : String(err)
          return Readable.from([])
        },
      )
    : deferredStream(
        async (target) => {
          const source = await plainGet(
            { url, headers: { 'if-match': '"abc"' }, status: 200, length, timeoutMs: 10_000, connectTimeoutMs: 10_000 },
            new AbortController().signal,
            target,
            sink,
          )
          if (source !== undefined) return source
          outcome.refused = true
          return Readable.from([])
        },
        { highWaterMark: 64 * 1024 },
      )
if (sink === undefined) for await (const chunk of body) hash.update(chunk as Buffer)
else await pipeline(body, sink)
const read = { sha256: hash.digest('hex'), ...(sink === undefined ? {} : { blocks: blocks.size }) }
process.stdout.write(
  `${JSON.stringify(outcome.failed !== undefined ? { failed: outcome.failed } : outcome.refused ? { refused: true } : read)}\n`,
)
