// npm run bench --only ui: the flag, the fixture, the cold renders' output and the UI's rows of
// BENCHMARKS.md. No timing is asserted: the numbers are made up here.
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { MEASUREMENTS, needsTrees, parseOptions, UsageError, type Measurement } from '../../scripts/bench/options.js'
import { p95 } from '../../scripts/bench/report-ui.js'
import { renderReport } from '../../scripts/bench/report.js'
import type { LoadResult, RunResult, UiResult } from '../../scripts/bench/results.js'
import { parseColdRenders, UI_ENDPOINT } from '../../scripts/bench/ui-run.js'
import { UI_BIG_FILES, UI_BIG_PROJECT, UI_SMALL_PROJECT, writeUiTree } from '../../scripts/bench/ui-tree.js'
import type { WrkResult } from '../../scripts/bench/wrk.js'
import { summaryRow, testRun } from '../helpers/bench-fixtures.js'
import { repoRoot } from '../helpers/spawn-server.js'

function wrk(rps: number, p99Ms = 2): WrkResult {
  return {
    requests: rps * 5,
    bytes: rps * 5 * 36_000,
    durationS: 5,
    rps,
    mbps: rps * 0.036,
    p50Ms: p99Ms / 4,
    p90Ms: p99Ms / 2,
    p99Ms,
    maxMs: p99Ms * 2,
    errors: 0,
    errorText: '',
    command: 'wrk',
  }
}

function cached(eggRps: number, nginxRps: number): LoadResult {
  return {
    name: 'ui',
    label: UI_ENDPOINT.label,
    kind: 'page',
    eggPath: UI_ENDPOINT.path,
    nginxPath: '/static/ui-project.html',
    bodyBytes: 36_149,
    connections: 10,
    egg: wrk(eggRps),
    nginx: wrk(nginxRps),
    eggRounds: [wrk(eggRps - 100), wrk(eggRps), wrk(eggRps + 100)],
    nginxRounds: [wrk(nginxRps)],
    ceiling: undefined,
    ceilingRounds: [],
  }
}

function run(ui: UiResult | undefined): RunResult {
  return testRun('npm run bench -- --only ui', ui === undefined ? {} : { ui: ui })
}

await test('--only takes ui; ui alone needs no synthetic tree, with anything else the trees are made', () => {
  assert.ok(MEASUREMENTS.includes('ui'))
  assert.deepEqual([...(parseOptions(['--only', 'ui'], repoRoot, {})?.only ?? [])], ['ui'])
  assert.equal(needsTrees(new Set<Measurement>(['ui'])), false)
  assert.equal(needsTrees(new Set<Measurement>(['ui', 'simple-html'])), true)
  assert.equal(needsTrees(parseOptions([], repoRoot, {})?.only ?? new Set()), true)
  assert.ok(parseOptions([], repoRoot, {})?.only.has('ui'), 'a full run measures the UI')
})

await test('--ui-renders: 21 by default, 5 with --quick, at least 1', () => {
  assert.equal(parseOptions([], repoRoot, {})?.uiRenders, 21)
  assert.equal(parseOptions(['--quick'], repoRoot, {})?.uiRenders, 5)
  assert.equal(parseOptions(['--ui-renders', '7'], repoRoot, {})?.uiRenders, 7)
  assert.throws(() => parseOptions(['--ui-renders', '0'], repoRoot, {}), UsageError)
})

await test("the cold renders' JSON line is read; anything else is a clear error", () => {
  assert.deepEqual(parseColdRenders('warning on stdout\n{"wallMs":[40.5,41],"cpuMs":[30,31.5],"bytes":36149}\n'), {
    wallMs: [40.5, 41],
    cpuMs: [30, 31.5],
    bytes: 36149,
  })
  assert.throws(() => parseColdRenders(''), /printed no JSON/)
  assert.throws(() => parseColdRenders('{"wallMs":[1,2],"cpuMs":[1],"bytes":1}'), /printed/)
  assert.throws(() => parseColdRenders('{"wallMs":[],"cpuMs":[],"bytes":1}'), /printed/)
  assert.throws(() => parseColdRenders('{"wallMs":["1"],"cpuMs":[1],"bytes":1}'), /printed/)
})

await test('p95 is the nearest rank', () => {
  const values = Array.from({ length: 21 }, (_, i) => 21 - i)
  assert.equal(p95(values), 20)
  assert.equal(p95([5]), 5)
  assert.equal(p95(Array.from({ length: 100 }, (_, i) => i + 1)), 95)
})

await test('the report has a Browse UI section and both UI targets in the summary, judged on req/s and the median wall-clock render', () => {
  const renders = { wallMs: [30, 60, 45, 44, 200], cpuMs: [20, 21, 22, 23, 90], bytes: 36_149 }
  const met = renderReport(run({ files: 1000, cached: cached(12_000, 24_000), cold: renders }))
  assert.match(met, /^## Browse UI$/m)
  const rps = summaryRow(met, 'Browse UI: a cached project page')
  assert.equal(rps[1], 'UI fixture')
  assert.match(rps[3] ?? '', /^12,000 <sub>\(11,900–12,100\)<\/sub>$/)
  assert.equal(rps[4], '0.50')
  assert.equal(rps[5], 'yes')
  const cold = summaryRow(met, 'Browse UI: a project page with 1,000 files')
  assert.match(cold[2] ?? '', /median \/ p95 of 5, wall-clock/)
  assert.equal(cold[3], '45.0 / 200.0 ms')
  assert.equal(cold[5], 'yes')
  assert.match(
    met,
    /\| UI project page, 1,000 files, cold render: median \/ p95 of 5, CPU time of the process \| 22\.0 \/ 90\.0 ms \|/,
  )

  const missed = renderReport(
    run({ files: 1000, cached: cached(4_000, 24_000), cold: { ...renders, wallMs: [50, 51, 52] } }),
  )
  assert.equal(summaryRow(missed, 'Browse UI: a cached project page')[5], '**no**')
  assert.equal(summaryRow(missed, 'Browse UI: a project page with 1,000 files')[5], '**no**')
})

await test('a run without the UI says so in the summary and has no Browse UI section', () => {
  const report = renderReport(run(undefined))
  assert.doesNotMatch(report, /^## Browse UI$/m)
  assert.equal(summaryRow(report, 'Browse UI: a cached project page')[2], 'not measured')
  assert.equal(summaryRow(report, 'Browse UI: a project page with 1,000 files')[2], 'not measured')
})

await test('the UI fixture has the 1,000-file project and the small one', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eggserve-bench-ui-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeUiTree(dir)
  const big = await readdir(join(dir, UI_BIG_PROJECT))
  assert.equal(big.filter((name) => name.endsWith('.whl')).length, UI_BIG_FILES)
  assert.equal(new Set(big).size, UI_BIG_FILES)
  assert.deepEqual((await readdir(join(dir, UI_SMALL_PROJECT))).filter((name) => name.endsWith('.whl')).length, 1)
})
