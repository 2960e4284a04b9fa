// The "Node versions" section of BENCHMARKS.md: the page and download rows of a run with several
// --node values, one column per Node. It sits between two HTML comments, so that a run with
// several --node values replaces only this section, and a full run (report.ts) keeps it.
import { int, ms, ratio, size } from './report.js'
import type { NodeLoad, NodeVersionsRun, NodeVersionsTree } from './results.js'
import { shapeLabel } from './tree.js'
import type { WrkResult } from './wrk.js'

export const SECTION_START =
  '<!-- node-versions: written by npm run bench with several --node values; other runs keep it -->'
export const SECTION_END = '<!-- /node-versions -->'

export function renderNodeVersionsSection(run: NodeVersionsRun): string {
  const m = run.machine
  const out: string[] = [
    SECTION_START,
    '## Node versions',
    '',
    'The page and download rows on each supported Node, from one run: the same tree and the same nginx, one eggserve per Node ' +
      "(started one after the other on an empty cache dir, then left idle), and in every round each Node's eggserve is loaded in turn, then nginx. " +
      'Cells are req/s (MB/s for the large file) with the ratio to nginx in parentheses; the runtimes are the ones `npm run test:node` tests ([docs/node-versions.md](docs/node-versions.md)).',
    '',
  ]
  if (run.quick) out.push('> **Smoke run (`--quick`)**: tiny tree and short runs; not for publishing.', '')
  out.push(
    `- **Command:** \`${run.command}\``,
    `- **Date:** ${run.date}; **commit:** ${run.commit}`,
    `- **Machine:** ${m.cpu}, ${m.cores} cores, ${m.ramGb.toFixed(1)} GiB RAM; Linux ${m.kernel}; nginx ${m.nginx}; wrk ${m.wrk}`,
    `- **Node:** ${run.nodes.map((node) => `${node.version}: ${node.source.startsWith('/') ? `\`${node.source}\`` : node.source}`).join('; ')}`,
    `- **Load:** wrk on loopback, \`-t2 -c${run.connections} -d${run.durationS}s --latency\` for pages and the small file, \`-c${run.bigConnections}\` for the large file; ` +
      `${run.rounds} round${run.rounds > 1 ? 's' : ''}${run.rounds > 1 ? "; the median round is reported, latencies are the medians of the rounds' p99" : ''}`,
    `- **Other load on the machine:** 1-minute load average ${run.loadStart.toFixed(2)} at the start, ${run.loadEnd.toFixed(2)} at the end`,
    '',
  )
  for (const tree of run.trees) out.push(...treeTable(run, tree), '')
  out.push(SECTION_END)
  return `${out.join('\n')}\n`
}

function treeTable(run: NodeVersionsRun, tree: NodeVersionsTree): string[] {
  const header = `| | ${run.nodes.map((node) => `node ${node.version}`).join(' | ')} | nginx |`
  const rule = `|---|${run.nodes.map(() => '---:|').join('')}---:|`
  const rows: string[] = []
  for (const load of tree.loads) rows.push(...loadRows(load))
  rows.push(
    `| cold start, empty cache dir: spawn → \`/health/ready\` 200 | ${tree.readyMs.map((value) => ms(value)).join(' | ')} | |`,
  )
  return [
    `### Tree: ${shapeLabel(tree.shape)}`,
    '',
    `${tree.files.toLocaleString('en-US')} files, ${(tree.bytes / 1e6).toFixed(0)} MB; project under load \`${tree.project}\`, small file \`${tree.smallFile}\`.`,
    '',
    header,
    rule,
    ...rows,
  ]
}

function loadRows(load: NodeLoad): string[] {
  const what = `${load.label}, ${size(load.bodyBytes)}`
  const big = load.kind === 'big'
  const value = (r: WrkResult): number => (big ? r.mbps : r.rps)
  const cell = (r: WrkResult): string =>
    `${int(value(r))} (${ratio(value(r) / value(load.nginx))})${r.errors > 0 ? ` ⚠ ${r.errorText}` : ''}`
  const p99 = (runs: readonly WrkResult[]): string => {
    const sorted = runs.map((r) => r.p99Ms).sort((a, b) => a - b)
    const mid = Math.floor(sorted.length / 2)
    const median =
      sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2
    return median.toFixed(2)
  }
  return [
    `| ${what}: ${big ? `MB/s (${load.connections} connections)` : 'req/s'} | ${load.eggs.map(cell).join(' | ')} | ${int(value(load.nginx))} |`,
    `| ${what}: latency p99 (ms) | ${load.eggRounds.map(p99).join(' | ')} | ${p99(load.nginxRounds)} |`,
  ]
}

/** The marked section of a report, if it has one. */
export function extractSection(text: string): string | undefined {
  const start = text.indexOf(SECTION_START)
  const end = text.indexOf(SECTION_END, start)
  if (start < 0 || end < 0) return undefined
  return `${text.slice(start, end + SECTION_END.length)}\n`
}

/**
 * `report` with `section` in it: in place of its marked section, else before "## Method",
 * else at the end. Without a section, `report` as it is.
 */
export function spliceSection(report: string, section: string | undefined): string {
  if (section === undefined) return report
  const start = report.indexOf(SECTION_START)
  const end = report.indexOf(SECTION_END, start)
  if (start >= 0 && end >= 0) {
    const after = report.slice(end + SECTION_END.length).replace(/^\n/, '')
    return `${report.slice(0, start)}${section}${after}`
  }
  const method = report.indexOf('\n## Method\n')
  if (method >= 0) return `${report.slice(0, method + 1)}${section}\n${report.slice(method + 1)}`
  return `${report.replace(/\n*$/, '\n\n')}${section}`
}
