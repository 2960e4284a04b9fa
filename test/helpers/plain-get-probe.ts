// Run in a child process (`node --import tsx test/helpers/plain-get-probe.ts URL LENGTH [upstream]`),
// so that its environment decides which certificate authorities TLS trusts (NODE_EXTRA_CA_CERTS
// is read once, when Node starts): plainGet() of URL, expecting a 200 of LENGTH bytes, or with
// `upstream` plainFileGet() of URL (src/upstream/plain-file-get.ts). Prints one JSON line:
// { sha256 } of the body it read, { refused: true } when it gave up, or { failed: kind } when
// plainFileGet() failed with an UpstreamFetchError of that kind.
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { deferredStream } from '../../src/storage/deferred-stream.js'
import { plainGet } from '../../src/storage/s3-plain-get.js'
import { plainFileGet } from '../../src/upstream/plain-file-get.js'
import { UpstreamFetchError } from '../../src/upstream/upstream-errors.js'

const url = new URL(process.argv[2] ?? '')
const length = Number(process.argv[3] ?? '0')
// An object: TypeScript would take a plain `let` set in the callback as never changed.
const outcome: { refused: boolean; failed?: string } = { refused: false }
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
          )
          if (source !== undefined) return source
          outcome.refused = true
          return Readable.from([])
        },
        { highWaterMark: 64 * 1024 },
      )
const hash = createHash('sha256')
for await (const chunk of body) hash.update(chunk as Buffer)
process.stdout.write(
  `${JSON.stringify(outcome.failed !== undefined ? { failed: outcome.failed } : outcome.refused ? { refused: true } : { sha256: hash.digest('hex') })}\n`,
)
