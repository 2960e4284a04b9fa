// --only upstream: the upstream proxy's speed targets (docs/benchmarks.md), on a fixture of its
// own, once per run. The upstream is nginx serving a static PEP 503 tree (HTML pages with
// #sha256= links, files with sendfile): the fastest upstream there is, so eggserve's own cost
// is what shows, and it leaves more of the two cores to eggserve than a second eggserve would.
// - a cached upstream page against a local page of the same shape (10 wheels), both from one
//   eggserve, under wrk alternately;
// - the first download of an uncached file through eggserve against the same file straight
//   from nginx, one client, a new file each round;
// - that file, now cached, against a local file of the same size, under wrk alternately;
// - peak RSS while 50 clients stream one uncached file (twice the size), against idle.
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildWheel, writeDist } from '../../test/helpers/distributions.js'
import { wasInterrupted } from './cleanup.js'
import { getOk, pollUntil } from './http.js'
import { startNginx, type Nginx } from './nginx.js'
import type { PairedLoad, UpstreamResult } from './results.js'
import { cpuSeconds, procStatusMb, startEggserve, type Eggserve } from './servers.js'
import { medianRun, type RunContext } from './tree-run.js'
import { runWrk, type WrkResult } from './wrk.js'

/** Project names: the upstream's and the local ones have names (and file names) of the same length. */
export const UPSTREAM_PAGE = 'uppage'
export const LOCAL_PAGE = 'lopage'
const PAGE_FILES = 10
const DOWNLOAD = 'updl'
const LOCAL_BIG = 'lodl'
const RSS_PROJECT = 'uprss'
/** Concurrent clients of the memory row (the 50). */
export const RSS_CLIENTS = 50

/** Sizes of the upstream rows: the 100 MB and 200 MB, or small ones for --quick. */
export function upstreamSizes(quick: boolean): { downloadBytes: number; rssBytes: number } {
  const mb = quick ? 8 : 100
  return { downloadBytes: mb * 1e6, rssBytes: 2 * mb * 1e6 }
}

interface Fixture {
  /** nginx's root: <project>/index.html and <project>/<file> (served at /simple/ and /packages/). */
  readonly upstreamDir: string
  readonly eggdir: string
  readonly downloads: readonly string[]
  readonly localBig: string
  readonly rssFile: string
}

export async function benchUpstream(ctx: RunContext): Promise<UpstreamResult> {
  const { downloadBytes, rssBytes } = upstreamSizes(ctx.options.quick)
  const dir = join(ctx.runDir, 'upstream')
  ctx.log(
    `=== upstream proxy: nginx serving a static PEP 503 tree; files of ${String(downloadBytes / 1e6)} and ${String(rssBytes / 1e6)} MB`,
  )
  // One file more than the rounds: the first warms eggserve up and is not recorded.
  const fixture = await writeFixture(dir, Math.max(MIN_DOWNLOAD_ROUNDS, ctx.options.rounds) + 1, {
    downloadBytes,
    rssBytes,
  })
  const nginx = await startNginx(fixture.upstreamDir, join(ctx.runDir, 'nginx-upstream'), ctx.env)
  try {
    const served = await measureServed(ctx, fixture, nginx, downloadBytes)
    const memory = await measureMemory(ctx, fixture, nginx, rssBytes)
    return { upstream: 'nginx (static PEP 503 tree)', ...served, memory }
  } finally {
    await nginx.stop()
  }
}

/** The page, first-download and cached-file rows, on one eggserve with the upstream and a local eggdir. */
async function measureServed(
  ctx: RunContext,
  fixture: Fixture,
  nginx: Nginx,
  downloadBytes: number,
): Promise<Omit<UpstreamResult, 'upstream' | 'memory'>> {
  const server = await startWithUpstream(ctx, fixture.eggdir, 'upstream', nginx)
  try {
    await waitReady(ctx, server)
    const upstreamPage = `/simple/${UPSTREAM_PAGE}/`
    const localPage = `/simple/${LOCAL_PAGE}/`
    const page = await paired(ctx, server, {
      label: `\`${upstreamPage}\` (cached upstream page) vs \`${localPage}\` (local), HTML, ${String(PAGE_FILES)} files`,
      a: upstreamPage,
      b: localPage,
      connections: ctx.options.connections,
    })
    // The download page once, so each first download is the file's alone.
    await getOk(`${server.url}/simple/${DOWNLOAD}/`)
    const viaMbps: number[] = []
    const directMbps: number[] = []
    const viaCpuSeconds: number[] = []
    const [warmUp, ...measured] = fixture.downloads
    // Not recorded: eggserve's first download finds its code not yet optimized (the S3 row
    // does the same).
    if (warmUp !== undefined) {
      await timedDownload(`${nginx.url}/packages/${DOWNLOAD}/${warmUp}`, downloadBytes)
      await timedDownload(`${server.url}/files/upstream/${DOWNLOAD}/${warmUp}`, downloadBytes)
    }
    for (const [round, filename] of measured.entries()) {
      if (wasInterrupted()) break
      const directFirst = round % 2 === 0
      let cpu = 0
      const { direct, via } = await inTurn(
        directFirst,
        () => timedDownload(`${nginx.url}/packages/${DOWNLOAD}/${filename}`, downloadBytes),
        async () => {
          // CPU time as well: on a loaded machine it moves much less than MB/s do.
          const cpuBefore = await cpuSeconds(server.pid)
          const mbps = await timedDownload(`${server.url}/files/upstream/${DOWNLOAD}/${filename}`, downloadBytes)
          cpu = (await cpuSeconds(server.pid)) - cpuBefore
          return mbps
        },
      )
      directMbps.push(direct)
      viaMbps.push(via)
      viaCpuSeconds.push(cpu)
      ctx.log(
        `  first download ${String(round + 1)} (${directFirst ? 'direct' : 'via'} first): through eggserve ${via.toFixed(0)} MB/s (CPU ${cpu.toFixed(2)} s), from nginx directly ${direct.toFixed(0)} MB/s`,
      )
    }
    const cachedFile = fixture.downloads[0] ?? ''
    const file = await paired(ctx, server, {
      label: `cached upstream file vs local file, ${String(downloadBytes / 1e6)} MB`,
      a: `/files/upstream/${DOWNLOAD}/${cachedFile}`,
      b: `/packages/${LOCAL_BIG}/${fixture.localBig}`,
      connections: ctx.options.bigConnections,
      big: true,
    })
    return { page, firstDownload: { bytes: downloadBytes, viaMbps, directMbps, viaCpuSeconds }, file }
  } finally {
    await server.stop()
  }
}

/** Peak RSS of a fresh eggserve while RSS_CLIENTS clients stream one uncached file. */
async function measureMemory(
  ctx: RunContext,
  fixture: Fixture,
  nginx: Nginx,
  rssBytes: number,
): Promise<UpstreamResult['memory']> {
  const eggdir = join(ctx.runDir, 'upstream', 'empty-eggdir')
  await mkdir(eggdir, { recursive: true })
  const server = await startWithUpstream(ctx, eggdir, 'upstream-rss', nginx)
  try {
    await waitReady(ctx, server)
    await getOk(`${server.url}/simple/${RSS_PROJECT}/`)
    // Let start-up garbage settle before idle is read.
    await sleep(1000)
    const idleMb = (await procStatusMb(server.pid, 'VmRSS')) ?? NaN
    ctx.log(
      `  ${String(RSS_CLIENTS)} clients stream one uncached ${String(rssBytes / 1e6)} MB file (idle RSS ${idleMb.toFixed(1)} MB)`,
    )
    let sampledMb = idleMb
    const sampling = { on: true }
    const sampler = (async () => {
      while (sampling.on) {
        const rss = await procStatusMb(server.pid, 'VmRSS')
        if (rss !== undefined) sampledMb = Math.max(sampledMb, rss)
        await sleep(20)
      }
    })()
    const started = performance.now()
    const url = `${server.url}/files/upstream/${RSS_PROJECT}/${fixture.rssFile}`
    try {
      const lengths = await Promise.all(Array.from({ length: RSS_CLIENTS }, () => download(url)))
      const short = lengths.filter((length) => length !== rssBytes)
      if (short.length > 0)
        throw new Error(`${String(short.length)} of ${String(RSS_CLIENTS)} clients got a short body`)
    } finally {
      sampling.on = false
      await sampler
    }
    const seconds = (performance.now() - started) / 1000
    const hwmMb = await server.peakRssMb()
    ctx.log(
      `    ${seconds.toFixed(1)} s; peak RSS sampled ${sampledMb.toFixed(1)} MB, VmHWM ${hwmMb?.toFixed(1) ?? '?'} MB`,
    )
    return { bytes: rssBytes, clients: RSS_CLIENTS, idleMb, sampledPeakMb: sampledMb, hwmMb, seconds }
  } finally {
    await server.stop()
  }
}

function startWithUpstream(ctx: RunContext, eggdir: string, label: string, nginx: Nginx): Promise<Eggserve> {
  return startEggserve({
    root: ctx.eggserveRoot,
    eggdir,
    cacheDir: join(ctx.runDir, `cache-${label}`),
    logLevel: 'warn',
    env: ctx.env,
    label,
    listenTimeoutMs: ctx.options.readyTimeoutS * 1000,
    node: ctx.node,
    eggserveArgs: ['--upstream', `${nginx.url}/simple/`],
  })
}

async function waitReady(ctx: RunContext, server: Eggserve): Promise<void> {
  const ready = await pollUntil(`${server.url}/health/ready`, (f) => f.status === 200, {
    intervalMs: 20,
    timeoutMs: ctx.options.readyTimeoutS * 1000,
  })
  if (ready.kind !== 'ok') throw new Error(`the upstream fixture's eggserve was not ready (${ready.kind})`)
}

// Pages and first downloads: at least this many rounds. The two sides of a round run back to
// back, so the median of the per-round ratios settles with a few more of them than --rounds'
// default 3 (single rounds of a download ranged from 0.67 to 1.02 of the median in one run).
const MIN_PAGE_ROUNDS = 5
export const MIN_DOWNLOAD_ROUNDS = 5

/**
 * Two paths of one eggserve under wrk, alternately (which goes first turns each round),
 * `--rounds` rounds (pages: at least MIN_PAGE_ROUNDS), with the server's CPU time per request.
 */
async function paired(
  ctx: RunContext,
  server: Eggserve,
  load: { label: string; a: string; b: string; connections: number; big?: boolean },
): Promise<PairedLoad> {
  const aBody = await getOk(`${server.url}${load.a}`)
  const bBody = await getOk(`${server.url}${load.b}`)
  const by = load.big === true ? 'mbps' : 'rps'
  const rounds = by === 'rps' ? Math.max(MIN_PAGE_ROUNDS, ctx.options.rounds) : ctx.options.rounds
  ctx.log(
    `  wrk ${load.a} (${String(aBody.body.length)} bytes) and ${load.b} (${String(bBody.body.length)} bytes), ${String(rounds)} rounds, ${String(load.connections)} connections`,
  )
  const request = (path: string, label: string): Parameters<typeof runWrk>[0] => ({
    url: `${server.url}${path}`,
    durationS: ctx.options.durationS,
    connections: load.connections,
    ...(load.big === true ? { timeoutS: 120 } : {}),
    workDir: ctx.runDir,
    label,
  })
  // One run of each first, not recorded: the first load after start-up finds code not yet optimized.
  await runWrk({ ...request(load.a, 'upstream-warm-a'), durationS: Math.min(2, ctx.options.durationS) })
  await runWrk({ ...request(load.b, 'upstream-warm-b'), durationS: Math.min(2, ctx.options.durationS) })
  const aRounds: WrkResult[] = []
  const bRounds: WrkResult[] = []
  const aCpuUs: number[] = []
  const bCpuUs: number[] = []
  const measured = async (path: string, label: string): Promise<{ run: WrkResult; cpuUs: number }> => {
    const before = await cpuSeconds(server.pid)
    const run = await runWrk(request(path, label))
    const cpu = (await cpuSeconds(server.pid)) - before
    return { run, cpuUs: run.requests > 0 ? (cpu / run.requests) * 1e6 : Number.NaN }
  }
  for (let round = 0; round < rounds && !wasInterrupted(); round++) {
    const order = round % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)
    for (const which of order) {
      const { run, cpuUs } = await measured(which === 'a' ? load.a : load.b, `upstream-${which}-${String(round)}`)
      ;(which === 'a' ? aRounds : bRounds).push(run)
      ;(which === 'a' ? aCpuUs : bCpuUs).push(cpuUs)
    }
  }
  const list = (runs: readonly WrkResult[]): string => runs.map((r) => r[by].toFixed(0)).join(', ')
  const cpuList = (values: readonly number[]): string => values.map((v) => v.toFixed(1)).join(', ')
  ctx.log(`    ${list(aRounds)} vs ${list(bRounds)} ${by === 'mbps' ? 'MB/s' : 'req/s'}`)
  ctx.log(`    CPU µs/request ${cpuList(aCpuUs)} vs ${cpuList(bCpuUs)}`)
  return {
    label: load.label,
    aPath: load.a,
    bPath: load.b,
    aBytes: aBody.body.length,
    bBytes: bBody.body.length,
    connections: load.connections,
    by,
    a: medianRun(aRounds, by),
    b: medianRun(bRounds, by),
    aRounds,
    bRounds,
    aCpuUs,
    bCpuUs,
  }
}

/**
 * Both sides of a download round, one after the other: the direct read first when `directFirst`
 * (the rows alternate it by round, so a drift of the machine's load weighs on both sides).
 */
export async function inTurn<T>(
  directFirst: boolean,
  direct: () => Promise<T>,
  via: () => Promise<T>,
): Promise<{ direct: T; via: T }> {
  if (directFirst) {
    const first = await direct()
    return { direct: first, via: await via() }
  }
  const first = await via()
  return { direct: await direct(), via: first }
}

/** One GET read to its end; MB/s (10^6) from the request to the last byte. */
export async function timedDownload(url: string, expected: number): Promise<number> {
  const started = performance.now()
  const length = await download(url)
  const seconds = (performance.now() - started) / 1000
  if (length !== expected) throw new Error(`${url} sent ${String(length)} bytes, expected ${String(expected)}`)
  return length / 1e6 / seconds
}

/** GET `url` on a connection of its own and count the body's bytes (a cut body rejects). */
function download(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`GET ${url} answered ${String(res.statusCode)}`))
        return
      }
      let length = 0
      res.on('data', (chunk: Buffer) => {
        length += chunk.length
      })
      res.once('end', () => {
        resolve(length)
      })
      res.once('error', reject)
      res.once('aborted', () => {
        reject(new Error(`GET ${url}: the body was cut`))
      })
    })
    req.once('error', reject)
    req.end()
  })
}

/**
 * The fixture: the upstream tree (the page project, one download file per download, the file of
 * the memory row), and the local eggdir (the page project, a file of the download's size).
 */
async function writeFixture(
  dir: string,
  downloadCount: number,
  sizes: { downloadBytes: number; rssBytes: number },
): Promise<Fixture> {
  const upstreamDir = join(dir, 'upstream-tree')
  const eggdir = join(dir, 'eggdir')
  const pageFiles: Linked[] = []
  for (let i = 0; i < PAGE_FILES; i++) {
    const version = `1.${String(i)}`
    await writeDist(join(eggdir, LOCAL_PAGE), buildWheel({ name: LOCAL_PAGE, version }))
    const wheel = buildWheel({ name: UPSTREAM_PAGE, version })
    await writeDist(join(upstreamDir, UPSTREAM_PAGE), wheel)
    // PEP 658: the metadata beside the wheel, announced on the page as PyPI does (PEP 714), so the
    // upstream page carries what the local one does and the two pages are of a size.
    await writeFile(join(upstreamDir, UPSTREAM_PAGE, `${wheel.filename}.metadata`), wheel.metadata)
    pageFiles.push({
      name: wheel.filename,
      sha256: sha256Hex(wheel.bytes),
      metadataSha256: sha256Hex(wheel.metadata),
    })
  }
  await writeIndex(upstreamDir, UPSTREAM_PAGE, pageFiles)
  const downloads: Linked[] = []
  for (let i = 0; i < Math.max(1, downloadCount); i++) {
    const name = `${DOWNLOAD}-1.${String(i)}.tar.gz`
    downloads.push({ name, sha256: await writeNoise(join(upstreamDir, DOWNLOAD, name), sizes.downloadBytes) })
  }
  await writeIndex(upstreamDir, DOWNLOAD, downloads)
  const localBig = `${LOCAL_BIG}-1.0.tar.gz`
  await writeNoise(join(eggdir, LOCAL_BIG, localBig), sizes.downloadBytes)
  const rssFile = `${RSS_PROJECT}-1.0.tar.gz`
  const rssDigest = await writeNoise(join(upstreamDir, RSS_PROJECT, rssFile), sizes.rssBytes)
  await writeIndex(upstreamDir, RSS_PROJECT, [{ name: rssFile, sha256: rssDigest }])
  return { upstreamDir, eggdir, downloads: downloads.map((file) => file.name), localBig, rssFile }
}

interface Linked {
  readonly name: string
  readonly sha256: string
  readonly metadataSha256?: string
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** <project>/index.html: a PEP 503 page linking `files` with their sha256. */
async function writeIndex(upstreamDir: string, project: string, files: readonly Linked[]): Promise<void> {
  // Page-relative, as a static mirror writes them: /simple/<p>/ + ../../packages/<p>/<file>.
  const links = files.map((file) => {
    const metadata = file.metadataSha256 === undefined ? '' : ` data-core-metadata="sha256=${file.metadataSha256}"`
    return `<a href="../../packages/${project}/${file.name}#sha256=${file.sha256}"${metadata}>${file.name}</a><br>`
  })
  await writeFile(
    join(upstreamDir, project, 'index.html'),
    `<!DOCTYPE html>\n<html><body>\n${links.join('\n')}\n</body></html>\n`,
  )
}

/** Write `bytes` random bytes (incompressible, so many chunks on the wire); returns their sha256. */
export async function writeNoise(path: string, bytes: number): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true })
  const out = createWriteStream(path)
  const hash = createHash('sha256')
  for (let written = 0; written < bytes;) {
    const chunk = randomBytes(Math.min(1 << 20, bytes - written))
    hash.update(chunk)
    if (!out.write(chunk)) await once(out, 'drain')
    written += chunk.length
  }
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject)
    out.end(resolve)
  })
  return hash.digest('hex')
}
