// npm run bench --only upstream: the flag, the sizes, and the upstream proxy's rows of
// BENCHMARKS.md. No timing is asserted: the numbers are made up here.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MEASUREMENTS, needsTrees, parseOptions, type Measurement } from '../../scripts/bench/options.js'
import { renderReport } from '../../scripts/bench/report.js'
import type { PairedLoad, RunResult, UpstreamResult } from '../../scripts/bench/results.js'
import { inTurn, upstreamSizes } from '../../scripts/bench/upstream-run.js'
import type { WrkResult } from '../../scripts/bench/wrk.js'
import { summaryRow, testRun, wrkRound } from '../helpers/bench-fixtures.js'
import { repoRoot } from '../helpers/spawn-server.js'

/** A made-up round at `rps` requests and `mbps` MB per second. */
function wrk(rps: number, mbps = rps * 0.004): WrkResult {
  return wrkRound(rps, (mbps * 1e6) / rps)
}

function paired(a: WrkResult, b: WrkResult, by: 'rps' | 'mbps'): PairedLoad {
  return {
    label: 'pair',
    aPath: by === 'rps' ? '/simple/uppage/' : '/files/upstream/updl/updl-1.0.tar.gz',
    bPath: by === 'rps' ? '/simple/lopage/' : '/packages/lodl/lodl-1.0.tar.gz',
    aBytes: by === 'rps' ? 4_100 : 100e6,
    bBytes: by === 'rps' ? 3_900 : 100e6,
    connections: by === 'rps' ? 10 : 4,
    by,
    a,
    b,
    aRounds: [a],
    bRounds: [b],
  }
}

function upstream(options: { pageRps: number; firstVia: number[]; fileMbps: number; peakMb: number }): UpstreamResult {
  return {
    upstream: 'nginx (static PEP 503 tree)',
    page: paired(wrk(options.pageRps), wrk(20_000), 'rps'),
    firstDownload: { bytes: 100e6, viaMbps: options.firstVia, directMbps: [1000, 1000, 1000] },
    file: paired(wrk(1, options.fileMbps), wrk(1, 2000), 'mbps'),
    memory: { bytes: 200e6, clients: 50, idleMb: 80, sampledPeakMb: options.peakMb, hwmMb: 90, seconds: 12.3 },
  }
}

function run(result: UpstreamResult | undefined): RunResult {
  return testRun('npm run bench -- --only upstream', result === undefined ? {} : { upstream: result })
}

await test('--only takes upstream; alone it needs no synthetic tree; a full run includes it', () => {
  assert.ok(MEASUREMENTS.includes('upstream'))
  assert.deepEqual([...(parseOptions(['--only', 'upstream'], repoRoot, {})?.only ?? [])], ['upstream'])
  assert.equal(needsTrees(new Set<Measurement>(['upstream'])), false)
  assert.equal(needsTrees(new Set<Measurement>(['upstream', 'ui'])), false)
  assert.equal(needsTrees(new Set<Measurement>(['upstream', 'big-file'])), true)
  assert.ok(parseOptions([], repoRoot, {})?.only.has('upstream'), 'a full run measures the upstream proxy')
})

await test("the upstream rows use the issue's sizes, small ones with --quick", () => {
  assert.deepEqual(upstreamSizes(false), { downloadBytes: 100e6, rssBytes: 200e6 })
  assert.deepEqual(upstreamSizes(true), { downloadBytes: 8e6, rssBytes: 16e6 })
})

await test('the report has an Upstream proxy section and its four targets in the summary, as ratios', () => {
  const met = renderReport(run(upstream({ pageRps: 19_000, firstVia: [950, 880, 990], fileMbps: 1900, peakMb: 120 })))
  assert.match(met, /^## Upstream proxy$/m)
  const page = summaryRow(met, 'Upstream proxy: a cached upstream page')
  assert.equal(page[1], 'upstream fixture')
  assert.equal(page[4], '0.95')
  assert.equal(page[5], 'yes')
  const first = summaryRow(met, 'Upstream proxy: the first download')
  // The median of the per-round ratios: 0.95, 0.88, 0.99.
  assert.equal(first[4], '0.95')
  assert.match(first[3] ?? '', /^950 <sub>\(880–990\)<\/sub>$/)
  assert.equal(first[5], 'yes')
  assert.equal(summaryRow(met, 'Upstream proxy: a cached upstream file')[4], '0.95')
  const rss = summaryRow(met, 'Upstream proxy: peak RSS')
  // The higher of the sampled peak (120) and VmHWM (90), against idle (80).
  assert.equal(rss[3], '120 MB (+40 MB)')
  assert.equal(rss[5], 'yes')

  const missed = renderReport(
    run(upstream({ pageRps: 17_000, firstVia: [500, 800, 700], fileMbps: 1000, peakMb: 140 })),
  )
  assert.equal(summaryRow(missed, 'Upstream proxy: a cached upstream page')[5], '**no**')
  assert.equal(summaryRow(missed, 'Upstream proxy: the first download')[5], '**no**')
  assert.equal(summaryRow(missed, 'Upstream proxy: a cached upstream file')[5], '**no**')
  assert.equal(summaryRow(missed, 'Upstream proxy: peak RSS')[3], '140 MB (+60 MB)')
  assert.equal(summaryRow(missed, 'Upstream proxy: peak RSS')[5], '**no**')
})

await test("the first download's row gives eggserve's CPU time per 100 MB when the run measured it", () => {
  const result = upstream({ pageRps: 19_000, firstVia: [950, 880, 990], fileMbps: 1900, peakMb: 120 })
  const measured = renderReport(
    run({ ...result, firstDownload: { ...result.firstDownload, viaCpuSeconds: [0.52, 0.61, 0.47] } }),
  )
  assert.match(
    summaryRow(measured, 'Upstream proxy: the first download')[3] ?? '',
    /^950 <sub>\(880–990\)<\/sub>; CPU 0\.52 s per 100 MB$/,
  )
})

await test('the cached page row: the median of the per-round ratios, and CPU time per request beside it', () => {
  const result = upstream({ pageRps: 19_000, firstVia: [950, 880, 990], fileMbps: 1900, peakMb: 120 })
  // Per round: 0.80, 0.95, 1.00 → 0.95 (met); the medians of each side would give 9,000 / 10,000 = 0.90.
  const page: PairedLoad = {
    ...result.page,
    aRounds: [wrk(8_000), wrk(9_500), wrk(12_000)],
    bRounds: [wrk(10_000), wrk(10_000), wrk(12_000)],
    a: wrk(9_500),
    b: wrk(10_000),
    aCpuUs: [60, 62, 58],
    bCpuUs: [59, 61, 60],
  }
  const row = summaryRow(renderReport(run({ ...result, page })), 'Upstream proxy: a cached upstream page')
  // CPU: local / upstream per round 0.98, 0.98, 1.03 → 0.98.
  assert.equal(row[4], '0.95 (by CPU 0.98)')
  assert.equal(row[5], 'yes')
  assert.match(row[3] ?? '', /; 60\.0 µs CPU$/)
})

await test('a run without the upstream rows says so in the summary and has no Upstream proxy section', () => {
  const report = renderReport(run(undefined))
  assert.doesNotMatch(report, /^## Upstream proxy$/m)
  for (const start of ['a cached upstream page', 'the first download', 'a cached upstream file', 'peak RSS'])
    assert.equal(summaryRow(report, `Upstream proxy: ${start}`)[2], 'not measured')
})

await test('a download round runs its two sides in the order asked, and gives each its own result', async () => {
  for (const directFirst of [true, false]) {
    const ran: string[] = []
    const side = (name: string) => (): Promise<string> => {
      ran.push(name)
      return Promise.resolve(`${name} result`)
    }
    const both = await inTurn(directFirst, side('direct'), side('via'))
    assert.deepEqual(ran, directFirst ? ['direct', 'via'] : ['via', 'direct'])
    assert.deepEqual(both, { direct: 'direct result', via: 'via result' })
  }
})
