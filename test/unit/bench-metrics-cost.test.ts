// npm run bench, the --metrics row: judged by the median of the per-round ratios of CPU time per
// request (without / with), shown with the req/s ratio and the control's (a second instance
// without metrics). The numbers are made up here.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderReport } from '../../scripts/bench/report.js'
import type { MetricsCostRound, TreeResult } from '../../scripts/bench/results.js'
import { summaryRow, testRun, testTree, wrkRound as wrk } from '../helpers/bench-fixtures.js'

function round(cpuUs: MetricsCostRound['cpuUs'], rps: MetricsCostRound['rps']): MetricsCostRound {
  return { cpuUs, rps }
}

function tree(rounds: readonly MetricsCostRound[]): TreeResult {
  return testTree({
    metrics: {
      label: '`/simple/<p>/` (HTML)',
      path: '/simple/proj-00500/',
      off: wrk(15_000),
      on: wrk(12_000),
      control: wrk(14_000),
      rounds,
      series: 130,
    },
  })
}

await test('the --metrics row is judged by CPU time per request, the req/s ratio and the control beside it', () => {
  // CPU ratios off/on: 0.96, 0.98, 0.90 → median 0.96 (met); req/s ratios on/off 0.80, 0.85,
  // 0.90 → median 0.85, which alone would fail.
  const rounds = [
    round({ off: 60, control: 61, on: 62.5 }, { off: 15_000, control: 14_000, on: 12_000 }),
    round({ off: 49, control: 50, on: 50 }, { off: 10_000, control: 10_500, on: 8_500 }),
    round({ off: 63, control: 60, on: 70 }, { off: 12_000, control: 12_000, on: 10_800 }),
  ]
  const report = renderReport(testRun('npm run bench -- --only metrics', { trees: [tree(rounds)] }))
  const cells = summaryRow(report, '`--metrics` costs')
  assert.ok(!cells.includes('**no**'), JSON.stringify(cells))
  assert.ok(cells.includes('yes'), JSON.stringify(cells))
  const ratioCell = cells.find((cell) => cell.includes('by CPU')) ?? ''
  assert.match(ratioCell, /^0\.96 by CPU \(control 0\.98\); 0\.85 by req\/s \(control 1\.00\)$/)
  assert.ok(
    cells.some((cell) => cell.includes('62.5 vs 60.0 µs')),
    JSON.stringify(cells),
  )
})

await test('with metrics 10% dearer in CPU per request the row is not met, however req/s came out', () => {
  const rounds = [
    round({ off: 60, control: 60, on: 66 }, { off: 10_000, control: 10_000, on: 11_000 }),
    round({ off: 60, control: 60, on: 67 }, { off: 10_000, control: 10_000, on: 10_500 }),
    round({ off: 60, control: 60, on: 65 }, { off: 10_000, control: 10_000, on: 10_200 }),
  ]
  const report = renderReport(testRun('npm run bench -- --only metrics', { trees: [tree(rounds)] }))
  const cells = summaryRow(report, '`--metrics` costs')
  assert.ok(cells.includes('**no**'), JSON.stringify(cells))
})
