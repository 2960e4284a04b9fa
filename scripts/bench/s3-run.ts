// --only s3: the rows of S3-compatible storage and replicas (docs/s3-replicas.md), with moto on
// loopback as the store, once per run:
// - a page from a bucket-backed replica against the same page from a folder-backed eggserve
//   (the same files), under wrk alternately;
// - one file streamed through a bucket-backed replica against the same object read from moto
//   directly (a presigned GET) with the same client and read loop, one client each, alternately
//   (which goes first alternates too), per round; eggserve's CPU time per download, and GetObject
//   of the AWS SDK for comparison (--s3-download-only measures only this row);
// - convergence: uploads to one replica, each timed from its answer until another replica's
//   page lists the file;
// - start-up of a replica on a prefix of 10,000 files (1,000 with --quick; and 100,000 with
//   --s3-startup-100k): listening and ready, cold (empty cache dir, nothing stored beside the
//   files yet, no snapshot), then warm (restarted with its cache dir), then a new replica (an
//   empty cache dir, with the snapshot and the facts the first one stored in the bucket).
import { randomBytes } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { buildWheel, writeDist } from '../../test/helpers/distributions.js'
import { multipart, uploadParts } from '../../test/helpers/upload-form.js'
import { wasInterrupted } from './cleanup.js'
import { getOk, pollUntil } from './http.js'
import { motoPython, startMoto, type MotoStore } from './moto.js'
import { loadNewInstances, type InstanceVariant } from './instance-rounds.js'
import type { S3PageLoad, S3Result, S3Startup } from './results.js'
import { cpuSeconds, startEggserve, type Eggserve } from './servers.js'
import { medianRun, V1_JSON, type RunContext } from './tree-run.js'
import { inTurn, MIN_DOWNLOAD_ROUNDS, timedDownload } from './upstream-run.js'

const BUCKET = 'eggserve-bench'
const PAGE = 's3page'
const PAGE_FILES = 10
const DOWNLOAD = 's3dl'
const CONVERGE = 's3conv'
// Rounds of new instances for the page row (at least; --rounds if more): the median of per-round
// ratios needs a few to settle.
const MIN_PAGE_ROUNDS = 5
// Downloads through a new replica before the download row records any.
const VIA_WARM_UPS = 3
/** Uploads timed for the convergence row. */
export const CONVERGENCE_UPLOADS = 20
// Concurrent PutObjects while the start-up prefix is filled.
const FILL_CONCURRENCY = 16

/** Sizes of the s3 rows: a 100 MB download and 10,000 objects, or small ones for --quick. */
export function s3Sizes(quick: boolean): { downloadBytes: number; startupObjects: number; uploads: number } {
  return quick
    ? { downloadBytes: 8e6, startupObjects: 1000, uploads: 5 }
    : { downloadBytes: 100e6, startupObjects: 10_000, uploads: CONVERGENCE_UPLOADS }
}

/** The report's note when moto is missing (run.ts then skips the rows). */
export const S3_SKIPPED =
  "S3 storage and replicas: not measured, moto was not found (pyenv's Python 3.11.7 with `python -m moto.server`)."

export async function benchS3(ctx: RunContext): Promise<S3Result> {
  const python = motoPython(ctx.env)
  if (python === undefined) throw new Error(S3_SKIPPED)
  const sizes = s3Sizes(ctx.options.quick)
  ctx.log(
    `=== S3 storage and replicas: moto on loopback; a ${String(sizes.downloadBytes / 1e6)} MB file, ${String(sizes.startupObjects)} objects at start-up`,
  )
  const moto = await startMoto(python)
  try {
    await moto.createBucket(BUCKET)
    const dir = join(ctx.runDir, 's3')
    const downloadFile = await writeFixture(ctx, moto, join(dir, 'eggdir'), sizes.downloadBytes)
    if (ctx.options.s3DownloadOnly) {
      const replica = await start(ctx, { label: 's3-replica', moto, prefix: 'pypi' })
      try {
        await waitReady(ctx, replica)
        const download = await measureDownload(ctx, moto, replica, { downloadFile, ...sizes })
        return { store: 'moto (python -m moto.server) on loopback', download }
      } finally {
        await replica.stop()
      }
    }
    const served = await measureServed(ctx, moto, { dir, downloadFile, ...sizes })
    const startup = await measureStartup(ctx, moto, { dir: join(dir, 'startup'), objects: sizes.startupObjects })
    const large = ctx.options.s3Startup100k
      ? {
          startupLarge: await measureStartup(ctx, moto, {
            dir: join(dir, 'startup-large'),
            objects: 100_000,
            prefix: 'startup-large',
            ready: false,
          }),
        }
      : {}
    return { store: 'moto (python -m moto.server) on loopback', ...served, startup, ...large }
  } finally {
    await moto.stop()
  }
}

/** The page project (in the folder and the bucket alike) and the download file; returns its name. */
async function writeFixture(ctx: RunContext, moto: MotoStore, eggdir: string, downloadBytes: number): Promise<string> {
  const files: { key: string; bytes: Buffer }[] = []
  for (let i = 0; i < PAGE_FILES; i++) {
    const wheel = buildWheel({ name: PAGE, version: `1.${String(i)}` })
    files.push({ key: `${PAGE}/${wheel.filename}`, bytes: wheel.bytes })
  }
  // Random bytes (incompressible, many chunks on the wire), as upstream-run.ts's downloads.
  files.push({ key: `${DOWNLOAD}/${DOWNLOAD}-1.0.tar.gz`, bytes: randomBytes(downloadBytes) })
  for (const file of files) {
    await writeDist(join(eggdir, file.key, '..'), { filename: file.key.split('/')[1] ?? '', bytes: file.bytes })
    await moto.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `pypi/${file.key}`, Body: file.bytes }))
  }
  ctx.log(`  ${String(files.length)} files in ${eggdir} and in s3://${BUCKET}/pypi/`)
  return `${DOWNLOAD}-1.0.tar.gz`
}

/** The page, download and convergence rows: a folder-backed eggserve and bucket replicas. */
async function measureServed(
  ctx: RunContext,
  moto: MotoStore,
  fixture: { dir: string; downloadFile: string; downloadBytes: number; uploads: number },
): Promise<Omit<S3Result, 'store' | 'startup'>> {
  // First, alone: no other replica polls the store while the page is loaded.
  const page = await measurePage(ctx, moto, join(fixture.dir, 'eggdir'))
  const writer = await start(ctx, { label: 's3-writer', moto, prefix: 'pypi', uploads: true })
  const replica = await start(ctx, { label: 's3-replica', moto, prefix: 'pypi' })
  try {
    for (const server of [writer, replica]) await waitReady(ctx, server)
    const download = await measureDownload(ctx, moto, replica, fixture)
    const convergenceMs: number[] = []
    for (let i = 0; i < fixture.uploads && !wasInterrupted(); i++)
      convergenceMs.push(await converge(ctx, writer, replica, i))
    ctx.log(`  convergence (ms): ${convergenceMs.map((ms) => ms.toFixed(0)).join(', ')}`)
    return { page, download, convergenceMs }
  } finally {
    for (const server of [replica, writer]) await server.stop()
  }
}

/**
 * The download row: per round, the object through `replica` and from moto directly, with the same
 * client and read loop (timedDownload on a presigned GET URL), so that the two differ by eggserve
 * alone; which goes first alternates. GetObject of the AWS SDK is timed too, for comparison: it
 * is a heavier client (it checks a CRC32 of the body), which would flatter the ratio.
 */
async function measureDownload(
  ctx: RunContext,
  moto: MotoStore,
  replica: Eggserve,
  fixture: { downloadFile: string; downloadBytes: number },
): Promise<S3Result['download']> {
  const bytes = fixture.downloadBytes
  const key = `pypi/${DOWNLOAD}/${fixture.downloadFile}`
  const viaUrl = `${replica.url}/packages/${DOWNLOAD}/${fixture.downloadFile}`
  const directUrl = await getSignedUrl(moto.client, new GetObjectCommand({ Bucket: BUCKET, Key: key }), {
    expiresIn: 24 * 3600,
  })
  const viaMbps: number[] = []
  const directMbps: number[] = []
  const sdkMbps: number[] = []
  const viaCpuSeconds: number[] = []
  const via = async (): Promise<number> => {
    const before = await cpuSeconds(replica.pid)
    const mbps = await timedDownload(viaUrl, bytes)
    viaCpuSeconds.push((await cpuSeconds(replica.pid)) - before)
    return mbps
  }
  // Not recorded: the first reads find code not yet optimized and sockets not yet open. Three
  // through the replica, which has just started (the page row before it runs on instances of its
  // own): its CPU per download fell 0.29, 0.20, 0.18, 0.15, 0.13 s over the rounds of a run
  // that warmed it up with one.
  for (let i = 0; i < VIA_WARM_UPS; i++) await timedDownload(viaUrl, bytes)
  await timedDownload(directUrl, bytes)
  const rounds = Math.max(MIN_DOWNLOAD_ROUNDS, ctx.options.rounds)
  for (let round = 0; round < rounds && !wasInterrupted(); round++) {
    const first = round % 2 === 0 ? 'via' : 'direct'
    const both = await inTurn(first === 'direct', () => timedDownload(directUrl, bytes), via)
    viaMbps.push(both.via)
    directMbps.push(both.direct)
    sdkMbps.push(await getObjectMbps(moto.client, key, bytes))
    ctx.log(
      `  download ${String(round + 1)} (${first} first): through eggserve ${(viaMbps.at(-1) ?? 0).toFixed(0)} MB/s (CPU ${(viaCpuSeconds.at(-1) ?? 0).toFixed(2)} s), from moto with the same client ${(directMbps.at(-1) ?? 0).toFixed(0)} MB/s, GetObject ${(sdkMbps.at(-1) ?? 0).toFixed(0)} MB/s`,
    )
  }
  return { bytes, viaMbps, directMbps, viaCpuSeconds, sdkMbps }
}

/** Upload one wheel to `writer`; ms from its answer until `reader`'s page lists it. */
async function converge(ctx: RunContext, writer: Eggserve, reader: Eggserve, i: number): Promise<number> {
  const version = `1.${String(i)}`
  const wheel = buildWheel({ name: CONVERGE, version })
  const form = multipart(await uploadParts(wheel, { name: CONVERGE, version }))
  const res = await fetch(`${writer.url}/legacy/`, {
    method: 'POST',
    body: form.body,
    headers: { 'content-type': form.contentType },
  })
  await res.arrayBuffer()
  if (res.status !== 200) throw new Error(`the upload of ${wheel.filename} answered ${String(res.status)}`)
  const answered = performance.now()
  const seen = await pollUntil(
    `${reader.url}/simple/${CONVERGE}/`,
    (f) => f.status === 200 && f.body.includes(wheel.filename),
    {
      intervalMs: 10,
      timeoutMs: ctx.options.readyTimeoutS * 1000,
      headers: { accept: V1_JSON },
    },
  )
  if (seen.kind !== 'ok') throw new Error(`the other replica never listed ${wheel.filename} (${seen.kind})`)
  return seen.at - answered
}

/**
 * Fill `<prefix>/` with `objects` small wheels, then start a replica on it cold, again warm, and
 * a new replica (an empty cache dir) that finds the snapshot and facts the first one stored.
 * Without `ready`, each is stopped once listening (the cold one once its snapshot is in the
 * bucket): hashing 100,000 files read from moto one by one would take more than an hour.
 */
async function measureStartup(
  ctx: RunContext,
  moto: MotoStore,
  where: { dir: string; objects: number; prefix?: string; ready?: boolean },
): Promise<S3Startup> {
  const { dir, objects } = where
  const prefix = where.prefix ?? 'startup'
  const fillMs = await fill(ctx, moto, { prefix, objects })
  const cacheDir = join(dir, 'cache')
  await mkdir(cacheDir, { recursive: true })
  const times = async (label: string, cache: string): Promise<{ listeningMs: number; readyMs?: number }> => {
    const server = await start(ctx, { label, moto, prefix, cacheDir: cache })
    try {
      if (where.ready === false) {
        if (label.endsWith('-cold')) await snapshotWritten(ctx, moto, prefix)
        ctx.log(`  ${label}: listening ${server.listeningMs.toFixed(0)} ms`)
        return { listeningMs: server.listeningMs }
      }
      const ready = await waitReady(ctx, server)
      const result = { listeningMs: server.listeningMs, readyMs: ready - server.spawnedAt }
      ctx.log(`  ${label}: listening ${result.listeningMs.toFixed(0)} ms, ready ${result.readyMs.toFixed(0)} ms`)
      // The new replica starts from the snapshot revision that carries the facts learnt hashing.
      if (label.endsWith('-cold')) await factsSnapshotWritten(ctx, moto, prefix)
      return result
    } finally {
      await server.stop()
    }
  }
  const cold = await times(`${prefix}-cold`, cacheDir)
  const warm = await times(`${prefix}-warm`, cacheDir)
  const joinCache = join(dir, 'cache-new')
  await mkdir(joinCache, { recursive: true })
  const joined = await times(`${prefix}-new`, joinCache)
  return {
    objects,
    fillMs,
    coldListeningMs: cold.listeningMs,
    warmListeningMs: warm.listeningMs,
    joinListeningMs: joined.listeningMs,
    ...(cold.readyMs === undefined ? {} : { coldReadyMs: cold.readyMs }),
    ...(warm.readyMs === undefined ? {} : { warmReadyMs: warm.readyMs }),
    ...(joined.readyMs === undefined ? {} : { joinReadyMs: joined.readyMs }),
  }
}

/** Put `objects` small wheels, 10 per project, FILL_CONCURRENCY at once; returns how long it took (ms). */
async function fill(ctx: RunContext, moto: MotoStore, where: { prefix: string; objects: number }): Promise<number> {
  const { prefix, objects } = where
  const perProject = 10
  const projects = Math.ceil(objects / perProject)
  ctx.log(`  filling s3://${BUCKET}/${prefix}/ with ${String(objects)} wheels (${String(projects)} projects)`)
  const started = performance.now()
  let next = 0
  const put = async (): Promise<void> => {
    while (next < objects && !wasInterrupted()) {
      const n = next++
      const name = `s3start${String(Math.floor(n / perProject))}`
      const wheel = buildWheel({ name, version: `1.${String(n % perProject)}` })
      await moto.client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${name}/${wheel.filename}`, Body: wheel.bytes }),
      )
    }
  }
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, put))
  const ms = performance.now() - started
  ctx.log(`  filled in ${(ms / 1000).toFixed(0)} s`)
  return ms
}

/** Waits until the bucket holds a snapshot under `prefix` (written at the replica's first journal poll). */
async function snapshotWritten(ctx: RunContext, moto: MotoStore, prefix: string): Promise<void> {
  const deadline = performance.now() + ctx.options.readyTimeoutS * 1000
  while (performance.now() < deadline && !wasInterrupted()) {
    const listed = await moto.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/.eggserve/snapshots/` }),
    )
    if ((listed.KeyCount ?? 0) > 0) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`no snapshot under s3://${BUCKET}/${prefix}/ in time`)
}

/**
 * Waits (30 s at most) for a later revision of the snapshot under `prefix`: written a few seconds
 * after the last file's facts were learnt (docs/s3-replicas.md). None in that time: the first
 * snapshot had them all.
 */
async function factsSnapshotWritten(ctx: RunContext, moto: MotoStore, prefix: string): Promise<void> {
  const deadline = performance.now() + 30_000
  while (performance.now() < deadline && !wasInterrupted()) {
    const listed = await moto.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/.eggserve/snapshots/` }),
    )
    if ((listed.Contents ?? []).some((object) => /\.\d+\.json\.gz$/.test(object.Key ?? ''))) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  ctx.log(`  no later snapshot revision under s3://${BUCKET}/${prefix}/ in 30 s`)
}

function start(
  ctx: RunContext,
  how: {
    label: string
    eggdir?: string
    moto?: MotoStore
    prefix?: string
    uploads?: boolean
    cacheDir?: string
  },
): Promise<Eggserve> {
  const bucket = how.moto === undefined ? [] : ['--storage', `s3://${BUCKET}/${how.prefix ?? ''}`, '--s3-path-style']
  return startEggserve({
    root: ctx.eggserveRoot,
    // Ignored with --storage; a folder of its own so that nothing else is read.
    eggdir: how.eggdir ?? join(ctx.runDir, 's3', 'unused-eggdir'),
    cacheDir: how.cacheDir ?? join(ctx.runDir, `cache-${how.label}`),
    logLevel: 'warn',
    env: { ...ctx.env, ...(how.moto?.env ?? {}) },
    label: how.label,
    listenTimeoutMs: ctx.options.readyTimeoutS * 1000,
    node: ctx.node,
    eggserveArgs: [...bucket, ...(how.uploads === true ? ['--authenticate', '.'] : [])],
  })
}

/** Waits for /health/ready; returns performance.now() of the ready answer. */
async function waitReady(ctx: RunContext, server: Eggserve): Promise<number> {
  const ready = await pollUntil(`${server.url}/health/ready`, (f) => f.status === 200, {
    intervalMs: 20,
    timeoutMs: ctx.options.readyTimeoutS * 1000,
  })
  if (ready.kind !== 'ok') throw new Error(`an eggserve of the s3 rows was not ready (${ready.kind})`)
  return ready.at
}

/**
 * The page row: the same page from a bucket replica, a folder-backed eggserve, and a second
 * folder-backed one as a control, in rounds of new instances (instance-rounds.ts: identical
 * processes differ by 5 to 20% for their whole life, more than the 10% this row checks).
 */
async function measurePage(ctx: RunContext, moto: MotoStore, eggdir: string): Promise<S3PageLoad> {
  const path = `/simple/${PAGE}/`
  const ready = async (server: Promise<Eggserve>): Promise<Eggserve> => {
    const started = await server
    await waitReady(ctx, started)
    return started
  }
  const variants: readonly InstanceVariant<'bucket' | 'folder' | 'control'>[] = [
    { which: 'bucket', start: () => ready(start(ctx, { label: 's3-page-replica', moto, prefix: 'pypi' })) },
    { which: 'folder', start: () => ready(start(ctx, { label: 's3-page-folder', eggdir })) },
    { which: 'control', start: () => ready(start(ctx, { label: 's3-page-control', eggdir })) },
  ]
  const rounds = Math.max(MIN_PAGE_ROUNDS, ctx.options.rounds)
  ctx.log(`  wrk ${path} on a bucket replica, a folder and a second folder, ${String(rounds)} rounds of new instances`)
  const bytes = { bucket: 0, folder: 0 }
  const measured = await loadNewInstances(ctx, {
    variants,
    path,
    rounds,
    label: 's3-page',
    beforeLoad: async (servers) => {
      for (const which of ['bucket', 'folder'] as const) {
        const server = servers.get(which)
        if (server !== undefined) bytes[which] = (await getOk(`${server.url}${path}`)).body.length
      }
    },
  })
  const line = (which: 'bucket' | 'folder' | 'control'): string =>
    `${measured.runs[which].map((r) => r.rps.toFixed(0)).join(', ')} req/s, ${measured.rounds.map((r) => r.cpuUs[which].toFixed(1)).join(', ')} µs CPU`
  ctx.log(`    bucket: ${line('bucket')}`)
  ctx.log(`    folder: ${line('folder')}`)
  ctx.log(`    control: ${line('control')}`)
  return {
    label: `\`${path}\` (${String(PAGE_FILES)} wheels), HTML: a bucket replica vs a folder`,
    aPath: path,
    bPath: path,
    aBytes: bytes.bucket,
    bBytes: bytes.folder,
    connections: ctx.options.connections,
    by: 'rps',
    a: medianRun(measured.runs.bucket, 'rps'),
    b: medianRun(measured.runs.folder, 'rps'),
    aRounds: measured.runs.bucket,
    bRounds: measured.runs.folder,
    aCpuUs: measured.rounds.map((r) => r.cpuUs.bucket),
    bCpuUs: measured.rounds.map((r) => r.cpuUs.folder),
    control: { rounds: measured.runs.control, cpuUs: measured.rounds.map((r) => r.cpuUs.control) },
  }
}

/** GetObject read to its end with the AWS SDK; MB/s (10^6) from the request to the last byte. */
async function getObjectMbps(client: S3Client, key: string, expected: number): Promise<number> {
  const started = performance.now()
  const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
  if (!(object.Body instanceof Readable)) throw new Error('GetObject gave no Node stream')
  let length = 0
  for await (const chunk of object.Body) length += (chunk as Buffer).length
  const seconds = (performance.now() - started) / 1000
  if (length !== expected)
    throw new Error(`GetObject ${key} gave ${String(length)} bytes, expected ${String(expected)}`)
  return length / 1e6 / seconds
}
