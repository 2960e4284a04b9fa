// npm run bench -- --workers N: the page rows carry, beside bare node:http in one process,
// the same server in N processes, spread as eggserve spreads them (the ceiling for N Node processes), with
// its ratio to nginx. The numbers are made up here.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderReport } from '../../scripts/bench/report.js'
import type { LoadResult, TreeResult } from '../../scripts/bench/results.js'
import { testRun, testTree, wrkRound as wrk } from '../helpers/bench-fixtures.js'

function page(clusterRps: number | undefined): LoadResult {
  return {
    name: 'simple-html',
    label: '`/simple/<p>/` (HTML)',
    kind: 'page',
    eggPath: '/simple/proj-00500/',
    nginxPath: '/static/project.html',
    bodyBytes: 1_000,
    connections: 10,
    egg: wrk(20_000),
    nginx: wrk(50_000),
    eggRounds: [wrk(20_000)],
    nginxRounds: [wrk(50_000)],
    ceiling: wrk(22_000),
    ceilingRounds: [wrk(22_000)],
    ...(clusterRps === undefined
      ? {}
      : {
          clusterCeiling: { processes: 2, median: wrk(clusterRps), rounds: [wrk(clusterRps - 500), wrk(clusterRps)] },
        }),
  }
}

function tree(load: LoadResult): TreeResult {
  return testTree({ loads: [load] })
}

/** The report's row whose first cell contains `text`, as cells. */
function row(report: string, text: string): string[] | undefined {
  const line = report.split('\n').find((l) => l.startsWith('|') && (l.split('|')[1] ?? '').includes(text))
  return line
    ?.split('|')
    .slice(1, -1)
    .map((cell) => cell.trim())
}

await test('with --workers 2, the page rows show bare node:http in 2 processes and its ratio to nginx', () => {
  const report = renderReport(
    testRun('npm run bench -- --workers 2 --only simple-html,node-ceiling', {
      workers: 2,
      trees: [tree(page(30_000))],
    }),
  )
  const cells = row(report, 'in 2 processes')
  assert.ok(cells !== undefined, report)
  assert.match(
    cells[0] ?? '',
    /`\/simple\/<p>\/` \(HTML\).*bare `node:http` in 2 processes \(each connection handed to the least busy/,
  )
  assert.ok(cells.includes('0.60'), `ratio 30,000 / 50,000 in ${JSON.stringify(cells)}`)
  // The one-process ceiling stays.
  assert.ok(row(report, 'the ceiling for a Node server') !== undefined)
  assert.match(report, /With `--workers N`, a fourth runs too/)
})

await test('with one process there is no N-process row', () => {
  const report = renderReport(testRun('npm run bench -- --only simple-html', { trees: [tree(page(undefined))] }))
  assert.equal(row(report, 'processes (each connection handed to the least busy'), undefined)
  assert.ok(row(report, 'the ceiling for a Node server') !== undefined)
})
