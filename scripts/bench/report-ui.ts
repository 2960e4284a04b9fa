// The browse UI's rows of BENCHMARKS.md (ui-run.ts measures them): the cached 1,000-file project
// page against nginx serving its bytes, and the cold render of that page.
// (report.ts imports this file and this file its number formats: only inside functions, so the
// cycle is harmless.)
import { int, median, ratio, size } from './report.js'
import type { UiResult } from './results.js'
import type { WrkResult } from './wrk.js'

/** The issue's speed targets for the UI (docs/ui.md, "Speed"). */
export const UI_RPS_TARGET = 5000
export const UI_COLD_TARGET_MS = 50

export interface UiRow {
  readonly metric: string
  readonly egg: string
  readonly nginx: string
  readonly ratio: string
  readonly target: string
  readonly check?: { readonly id: 'ui-rps' | 'ui-cold'; readonly met: boolean }
}

export function uiRows(ui: UiResult): UiRow[] {
  const { cached, cold } = ui
  const what = `UI project page (cached), ${cached.label}, ${size(cached.bodyBytes)}`
  const rows: UiRow[] = [
    {
      metric: `${what}: req/s (${cached.connections} connections)`,
      egg: `${int(cached.egg.rps)}${spread(cached.eggRounds)}`,
      nginx: `${int(cached.nginx.rps)}${spread(cached.nginxRounds)}`,
      ratio: ratio(cached.egg.rps / cached.nginx.rps),
      target: `≥ ${int(UI_RPS_TARGET)} req/s`,
      check: { id: 'ui-rps', met: cached.egg.errors === 0 && cached.egg.rps >= UI_RPS_TARGET },
    },
    {
      metric: `${what}: latency p50 / p99 (ms${cached.eggRounds.length > 1 ? `, medians of ${cached.eggRounds.length} rounds` : ''})`,
      egg: latency(cached.eggRounds),
      nginx: latency(cached.nginxRounds),
      ratio: '',
      target: '',
    },
  ]
  if (cold !== undefined) {
    const n = cold.wallMs.length
    const wall = median(cold.wallMs)
    rows.push(
      {
        metric: `UI project page, ${int(ui.files)} files, cold render (${size(cold.bytes)}): median / p95 of ${n}, wall-clock`,
        egg: `${wall.toFixed(1)} / ${p95(cold.wallMs).toFixed(1)} ms`,
        nginx: '',
        ratio: '',
        target: `< ${UI_COLD_TARGET_MS} ms (median)`,
        check: { id: 'ui-cold', met: wall < UI_COLD_TARGET_MS },
      },
      {
        metric: `UI project page, ${int(ui.files)} files, cold render: median / p95 of ${n}, CPU time of the process`,
        egg: `${median(cold.cpuMs).toFixed(1)} / ${p95(cold.cpuMs).toFixed(1)} ms`,
        nginx: '',
        ratio: '',
        target: '',
      },
    )
  }
  return rows
}

/** The "Browse UI" section: what was measured, and the table. */
export function uiSection(ui: UiResult): string[] {
  return [
    '## Browse UI',
    '',
    `A fixture of its own (\`scripts/bench/ui-tree.ts\`): \`big-project\` with ${int(ui.files)} wheels (100 versions × 10 Python tags, a Markdown README) and a one-file project. ` +
      'The cached page is loaded with wrk on an eggserve that is ready, then nginx serves the same bytes as a static file, alternately. ' +
      "A cold render is one request to a new app (empty page, README and metadata caches; the digests known, the README worker started), in a process of its own running the build under test; CPU time is that process's, worker threads included.",
    '',
    '| metric | eggserve | nginx / reference | ratio | target | met |',
    '|---|---:|---:|---:|---|:---:|',
    ...uiRows(ui).map(
      (row) =>
        `| ${row.metric} | ${row.egg} | ${row.nginx} | ${row.ratio} | ${row.target} | ${row.check === undefined ? '' : row.check.met ? 'yes' : '**no**'} |`,
    ),
    '',
  ]
}

/** Nearest-rank 95th percentile. */
export function p95(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil(sorted.length * 0.95) - 1)] ?? NaN
}

function spread(runs: readonly WrkResult[]): string {
  const values = runs.map((r) => r.rps)
  return runs.length < 2 ? '' : ` <sub>(${int(Math.min(...values))}–${int(Math.max(...values))})</sub>`
}

function latency(runs: readonly WrkResult[]): string {
  return `${median(runs.map((r) => r.p50Ms)).toFixed(2)} / ${median(runs.map((r) => r.p99Ms)).toFixed(2)}`
}
