// `npm run bench:s3-facts`: the heap the S3 backend's in-memory facts cost (S3StoredFacts, what
// each snapshot carries, docs/s3-replicas.md) at 100,000 files, without a store: the facts are
// made as a snapshot's decoding makes them (JSON text of md5 and sha256 digests, the metadata
// file's sha256 and a Requires-Python, parsed by parseFileFacts) and seeded as its load does.
// The keys and identities are the listings' own strings (held anyway), made before the first
// measurement; only what the facts add is counted. Run with --expose-gc (the npm script does).
import { createHash } from 'node:crypto'
import { pino } from 'pino'
import { S3StoredFacts, parseFileFacts } from '../../src/storage/s3-facts.js'
import type { S3Context } from '../../src/storage/s3-context.js'

const FILES = Number(process.argv[2] ?? 100_000)
// Most trees share a handful of Requires-Python values.
const REQUIRES = ['>=3.8', '>=3.9', '>=3.7', '>=3.10', '>=3.6', '>=2.7, !=3.0.*, !=3.1.*']

function hex(algorithm: 'md5' | 'sha256', text: string): string {
  return createHash(algorithm).update(text).digest('hex')
}

function heapMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  gc()
  gc()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

const files = Array.from({ length: FILES }, (_, n) => {
  const project = `project-${Math.floor(n / 10)}`
  const key = `${project}/${project.replace(/-/g, '_')}-1.${n % 10}.0-py3-none-any.whl`
  const etag = hex('md5', `etag ${n}`)
  return { key, identity: [etag, 10_000 + n, key].join(':') }
})
// The facts as a snapshot holds them: JSON text (made per file, garbage once parsed).
function factsText(key: string, n: number): string {
  return JSON.stringify({
    digests: { md5: hex('md5', key), sha256: hex('sha256', key) },
    metadata: { sha256: hex('sha256', `metadata ${key}`), requiresPython: REQUIRES[n % REQUIRES.length] },
  })
}
const context = { log: pino({ level: 'silent' }) } as unknown as S3Context
const stored = new S3StoredFacts(context)

const before = heapMb()
for (const [n, file] of files.entries()) {
  const facts = parseFileFacts(JSON.parse(factsText(file.key, n)))
  if (facts === undefined) throw new Error('facts of an unexpected shape')
  stored.seed(file, facts)
}
const after = heapMb()
const known = files.filter((file) => stored.known(file) !== undefined).length
const added = after - before
console.log(
  `S3StoredFacts: ${known} files, heap ${before.toFixed(1)} MB before, ${after.toFixed(1)} MB after: ` +
    `${added.toFixed(1)} MB (${Math.round((added * 1024 * 1024) / known)} bytes a file)`,
)
