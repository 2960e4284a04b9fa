// The upstream proxy's rows of BENCHMARKS.md (upstream-run.ts measures them): a cached upstream
// page against a local one, the first download against the upstream directly, a cached upstream
// file against a local one, and peak RSS while 50 clients stream one uncached file.
// (report.ts imports this file and this file its number formats: only inside functions, so the
// cycle is harmless.)
import { int, median, ratio, size, type SectionRow } from './report.js'
import type { PairedLoad, UpstreamResult } from './results.js'
import type { WrkResult } from './wrk.js'

export type UpstreamTargetId = 'upstream-page' | 'upstream-first' | 'upstream-file' | 'upstream-rss'

/** The issue's targets for the upstream proxy (docs/benchmarks.md). */
export const UPSTREAM_TARGETS: Record<UpstreamTargetId, string> = {
  'upstream-page': 'Upstream proxy: a cached upstream page within 10% of a local page of the same size (req/s)',
  'upstream-first':
    'Upstream proxy: the first download of an uncached 100 MB file at ≥ 90% of downloading it from the upstream directly',
  'upstream-file':
    'Upstream proxy: a cached upstream file at local-file speed (≥ 90% of a local file of the same size)',
  'upstream-rss': 'Upstream proxy: peak RSS while 50 clients stream one uncached 200 MB file within 50 MB of idle',
}
const LEAST_RATIO = 0.9
const RSS_BUDGET_MB = 50

export type UpstreamRow = SectionRow<UpstreamTargetId>

export function upstreamRows(result: UpstreamResult): UpstreamRow[] {
  const { page, file, firstDownload, memory } = result
  // The median of the per-round ratios: the two pages of a round ran back to back, on the same
  // machine state, where the medians of each side may come from different rounds.
  const pageRatio = median(page.aRounds.map((run, i) => run.rps / (page.bRounds[i]?.rps ?? NaN)))
  // The server's CPU time per request beside it, where the run measured it.
  const aCpuUs = page.aCpuUs ?? []
  const bCpuUs = page.bCpuUs ?? []
  const cpu = aCpuUs.length > 0 && bCpuUs.length > 0
  const cpuOf = (values: readonly number[]): string => (cpu ? `; ${median(values).toFixed(1)} µs CPU` : '')
  const pageCpu = median(aCpuUs.map((us, i) => (bCpuUs[i] ?? NaN) / us))
  const firstRatios = firstDownload.viaMbps.map((via, i) => via / (firstDownload.directMbps[i] ?? NaN))
  const firstRatio = median(firstRatios)
  const fileRatio = file.a.mbps / file.b.mbps
  const peakMb = Math.max(memory.sampledPeakMb, memory.hwmMb ?? 0)
  const growth = peakMb - memory.idleMb
  return [
    {
      metric: `Cached upstream page \`${page.aPath}\` (${size(page.aBytes)}) vs local page \`${page.bPath}\` (${size(page.bBytes)}): req/s (${String(page.connections)} connections, ${String(page.aRounds.length)} rounds; the ratio is the median of the per-round ratios)${cpu ? "; the server's CPU time per request beside it" : ''}`,
      egg: `${int(page.a.rps)}${spread(page.aRounds, 'rps')}${cpuOf(aCpuUs)}`,
      reference: `${int(page.b.rps)}${spread(page.bRounds, 'rps')} (local page)${cpuOf(bCpuUs)}`,
      ratio: cpu ? `${ratio(pageRatio)} (by CPU ${ratio(pageCpu)})` : ratio(pageRatio),
      target: `≥ ${LEAST_RATIO.toFixed(2)} of local`,
      check: { id: 'upstream-page', met: page.a.errors === 0 && pageRatio >= LEAST_RATIO },
    },
    {
      metric: `First download of an uncached ${size(firstDownload.bytes)} file, one client: MB/s (median of ${String(firstRatios.length)}, a new file each)`,
      egg: `${median(firstDownload.viaMbps).toFixed(0)}${numbersSpread(firstDownload.viaMbps)}${cpuPer100Mb(firstDownload)}`,
      reference: `${median(firstDownload.directMbps).toFixed(0)}${numbersSpread(firstDownload.directMbps)} (upstream directly)`,
      ratio: ratio(firstRatio),
      target: `≥ ${LEAST_RATIO.toFixed(2)} of the upstream`,
      check: { id: 'upstream-first', met: firstRatio >= LEAST_RATIO },
    },
    {
      metric: `Cached upstream file vs local file, ${size(file.aBytes)}: MB/s (${String(file.connections)} connections)`,
      egg: `${file.a.mbps.toFixed(0)}${spread(file.aRounds, 'mbps')}`,
      reference: `${file.b.mbps.toFixed(0)}${spread(file.bRounds, 'mbps')} (local file)`,
      ratio: ratio(fileRatio),
      target: `≥ ${LEAST_RATIO.toFixed(2)} of local`,
      check: { id: 'upstream-file', met: file.a.errors === 0 && fileRatio >= LEAST_RATIO },
    },
    {
      metric: `Peak RSS while ${String(memory.clients)} clients stream one uncached ${size(memory.bytes)} file (${memory.seconds.toFixed(1)} s)`,
      egg: `${peakMb.toFixed(0)} MB (+${growth.toFixed(0)} MB)`,
      reference: `${memory.idleMb.toFixed(0)} MB idle`,
      ratio: '',
      target: `≤ idle + ${String(RSS_BUDGET_MB)} MB`,
      check: { id: 'upstream-rss', met: growth <= RSS_BUDGET_MB },
    },
  ]
}

/** The "Upstream proxy" section: what was measured, and the table. */
export function upstreamSection(result: UpstreamResult): string[] {
  const { memory } = result
  return [
    '## Upstream proxy',
    '',
    `A fixture of its own (\`scripts/bench/upstream-run.ts\`), with ${result.upstream} as the upstream: the fastest upstream there is (sendfile), so what shows is eggserve's own cost. ` +
      'One eggserve with `--upstream` and a local eggdir takes the page and file rows: each pair of paths is loaded with wrk alternately (which goes first turns each round), `--rounds` rounds (the pages and the first downloads at least 5), the median reported; the page ratio is the median of the per-round ratios, with the CPU time per request of the server during each run beside it (utime + stime from /proc). ' +
      'The first downloads are one client in the bench process reading a new file each round, from nginx directly and through eggserve (which fetches, hashes, writes and verifies it on the way), which goes first alternating, after one round not recorded (code not yet optimized); the ratio is the median of the per-round ratios. ' +
      `The memory row is a fresh eggserve with an empty eggdir: idle is VmRSS after one page request and a second's rest; the peak is the higher of VmRSS sampled every 20 ms during the downloads (${memory.sampledPeakMb.toFixed(0)} MB) and VmHWM afterwards (${memory.hwmMb === undefined ? 'not available' : `${memory.hwmMb.toFixed(0)} MB`}, start-up included).`,
    '',
    '| metric | eggserve | reference | ratio | target | met |',
    '|---|---:|---:|---:|---|:---:|',
    ...upstreamRows(result).map(
      (row) =>
        `| ${row.metric} | ${row.egg} | ${row.reference} | ${row.ratio} | ${row.target} | ${row.check === undefined ? '' : row.check.met ? 'yes' : '**no**'} |`,
    ),
    '',
    ...errorNotes(result),
  ]
}

function errorNotes(result: UpstreamResult): string[] {
  const notes: string[] = []
  for (const load of [result.page, result.file] as const) {
    for (const [path, runs] of [
      [load.aPath, load.aRounds],
      [load.bPath, load.bRounds],
    ] as const) {
      for (const run of runs) {
        if (run.errors > 0)
          notes.push(`- \`${path}\`: ${run.errorText} during a wrk run (${int(run.requests)} requests).`)
      }
    }
  }
  return notes.length === 0 ? [] : [...notes, '']
}

function spread(runs: readonly WrkResult[], by: PairedLoad['by']): string {
  return numbersSpread(runs.map((r) => r[by]))
}

function numbersSpread(values: readonly number[]): string {
  if (values.length < 2) return ''
  const format = (n: number): string => (n >= 1000 ? int(n) : n.toFixed(0))
  return ` <sub>(${format(Math.min(...values))}–${format(Math.max(...values))})</sub>`
}

// eggserve's CPU time per 100 MB of the first downloads (median), when the run measured it.
export function cpuPer100Mb(first: UpstreamResult['firstDownload']): string {
  const cpu = first.viaCpuSeconds
  if (cpu === undefined || cpu.length === 0) return ''
  return `; CPU ${median(cpu.map((seconds) => (seconds * 100e6) / first.bytes)).toFixed(2)} s per 100 MB`
}
