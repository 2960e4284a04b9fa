// npm run bench --only s3: the flag, the sizes, and the S3 rows of BENCHMARKS.md (the object-storage targets of docs/benchmarks.md:
// pages from a bucket replica against a folder, downloads against GetObject, convergence,
// start-up). No timing is asserted: the numbers are made up here.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MEASUREMENTS, needsTrees, parseOptions, type Measurement } from '../../scripts/bench/options.js'
import { renderReport } from '../../scripts/bench/report.js'
import type { PairedLoad, RunResult, S3PageLoad, S3Result } from '../../scripts/bench/results.js'
import { s3Sizes } from '../../scripts/bench/s3-run.js'
import type { WrkResult } from '../../scripts/bench/wrk.js'
import { summaryRow, testRun, wrkRound } from '../helpers/bench-fixtures.js'
import { repoRoot } from '../helpers/spawn-server.js'

function wrk(rps: number): WrkResult {
  return wrkRound(rps, 4000)
}

function page(bucketRps: number, folderRps: number): PairedLoad {
  return {
    label: 'page',
    aPath: '/simple/s3page/',
    bPath: '/simple/s3page/',
    aBytes: 3848,
    bBytes: 3848,
    connections: 10,
    by: 'rps',
    a: wrk(bucketRps),
    b: wrk(folderRps),
    aRounds: [wrk(bucketRps)],
    bRounds: [wrk(folderRps)],
  }
}

function s3(options: {
  bucketRps: number
  viaMbps: number[]
  convergenceMs: number[]
  warmListeningMs: number
}): S3Result {
  return {
    store: 'moto (python -m moto.server) on loopback',
    page: page(options.bucketRps, 20_000),
    download: { bytes: 100e6, viaMbps: options.viaMbps, directMbps: [100, 100, 100] },
    convergenceMs: options.convergenceMs,
    startup: {
      objects: 10_000,
      coldListeningMs: 9000,
      coldReadyMs: 500_000,
      warmListeningMs: options.warmListeningMs,
      warmReadyMs: options.warmListeningMs + 20,
    },
  }
}

function run(result: S3Result | undefined): RunResult {
  return testRun('npm run bench -- --only s3', result === undefined ? {} : { s3: result })
}

await test('--only takes s3; alone it needs no synthetic tree; a full run includes it', () => {
  assert.ok(MEASUREMENTS.includes('s3'))
  assert.deepEqual([...(parseOptions(['--only', 's3'], repoRoot, {})?.only ?? [])], ['s3'])
  assert.equal(needsTrees(new Set<Measurement>(['s3'])), false)
  assert.equal(needsTrees(new Set<Measurement>(['s3', 'upstream'])), false)
  assert.equal(needsTrees(new Set<Measurement>(['s3', 'simple-html'])), true)
  assert.ok(parseOptions([], repoRoot, {})?.only.has('s3'), 'a full run measures the S3 rows')
})

await test("the s3 rows use the issue's sizes, small ones with --quick", () => {
  assert.deepEqual(s3Sizes(false), { downloadBytes: 100e6, startupObjects: 10_000, uploads: 20 })
  assert.deepEqual(s3Sizes(true), { downloadBytes: 8e6, startupObjects: 1000, uploads: 5 })
})

await test('the report has an S3 section and its four targets in the summary', () => {
  const met = renderReport(
    run(s3({ bucketRps: 19_000, viaMbps: [85, 80, 95], convergenceMs: [600, 300, 1100, 700], warmListeningMs: 1200 })),
  )
  assert.match(met, /^## S3 storage and replicas$/m)
  const pages = summaryRow(met, 'S3 storage: pages')
  assert.equal(pages[1], 'S3 fixture')
  assert.equal(pages[3], '19,000')
  assert.equal(pages[4], '0.95')
  assert.equal(pages[5], 'yes')
  const download = summaryRow(met, 'S3 storage: downloads')
  // The median of the per-round ratios: 0.85, 0.80, 0.95.
  assert.equal(download[4], '0.85')
  assert.equal(download[5], 'yes')
  const convergence = summaryRow(met, 'S3 replicas')
  // Median of 300, 600, 700, 1100 (the upper middle, as the other rows' medians), max 1100.
  assert.match(convergence[3] ?? '', / \/ 1100$/)
  assert.equal(convergence[5], 'yes')
  const startup = summaryRow(met, 'S3 storage: a warm replica')
  assert.equal(startup[3], 'warm 1200 / 1220')
  assert.match(startup[2] ?? '', /10,000 objects/)
  assert.equal(startup[5], 'yes')

  const missed = renderReport(
    run(s3({ bucketRps: 17_000, viaMbps: [60, 90, 70], convergenceMs: [600, 2100, 500], warmListeningMs: 5200 })),
  )
  assert.equal(summaryRow(missed, 'S3 storage: pages')[4], '0.85')
  assert.equal(summaryRow(missed, 'S3 storage: pages')[5], '**no**')
  assert.equal(summaryRow(missed, 'S3 storage: downloads')[4], '0.70')
  assert.equal(summaryRow(missed, 'S3 storage: downloads')[5], '**no**')
  assert.equal(summaryRow(missed, 'S3 replicas')[5], '**no**', 'one upload over 2 s misses the target')
  assert.equal(summaryRow(missed, 'S3 storage: a warm replica')[5], '**no**')
})

await test('a run without the s3 rows says so in the summary and has no S3 section', () => {
  const report = renderReport(run(undefined))
  assert.doesNotMatch(report, /^## S3 storage and replicas$/m)
  for (const start of ['storage: pages', 'storage: downloads', 'replicas', 'storage: a warm replica'])
    assert.equal(summaryRow(report, `S3 ${start}`)[2], 'not measured')
})

await test('--s3-startup-100k adds a start-up row at 100,000 objects, which then carries the target', () => {
  assert.equal(parseOptions(['--only', 's3'], repoRoot, {})?.s3Startup100k, false)
  assert.equal(parseOptions(['--only', 's3', '--s3-startup-100k'], repoRoot, {})?.s3Startup100k, true)
  const base = s3({ bucketRps: 19_000, viaMbps: [85], convergenceMs: [600], warmListeningMs: 1200 })
  const large = {
    objects: 100_000,
    fillMs: 240_000,
    coldListeningMs: 90_000,
    coldReadyMs: 900_000,
    warmListeningMs: 6100,
    warmReadyMs: 9000,
    joinListeningMs: 7000,
    joinReadyMs: 200_000,
  }
  const report = renderReport(run({ ...base, startupLarge: large }))
  const startup = summaryRow(report, 'S3 storage: a warm replica')
  assert.match(startup[2] ?? '', /^Start-up on 100,000 objects \(filled in 240 s\)/)
  assert.equal(startup[3], 'warm 6100 / 9000')
  assert.equal(startup[5], '**no**', 'the 100,000-object row decides, not the 10,000 one')
  assert.match(report, /\| cold 90000 \/ 900000; new replica 7000 \/ 200000 \|/)
  assert.match(report, /^\| Start-up on 10,000 objects: listening \/ ready, ms \| warm 1200 \/ 1220 \|/m)
})

await test('--s3-download-only: the s3 rows are the download row alone, against the same client, with the CPU time', () => {
  assert.equal(parseOptions(['--only', 's3'], repoRoot, {})?.s3DownloadOnly, false)
  assert.equal(parseOptions(['--only', 's3', '--s3-download-only'], repoRoot, {})?.s3DownloadOnly, true)
  const report = renderReport(
    run({
      store: 'moto (python -m moto.server) on loopback',
      download: {
        bytes: 100e6,
        viaMbps: [300, 200, 350],
        directMbps: [400, 400, 400],
        viaCpuSeconds: [0.2, 0.1, 0.3],
        sdkMbps: [250, 260, 270],
      },
    }),
  )
  const download = summaryRow(report, 'S3 storage: downloads')
  // The median of the per-round ratios 0.75, 0.50, 0.875; CPU: the median of 0.1, 0.2, 0.3 s.
  assert.equal(download[4], '0.75')
  assert.equal(download[5], '**no**')
  assert.equal(download[3], '300; CPU 0.20 s per 100 MB')
  assert.match(report, /\| 400 \(from the store, same client\); GetObject \(AWS SDK\) 260 \|/)
  for (const start of ['storage: pages', 'replicas', 'storage: a warm replica'])
    assert.equal(summaryRow(report, `S3 ${start}`)[2], 'not measured')
  assert.doesNotMatch(report, /Convergence after an upload/)
})

await test('an older result without sdkMbps took GetObject as the direct read, and says so', () => {
  const report = renderReport(
    run(s3({ bucketRps: 19_000, viaMbps: [85, 80, 95], convergenceMs: [600], warmListeningMs: 1200 })),
  )
  assert.match(report, /\| 100 \(GetObject, AWS SDK\) \| 0\.85 \| ≥ 0\.80 of GetObject \|/)
})

await test('the page row in rounds of new instances: judged by the median of the per-round req/s ratios, CPU and the control beside it', () => {
  // Per-round req/s ratios bucket/folder: 0.95, 0.80, 1.00 → median 0.95 (met), though the
  // median runs' ratio (16,000 / 20,000 = 0.80) alone would not be.
  const bucket = [19_000, 16_000, 13_000]
  const folder = [20_000, 20_000, 13_000]
  const control = [20_000, 19_000, 13_650]
  const rounds: S3PageLoad = {
    ...page(16_000, 20_000),
    aRounds: bucket.map(wrk),
    bRounds: folder.map(wrk),
    aCpuUs: [50, 60, 80],
    bCpuUs: [50, 50, 76],
    control: { rounds: control.map(wrk), cpuUs: [50, 55, 76] },
  }
  const base = s3({ bucketRps: 16_000, viaMbps: [85], convergenceMs: [600], warmListeningMs: 1200 })
  const report = renderReport(run({ ...base, page: rounds }))
  const cells = summaryRow(report, 'S3 storage: pages')
  assert.match(cells[2] ?? '', /3 rounds of new instances/)
  // by CPU folder/bucket: 1.00, 0.83, 0.95 → 0.95; control folder/control: 1.00, 0.91, 1.00 → 1.00.
  assert.equal(cells[4], '0.95 (control 1.00); by CPU 0.95 (control 1.00)')
  assert.equal(cells[5], 'yes')
  // Every per-round ratio under 0.9: not met, whatever the medians of each side.
  const slow: S3PageLoad = { ...rounds, aRounds: [17_000, 17_000, 11_000].map(wrk) }
  const missed = summaryRow(renderReport(run({ ...base, page: slow })), 'S3 storage: pages')
  assert.match(missed[4] ?? '', /^0\.85 /)
  assert.equal(missed[5], '**no**')
})
