// Made-up facts for bench report tests: a machine description every report needs, a run
// around a section, and the summary row a test reads back.
import assert from 'node:assert/strict'
import type { Machine } from '../../scripts/bench/machine.js'
import type { RunResult, TreeResult } from '../../scripts/bench/results.js'
import type { WrkResult } from '../../scripts/bench/wrk.js'

/** A 1,000 × 10 tree's results with nothing measured, plus `extra`. */
export function testTree(extra: Partial<TreeResult> = {}): TreeResult {
  return {
    shape: { projects: 1000, files: 10, size: 2048, bigMb: 256, sdists: false, seed: 1 },
    files: 10_001,
    bytes: 300_000_000,
    treeDir: '/tmp/tree',
    project: 'proj-00500',
    smallFile: 'proj-00500/f.whl',
    warm: [],
    loads: [],
    profiles: [],
    notes: [],
    ...extra,
  }
}

/** A machine for reports rendered from made-up numbers. */
export const TEST_MACHINE: Machine = {
  cpu: 'Test CPU',
  cores: 2,
  ramGb: 8,
  kernel: '6.1',
  node: 'v20.20.2',
  nginx: '1.22.1',
  wrk: '4.1.0',
  disk: '/tmp',
}

/** A run with no tree, made by `command`, carrying the sections in `extra` (ui, upstream, s3). */
export function testRun(command: string, extra: Partial<RunResult> = {}): RunResult {
  return {
    command,
    date: '2026-12-06 07:00 UTC',
    commit: 'abc1234',
    machine: TEST_MACHINE,
    loadStart: 1,
    loadEnd: 1,
    quick: false,
    durationS: 5,
    rounds: 3,
    connections: 10,
    bigConnections: 4,
    trees: [],
    features: { cacheDir: undefined, ready: undefined, listeningLineAtWarn: undefined },
    notes: [],
    ...extra,
  }
}

/** The cells of the report's summary row that starts with `prefix` (e.g. "Browse UI: a cached"). */
export function summaryRow(report: string, prefix: string): string[] {
  const line = report.split('\n').find((l) => l.startsWith(`| ${prefix}`))
  assert.ok(line, `no summary row "${prefix}"`)
  return line
    .split('|')
    .slice(1, -1)
    .map((cell) => cell.trim())
}

/** A made-up wrk round of 5 s at `rps` requests per second, each answer `bytesPerRequest` long. */
export function wrkRound(rps: number, bytesPerRequest = 1_000): WrkResult {
  return {
    requests: rps * 5,
    bytes: rps * 5 * bytesPerRequest,
    durationS: 5,
    rps,
    mbps: (rps * bytesPerRequest) / 1e6,
    p50Ms: 0.5,
    p90Ms: 1,
    p99Ms: 2,
    maxMs: 4,
    errors: 0,
    errorText: '',
    command: 'wrk',
  }
}
