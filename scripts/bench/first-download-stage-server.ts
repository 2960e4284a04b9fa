// One stage of the upstream first download, alone in a process of its own, so its CPU time can be
// read from /proc (first-download-stages.ts drives it). Each stage adds one piece of work to the
// one before it:
//   pipe    a bare node:http proxy: the upstream's body piped to the client, nothing else
//   hash    + sha256 of every chunk
//   write   + the chunks written to a part file (an fs.WriteStream, unlinked afterwards)
//   fanout  eggserve's Download (src/upstream/file-download.ts: part file, sha256 checked before
//           the last byte, bytes in memory for followers) and one reader() piped to the client,
//           without Fastify
//   fanout-sink  the same, with the response as the reader's sink (as eggserve's route passes it)
// Usage: node --import tsx scripts/bench/first-download-stage-server.ts <stage> <upstream-url> <work-dir>
// It prints its port on stdout; GET /<path>?sha256=<hex> fetches <upstream-url>/<path>.
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rm, unlink } from 'node:fs/promises'
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Download } from '../../src/upstream/file-download.js'

const STAGES = ['pipe', 'hash', 'write', 'fanout', 'fanout-sink'] as const
type Stage = (typeof STAGES)[number]

const [stageArg, upstream, workDir] = process.argv.slice(2)
if (!STAGES.includes(stageArg as Stage) || upstream === undefined || workDir === undefined) {
  process.stderr.write(`usage: first-download-stage-server.ts ${STAGES.join('|')} <upstream-url> <work-dir>\n`)
  process.exit(2)
}
// Checked just above.
const stage = stageArg as Stage

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://stage')
  const source = `${upstream}${url.pathname}`
  const served = stage.startsWith('fanout')
    ? fanout(source, url.searchParams.get('sha256') ?? '', res)
    : proxy(source, res)
  served.catch((err: unknown) => {
    process.stderr.write(`${stage}: ${String(err)}\n`)
    res.destroy()
  })
})
// A stop by signal ends through process.exit, so a --cpu-prof profile is written.
process.once('SIGTERM', () => process.exit(0))
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`${String(typeof address === 'object' && address !== null ? address.port : 0)}\n`)
})

// pipe, hash and write: the body piped to the client (and to the part file), hashed on 'data'.
async function proxy(source: string, res: ServerResponse): Promise<void> {
  const body = await new Promise<IncomingMessage>((resolve, reject) => {
    get(source, resolve).once('error', reject)
  })
  res.writeHead(200, { 'content-length': body.headers['content-length'] ?? '' })
  const sha256 = createHash('sha256')
  if (stage !== 'pipe') body.on('data', (chunk: Buffer) => sha256.update(chunk))
  const part = join(workDir ?? '', `.${randomBytes(6).toString('hex')}.part`)
  const writes = stage === 'write' ? pipeline(body, createWriteStream(part)) : undefined
  await Promise.all([pipeline(body, res), writes])
  sha256.digest('hex')
  if (writes !== undefined) await unlink(part)
}

async function fanout(source: string, sha256: string, res: ServerResponse): Promise<void> {
  const finalPath = join(workDir ?? '', randomBytes(6).toString('hex'))
  const download = new Download({
    request: {
      url: source,
      headers: { accept: '*/*' },
      timeouts: { connectMs: 3000, firstByteMs: 10_000, idleMs: 30_000 },
      maxRedirects: 0,
    },
    expected: { algorithm: 'sha256', hex: sha256 },
    size: undefined,
    finalPath,
  })
  void download.run()
  await download.started
  if (download.length !== undefined) res.setHeader('content-length', download.length)
  await pipeline(download.reader(stage === 'fanout-sink' ? res : undefined), res)
  await download.settled()
  await rm(finalPath, { force: true })
  await rm(`${finalPath}.sha256`, { force: true })
}
