// The S3 storage and replica rows of BENCHMARKS.md (s3-run.ts measures them): pages from a
// bucket replica against a folder, downloads streamed from the store against the same object read
// from the store with the same client, convergence after an upload, and start-up on a bucket prefix.
// (report.ts imports this file and this file its number formats: only inside functions, so the
// cycle is harmless.)
import { int, median, ratio, type SectionRow } from './report.js'
import { cpuPer100Mb } from './report-upstream.js'
import type { S3PageLoad, S3Result, S3Startup } from './results.js'
import type { WrkResult } from './wrk.js'

export type S3TargetId = 's3-page' | 's3-download' | 's3-convergence' | 's3-startup'

/** The object-storage targets (docs/benchmarks.md). */
export const S3_TARGETS: Record<S3TargetId, string> = {
  's3-page': 'S3 storage: pages from a bucket-backed replica within 10% of folder-backed (req/s)',
  's3-download':
    'S3 storage: downloads streamed from the store at ≥ 80% of reading the object directly with the same client',
  's3-convergence': 'S3 replicas: an upload on one replica shows on another within 2 s (every upload: the max)',
  's3-startup':
    'S3 storage: a warm replica listening in < 5 s (the target is at 100,000 objects, measured with --s3-startup-100k; else at 10,000)',
}
const PAGE_RATIO = 0.9
const DOWNLOAD_RATIO = 0.8
const CONVERGENCE_MS = 2000
const LISTENING_MS = 5000

export type S3Row = SectionRow<S3TargetId>

export function s3Rows(result: S3Result): S3Row[] {
  const { page, download, convergenceMs, startup } = result
  // --s3-download-only measures the download row alone.
  return [
    ...(page === undefined ? [] : [pageRow(page)]),
    downloadRow(download),
    ...(convergenceMs === undefined ? [] : [convergenceRow(convergenceMs)]),
    // The target is at 100,000 objects: that row carries the check when it was measured.
    ...(startup === undefined ? [] : [startupRow(startup, result.startupLarge === undefined)]),
    ...(result.startupLarge === undefined ? [] : [startupRow(result.startupLarge, true)]),
  ]
}

function pageRow(page: S3PageLoad): S3Row {
  const metric = `Page \`${page.aPath}\` (${int(page.aBytes)} bytes) from a bucket replica vs a folder: req/s (${String(page.connections)} connections)`
  const target = `≥ ${PAGE_RATIO.toFixed(2)} of folder`
  const errors = page.aRounds.reduce((sum, run) => sum + run.errors, 0)
  const { control, aCpuUs, bCpuUs } = page
  if (control === undefined || aCpuUs === undefined || bCpuUs === undefined) {
    // Results before the rounds of new instances: one instance of each, the median runs' ratio.
    const pageRatio = page.a.rps / page.b.rps
    return {
      metric,
      egg: int(page.a.rps),
      reference: `${int(page.b.rps)} (folder)`,
      ratio: ratio(pageRatio),
      target,
      check: { id: 's3-page', met: errors === 0 && pageRatio >= PAGE_RATIO },
    }
  }
  // Rounds of new instances (s3-run.ts): judged by req/s as the target says, the median of the
  // per-round ratios; CPU time per request and the control (a second folder) beside it.
  const perRound = (of: (i: number) => number): number =>
    median(page.aRounds.map((_, i) => of(i)).filter((value) => Number.isFinite(value)))
  const rps = (runs: readonly WrkResult[], i: number): number => runs[i]?.rps ?? Number.NaN
  const byRps = perRound((i) => rps(page.aRounds, i) / rps(page.bRounds, i))
  const controlByRps = perRound((i) => rps(control.rounds, i) / rps(page.bRounds, i))
  const cpu = (values: readonly number[], i: number): number => values[i] ?? Number.NaN
  const byCpu = perRound((i) => cpu(bCpuUs, i) / cpu(aCpuUs, i))
  const controlByCpu = perRound((i) => cpu(bCpuUs, i) / cpu(control.cpuUs, i))
  return {
    metric: `${metric}, ${String(page.aRounds.length)} rounds of new instances, the median of the per-round ratios; CPU µs per request beside it`,
    egg: `${int(page.a.rps)}; ${median(aCpuUs).toFixed(1)} µs CPU`,
    reference: `${int(page.b.rps)} (folder); ${median(bCpuUs).toFixed(1)} µs CPU`,
    ratio: `${ratio(byRps)} (control ${ratio(controlByRps)}); by CPU ${ratio(byCpu)} (control ${ratio(controlByCpu)})`,
    target,
    check: { id: 's3-page', met: errors === 0 && byRps >= PAGE_RATIO },
  }
}

function downloadRow(download: S3Result['download']): S3Row {
  const downloadRatios = download.viaMbps.map((via, i) => via / (download.directMbps[i] ?? NaN))
  const downloadRatio = median(downloadRatios)
  // Results without sdkMbps took GetObject of the AWS SDK as the direct read.
  const sdk = download.sdkMbps
  const reference =
    sdk === undefined
      ? `${median(download.directMbps).toFixed(0)} (GetObject, AWS SDK)`
      : `${median(download.directMbps).toFixed(0)} (from the store, same client); GetObject (AWS SDK) ${median(sdk).toFixed(0)}`
  return {
    metric: `Download of a ${(download.bytes / 1e6).toFixed(0)} MB object, one client: MB/s (median of ${String(downloadRatios.length)} round${downloadRatios.length === 1 ? '' : 's'})`,
    egg: `${median(download.viaMbps).toFixed(0)}${cpuPer100Mb(download)}`,
    reference,
    ratio: ratio(downloadRatio),
    target: `≥ ${DOWNLOAD_RATIO.toFixed(2)} of ${sdk === undefined ? 'GetObject' : 'the direct read'}`,
    check: { id: 's3-download', met: downloadRatio >= DOWNLOAD_RATIO },
  }
}

function convergenceRow(convergenceMs: readonly number[]): S3Row {
  const maxMs = Math.max(...convergenceMs)
  return {
    metric: `Convergence after an upload to the other replica: ms, median / max of ${String(convergenceMs.length)}`,
    egg: `${median(convergenceMs).toFixed(0)} / ${maxMs.toFixed(0)}`,
    reference: '',
    ratio: '',
    target: `max ≤ ${String(CONVERGENCE_MS)} ms`,
    check: { id: 's3-convergence', met: convergenceMs.length > 0 && maxMs <= CONVERGENCE_MS },
  }
}

function startupRow(startup: S3Startup, checked: boolean): S3Row {
  const pair = (listening: number, ready: number | undefined): string =>
    `${listening.toFixed(0)} / ${ready === undefined ? 'not waited for' : ready.toFixed(0)}`
  const join =
    startup.joinListeningMs === undefined ? '' : `; new replica ${pair(startup.joinListeningMs, startup.joinReadyMs)}`
  const fill = startup.fillMs === undefined ? '' : ` (filled in ${(startup.fillMs / 1000).toFixed(0)} s)`
  return {
    metric: `Start-up on ${int(startup.objects)} objects${fill}: listening / ready, ms`,
    egg: `warm ${pair(startup.warmListeningMs, startup.warmReadyMs)}`,
    reference: `cold ${pair(startup.coldListeningMs, startup.coldReadyMs)}${join}`,
    ratio: '',
    target: `warm listening < ${String(LISTENING_MS)} ms`,
    ...(checked ? { check: { id: 's3-startup' as const, met: startup.warmListeningMs < LISTENING_MS } } : {}),
  }
}

/** The "S3 storage and replicas" section: what was measured, and the table. */
export function s3Section(result: S3Result): string[] {
  return [
    '## S3 storage and replicas',
    '',
    `A fixture of its own (\`scripts/bench/s3-run.ts\`), with ${result.store} as the store. ` +
      "The page row loads the same page (the same ten wheels in a folder and in the bucket) with wrk from a bucket-backed replica, a folder-backed eggserve and a second folder-backed one (the control: the spread between two identical servers), before any other replica runs; in rounds of new instances (at least 5; each round starts all three anew in an order that turns, warms each up with 1 s of wrk not recorded, then loads each in turn), because two identical processes can differ by 5 to 20% in CPU per request for their whole life; judged by the median of the per-round req/s ratios, with the ratios of the servers' CPU time per request beside it. " +
      "The download row reads one object per round, one client, through the replica (streamed from the store) and from the store directly with the same client and read loop (a presigned GET), alternately, which goes first alternating too, at least 5 rounds, after three downloads through the replica and one from the store that are not recorded; the median of the per-round ratios, and eggserve's CPU time per 100 MB. `GetObject` of the AWS SDK in the bench process is shown for comparison (the reference of results before that change). " +
      'Convergence: uploads to one replica, each timed from its answer until another replica (polling every 10 ms) lists it. ' +
      'Start-up: a replica on a prefix of small wheels, started with an empty cache dir (cold: nothing stored beside the files yet and no snapshot, so it lists every folder and ready means every file hashed), then again with its cache dir (warm: the listings from its copy of the snapshot), then a new replica with an empty cache dir (the snapshot and the facts the first replica stored in the bucket).',
    '',
    '| metric | eggserve | reference | ratio | target | met |',
    '|---|---:|---:|---:|---|:---:|',
    ...s3Rows(result).map(
      (row) =>
        `| ${row.metric} | ${row.egg} | ${row.reference} | ${row.ratio} | ${row.target} | ${row.check === undefined ? '' : row.check.met ? 'yes' : '**no**'} |`,
    ),
    '',
  ]
}
