// The benchmark's synthetic trees: `proj-00000/` … one folder per project, each holding
// `files` distributions, and with `bigMb` a `big/big-1.0-py3-none-any.whl` for download
// throughput. Wheels are valid (PEP 427: METADATA, WHEEL and a RECORD with every member's
// sha256) and install with pip; with `sdists`, every third file is a PEP 625 sdist
// (`.tar.gz` with PKG-INFO: it lists and hashes like a real one, but has nothing to build).
// Payloads are pseudo-random bytes from AES-128-CTR keyed by the seed, one stream per file,
// so every file (and every hash) differs and the same seed gives byte-identical trees.
//
// Standalone: node --import tsx scripts/bench/make-tree.ts OUT [--projects N] [--files M]
//   [--size BYTES] [--big-mb MB] [--sdists] [--seed S]
import { createCipheriv, createHash } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { mkdir, open, readdir, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { crc32, gzipSync } from 'node:zlib'
import { pack as tarPack } from 'tar-stream'
import type { TreeShape } from './options.js'
import { storedZip, writeStoredZip, type ZipMember } from './zip-writer.js'

/** What was generated. */
export interface TreeSummary {
  readonly projects: number
  readonly files: number
  readonly bytes: number
  readonly seconds: number
}

/** Folder (and distribution name) of project number `n`. */
export function projectName(n: number): string {
  return `proj-${String(n).padStart(5, '0')}`
}

// 2020-01-01T00:00:00Z: the one timestamp inside every archive.
const ARCHIVE_EPOCH = 1577836800
// Projects generated at once: enough to keep the disk busy, few enough to bound memory.
const PARALLEL_PROJECTS = 8
const BIG_CHUNK = 1 << 20

/** Pseudo-random bytes: the AES-128-CTR keystream for (seed, label). */
class Payloads {
  readonly #key: Buffer
  constructor(seed: number) {
    this.#key = createHash('sha256').update(`eggserve bench tree, seed ${seed}`).digest().subarray(0, 16)
  }

  /** A keystream for one file: `label` names it (its path), so files never share bytes. */
  stream(label: string): (length: number) => Buffer {
    const iv = createHash('md5').update(label).digest()
    const cipher = createCipheriv('aes-128-ctr', this.#key, iv)
    return (length) => cipher.update(Buffer.alloc(length))
  }
}

/** Core metadata 2.1 (PKG-INFO / METADATA), with Requires-Python on some files so pages carry it. */
function coreMetadata(name: string, version: string, requiresPython: string | undefined): Buffer {
  const lines = [
    'Metadata-Version: 2.1',
    `Name: ${name}`,
    `Version: ${version}`,
    `Summary: synthetic project ${name} for eggserve's benchmark`,
  ]
  if (requiresPython !== undefined) lines.push(`Requires-Python: ${requiresPython}`)
  return Buffer.from(`${lines.join('\n')}\n`)
}

/** PEP 376 RECORD hash: urlsafe base64 of the sha256, without padding. */
function recordHash(digest: Buffer): string {
  return `sha256=${digest.toString('base64url')}`
}

interface Release {
  readonly name: string
  readonly version: string
  readonly requiresPython: string | undefined
}

/** The wheel's members other than the payload, and its file name. */
function wheelLayout(release: Release): {
  readonly filename: string
  readonly module: string
  readonly distInfo: string
  readonly init: Buffer
  readonly metadata: Buffer
  readonly wheel: Buffer
} {
  const module = release.name.replace(/-/g, '_')
  return {
    filename: `${module}-${release.version}-py3-none-any.whl`,
    module,
    distInfo: `${module}-${release.version}.dist-info`,
    init: Buffer.from("# synthetic package for eggserve's benchmark\n"),
    metadata: coreMetadata(release.name, release.version, release.requiresPython),
    wheel: Buffer.from('Wheel-Version: 1.0\nGenerator: eggserve-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n'),
  }
}

/** RECORD: every member with its hash and size, RECORD itself without (PEP 376). */
function record(
  members: readonly { readonly path: string; readonly sha256: Buffer; readonly size: number }[],
  distInfo: string,
): Buffer {
  return Buffer.from(
    members.map((m) => `${m.path},${recordHash(m.sha256)},${m.size}\n`).join('') + `${distInfo}/RECORD,,\n`,
  )
}

/** A small wheel, built in memory. */
function smallWheel(release: Release, payload: Buffer): { readonly filename: string; readonly bytes: Buffer } {
  const layout = wheelLayout(release)
  const hashed = [
    { path: `${layout.module}/__init__.py`, data: layout.init },
    { path: `${layout.module}/payload.bin`, data: payload },
    { path: `${layout.distInfo}/METADATA`, data: layout.metadata },
    { path: `${layout.distInfo}/WHEEL`, data: layout.wheel },
  ]
  const recordData = record(
    hashed.map((m) => ({ path: m.path, sha256: createHash('sha256').update(m.data).digest(), size: m.data.length })),
    layout.distInfo,
  )
  const entries = [...hashed, { path: `${layout.distInfo}/RECORD`, data: recordData }]
  return { filename: layout.filename, bytes: storedZip(entries.map((e) => ({ ...e, crc: crc32(e.data) }))) }
}

/** An sdist: `{name}-{version}/PKG-INFO` and the payload, gzipped tar (fast level: the payload does not compress). */
async function sdist(
  release: Release,
  payload: Buffer,
): Promise<{ readonly filename: string; readonly bytes: Buffer }> {
  const base = `${release.name.replace(/-/g, '_')}-${release.version}`
  const archive = tarPack()
  const mtime = new Date(ARCHIVE_EPOCH * 1000)
  archive.entry(
    { name: `${base}/PKG-INFO`, mode: 0o644, mtime },
    coreMetadata(release.name, release.version, release.requiresPython),
  )
  archive.entry({ name: `${base}/payload.bin`, mode: 0o644, mtime }, payload)
  archive.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of archive) chunks.push(chunk as Buffer)
  return { filename: `${base}.tar.gz`, bytes: gzipSync(Buffer.concat(chunks), { level: 1 }) }
}

/** One project folder; returns the bytes written. */
async function writeProject(out: string, n: number, shape: TreeShape, payloads: Payloads): Promise<number> {
  const name = projectName(n)
  const folder = join(out, name)
  await mkdir(folder)
  let bytes = 0
  for (let f = 0; f < shape.files; f++) {
    const release: Release = {
      name,
      version: `1.${Math.floor(f / 10)}.${f % 10}`,
      requiresPython: f % 2 === 1 ? '>=3.8' : undefined,
    }
    const payload = payloads.stream(`${name}/${release.version}`)(shape.size)
    const dist = shape.sdists && f % 3 === 2 ? await sdist(release, payload) : smallWheel(release, payload)
    await writeFile(join(folder, dist.filename), dist.bytes)
    bytes += dist.bytes.length
  }
  return bytes
}

/** The large wheel, streamed: its payload is hashed in a first pass, then written in a second. */
async function writeBigWheel(out: string, megabytes: number, payloads: Payloads): Promise<number> {
  const release: Release = { name: 'big', version: '1.0', requiresPython: undefined }
  const layout = wheelLayout(release)
  const payloadPath = `${layout.module}/payload.bin`
  const size = megabytes * BIG_CHUNK
  const payloadChunks = function* (): Generator<Buffer> {
    const next = payloads.stream('big/1.0')
    for (let i = 0; i < megabytes; i++) yield next(BIG_CHUNK)
  }
  const sha256 = createHash('sha256')
  let crc = 0
  for (const chunk of payloadChunks()) {
    sha256.update(chunk)
    crc = crc32(chunk, crc)
  }
  const small = [
    { path: `${layout.module}/__init__.py`, data: layout.init },
    { path: `${layout.distInfo}/METADATA`, data: layout.metadata },
    { path: `${layout.distInfo}/WHEEL`, data: layout.wheel },
  ]
  const recordData = record(
    [
      { path: payloadPath, sha256: sha256.digest(), size },
      ...small.map((m) => ({
        path: m.path,
        sha256: createHash('sha256').update(m.data).digest(),
        size: m.data.length,
      })),
    ],
    layout.distInfo,
  )
  const inMemory = new Map<string, Buffer>([
    ...small.map((m): [string, Buffer] => [m.path, m.data]),
    [`${layout.distInfo}/RECORD`, recordData],
  ])
  const members: ZipMember[] = [
    { path: payloadPath, size, crc },
    ...[...inMemory].map(([path, data]) => ({ path, size: data.length, crc: crc32(data) })),
  ]
  const folder = join(out, 'big')
  await mkdir(folder, { recursive: true })
  const path = join(folder, layout.filename)
  const file = await open(path, 'wx')
  try {
    await writeStoredZip(file, members, (member) => {
      const data = inMemory.get(member.path)
      return data === undefined ? payloadChunks() : [data]
    })
  } finally {
    await file.close()
  }
  return (await stat(path)).size
}

/** Generate a tree into `out` (created; it must not exist or be empty). */
export async function makeTree(out: string, shape: TreeShape): Promise<TreeSummary> {
  const started = performance.now()
  await mkdir(out, { recursive: true })
  if ((await readdir(out)).length > 0) throw new Error(`${out} exists and is not empty`)
  const payloads = new Payloads(shape.seed)
  let bytes = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < shape.projects) {
      const written = await writeProject(out, next++, shape, payloads)
      bytes += written
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL_PROJECTS, shape.projects) }, worker))
  let files = shape.projects * shape.files
  if (shape.bigMb > 0) {
    bytes += await writeBigWheel(out, shape.bigMb, payloads)
    files += 1
  }
  return { projects: shape.projects, files, bytes, seconds: (performance.now() - started) / 1000 }
}

async function cli(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      projects: { type: 'string', default: '1000' },
      files: { type: 'string', default: '10' },
      size: { type: 'string', default: '2048' },
      'big-mb': { type: 'string', default: '0' },
      sdists: { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
    },
  })
  const out = positionals[0]
  const numbers = [values.projects, values.files, values.size, values['big-mb'], values.seed]
  if (out === undefined || positionals.length > 1 || numbers.some((text) => !/^\d+$/.test(text))) {
    process.stderr.write(
      'usage: make-tree.ts OUT [--projects N] [--files M] [--size BYTES] [--big-mb MB] [--sdists] [--seed S] (whole numbers)\n',
    )
    return 2
  }
  const shape: TreeShape = {
    projects: Number(values.projects),
    files: Number(values.files),
    size: Number(values.size),
    bigMb: Number(values['big-mb']),
    sdists: values.sdists,
    seed: Number(values.seed),
  }
  const summary = await makeTree(resolve(out), shape)
  process.stdout.write(
    `make-tree: ${out}: ${summary.projects} projects, ${summary.files} files, ${summary.bytes} bytes, ${summary.seconds.toFixed(1)} s\n`,
  )
  return 0
}

const script = process.argv[1]
if (script !== undefined && realpathSync(script) === realpathSync(fileURLToPath(import.meta.url))) {
  cli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (err: unknown) => {
      process.stderr.write(`make-tree: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exitCode = 1
    },
  )
}
