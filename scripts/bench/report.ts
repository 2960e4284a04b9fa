// BENCHMARKS.md: the command, date and machine, a summary against the targets (docs/benchmarks.md), and
// one table per tree (eggserve, nginx, ratio, target, met).
import { uiRows, uiSection } from './report-ui.js'
import { S3_TARGETS, s3Rows, s3Section, type S3TargetId } from './report-s3.js'
import { UPSTREAM_TARGETS, upstreamRows, upstreamSection, type UpstreamTargetId } from './report-upstream.js'
import { cpuControlShare, cpuShare, rpsControlShare, rpsShare } from './metrics-cost.js'
import type { LoadResult, MetricsCostRound, RunResult, StartupResult, TreeResult } from './results.js'
import { shapeLabel } from './tree.js'
import type { WrkResult } from './wrk.js'

type TargetId =
  | 'page-rps'
  | 'page-p99'
  | 'big-mbps'
  | 'offload-mbps'
  | 'warm-ready'
  | 'cold-listen'
  | 'drop-in'
  | 'rss'
  | 'metrics-cost'
  | 'ui-rps'
  | 'ui-cold'
  | UpstreamTargetId
  | S3TargetId

const TARGETS: Record<TargetId, string> = {
  'page-rps':
    'Cached pages (`/simple/`, `/simple/<p>/`, `/<folder>/`): ≥ 50% of nginx req/s on a static file of the same size, at 10,000 × 10',
  'page-p99': 'Pages: p99 < 20 ms at 10 concurrent connections, at 10,000 × 10',
  'big-mbps': 'Large downloads: ≥ 80% of nginx MB/s',
  'offload-mbps':
    'Large downloads through the nginx offload (`--x-accel-redirect`): ≥ 95% of nginx serving the file alone',
  'warm-ready': 'Warm restart at 100,000 files: ready in < 3 s',
  'cold-listen': 'Cold start at 100,000 files: listening in < 3 s',
  'drop-in': 'A dropped-in file shows in listings in < 1 s at 100,000 files (every drop-in: the max)',
  rss: 'Memory: RSS < 300 MB for 100,000 files',
  'metrics-cost': '`--metrics` costs < 5% of page throughput (`/simple/<p>/` with metrics ≥ 0.95 of without, same run)',
  'ui-rps': 'Browse UI: a cached project page at ≥ 5,000 req/s (a project with 1,000 files)',
  'ui-cold': 'Browse UI: a project page with 1,000 files renders cold in < 50 ms',
  ...UPSTREAM_TARGETS,
  ...S3_TARGETS,
}

interface Check {
  readonly id: TargetId
  /** undefined: could not be measured. */
  readonly met: boolean | undefined
  /** False when the tree is not the target's scale: shown in parentheses, for information. */
  readonly applies: boolean
}

interface Row {
  readonly metric: string
  readonly egg: string
  readonly nginx: string
  readonly ratio: string
  readonly target: string
  readonly check?: Check
}

/** A row of a section whose reference is not nginx (upstream, S3): its check names one of `Id`. */
export interface SectionRow<Id extends string> {
  readonly metric: string
  readonly egg: string
  readonly reference: string
  readonly ratio: string
  readonly target: string
  readonly check?: { readonly id: Id; readonly met: boolean }
}

const NA = 'not available'

export function renderReport(run: RunResult): string {
  const out: string[] = []
  const m = run.machine
  out.push(
    '# Benchmarks',
    '',
    "eggserve measured against nginx (Debian's, configured by `scripts/bench/nginx.ts`) on the same synthetic trees, in the same run, on the same machine. " +
      'Absolute numbers drift on shared machines, so the figures that matter are the **ratios** eggserve/nginx. ' +
      'Regenerate with `npm run bench` (see [Method](#method)); the targets, and why some are not met, are explained in [docs/benchmarks.md](docs/benchmarks.md).',
    '',
    run.quick ? '> **Smoke run (`--quick`)**: tiny tree and short runs; not for publishing.\n' : '',
    `- **Command:** \`${run.command}\``,
    `- **Date:** ${run.date}`,
    `- **Commit:** ${run.commit}`,
    `- **Machine:** ${m.cpu}, ${m.cores} cores, ${m.ramGb.toFixed(1)} GiB RAM; Linux ${m.kernel}; node ${m.node}; nginx ${m.nginx}; wrk ${m.wrk}`,
    `- **Disk:** ${m.disk} (the trees were just generated or read, so they sit in the page cache)`,
    `- **Load:** wrk on loopback, \`-t2 -c${run.connections} -d${run.durationS}s --latency\` for pages and the small file, \`-c${run.bigConnections}\` for the large file; ` +
      `${run.rounds} round${run.rounds > 1 ? 's' : ''} per endpoint, eggserve and nginx alternating (never loaded together)${run.rounds > 1 ? '; the median round is reported' : ''}`,
    ...((run.workers ?? 1) > 1
      ? [
          `- **eggserve:** \`--workers ${run.workers ?? 1}\` (that many processes on one port; peak RSS rows are the primary's)`,
        ]
      : []),
    `- **Other load on the machine:** 1-minute load average ${run.loadStart.toFixed(2)} at the start, ${run.loadEnd.toFixed(2)} at the end (the bench itself adds up to about 2 while wrk runs)`,
    '',
  )

  const rowsByTree = run.trees.map((tree) => ({ tree, rows: treeRows(tree, run) }))
  out.push('## Targets', '', ...summary(rowsByTree, run), '')
  if (unavailable(run).length > 0)
    out.push('## Not available in the build measured', '', ...unavailable(run).map((line) => `- ${line}`), '')
  if (run.ui !== undefined) out.push(...uiSection(run.ui))
  if (run.upstream !== undefined) out.push(...upstreamSection(run.upstream))
  if (run.s3 !== undefined) out.push(...s3Section(run.s3))

  for (const { tree, rows } of rowsByTree) {
    out.push(`## Tree: ${shapeLabel(tree.shape)}`, '')
    out.push(
      `${tree.files.toLocaleString('en-US')} files, ${(tree.bytes / 1e6).toFixed(0)} MB, including \`big/big-1.0-py3-none-any.whl\` (${tree.shape.bigMb} MB); seed ${tree.shape.seed}. Project under load: \`${tree.project}\`; small file: \`${tree.smallFile}\`.`,
      '',
    )
    out.push('| metric | eggserve | nginx / reference | ratio | target | met |', '|---|---:|---:|---:|---|:---:|')
    for (const row of rows)
      out.push(`| ${row.metric} | ${row.egg} | ${row.nginx} | ${row.ratio} | ${row.target} | ${metText(row.check)} |`)
    out.push('')
    if (tree.profiles.length > 0) out.push(...profileSection(tree), '')
    const notes = [...tree.notes, ...wrkErrors(tree)]
    if (notes.length > 0) out.push(...notes.map((note) => `- ${note}`), '')
  }

  out.push(...method(run))
  if (run.notes.length > 0) out.push('', '## Notes', '', ...run.notes.map((note) => `- ${note}`))
  return `${out
    .filter((line, i, all) => !(line === '' && all[i - 1] === ''))
    .join('\n')
    .trim()}\n`
}

function atScale(tree: TreeResult): boolean {
  return tree.shape.projects * tree.shape.files >= 100_000
}

function treeRows(tree: TreeResult, run: RunResult): Row[] {
  const rows: Row[] = []
  const scale = atScale(tree)
  const check = (id: TargetId, met: boolean | undefined, applies = scale): Check => ({ id, met, applies })

  const cold = tree.cold
  if (cold !== undefined) {
    rows.push({
      metric: 'cold start: spawn → listening',
      egg: ms(cold.listeningMs),
      nginx: '',
      ratio: '',
      target: '< 3 s at 100k files',
      check: check('cold-listen', cold.listeningMs < 3000),
    })
    rows.push({ metric: 'cold start: spawn → `/health` 200', egg: ms(cold.healthMs), nginx: '', ratio: '', target: '' })
    rows.push({
      metric: `cold start: spawn → \`/health/ready\` 200${cold.cache === 'none' ? ' (no cache dir)' : ' (empty cache dir)'}`,
      egg: readyText(cold),
      nginx: '',
      ratio: '',
      target: '',
    })
    if (cold.readyMs !== undefined && cold.healthMs !== undefined && cold.readyMs > cold.healthMs) {
      const hashS = (cold.readyMs - cold.healthMs) / 1000
      const eggRate = tree.bytes / hashS / 1e6
      const read = tree.readRate
      const readRate = read === undefined ? undefined : read.bytes / read.seconds / 1e6
      rows.push({
        metric: 'cold hashing throughput, `/health` → ready (MB/s; reference: reading every file once)',
        egg: `${eggRate.toFixed(0)} MB/s (${(tree.files / hashS).toFixed(0)} files/s)`,
        nginx:
          read === undefined || readRate === undefined
            ? ''
            : `${readRate.toFixed(0)} MB/s (${(read.files / read.seconds).toFixed(0)} files/s)`,
        ratio: readRate === undefined ? '' : ratio(eggRate / readRate),
        target: 'near the read rate',
      })
    } else if (tree.readRate !== undefined) {
      const read = tree.readRate
      rows.push({
        metric: 'reference: reading every file once (MB/s)',
        egg: '',
        nginx: `${(read.bytes / read.seconds / 1e6).toFixed(0)} MB/s (${(read.files / read.seconds).toFixed(0)} files/s)`,
        ratio: '',
        target: '',
      })
    }
  }
  if (tree.warm.length > 0) {
    const noCache = tree.warm.some((w) => w.cache === 'none')
    const what = noCache ? 'restart (no persistent cache in this build)' : 'warm restart (same cache dir)'
    const n = tree.warm.length
    const listening = median(tree.warm.map((w) => w.listeningMs))
    rows.push({
      metric: `${what}: spawn → listening${n > 1 ? `, median of ${n}` : ''}`,
      egg: ms(listening),
      nginx: '',
      ratio: '',
      target: '',
    })
    const readies = tree.warm.map((w) => w.readyMs)
    const ready = readies.every((r) => r !== undefined) ? median(readies) : undefined
    rows.push({
      metric: `${what}: spawn → \`/health/ready\` 200${n > 1 ? `, median of ${n} (max)` : ''}`,
      egg:
        ready === undefined
          ? (tree.warm[0]?.readyNote ?? NA)
          : `${ms(ready)}${n > 1 ? ` (${ms(Math.max(...readies.map((r) => r ?? 0)))})` : ''}`,
      nginx: '',
      ratio: '',
      target: '< 3 s at 100k files',
      check: check(
        'warm-ready',
        ready === undefined || noCache ? undefined : Math.max(...readies.map((r) => r ?? Infinity)) < 3000,
      ),
    })
  }
  if (tree.cold?.rssAtReadyMb !== undefined) {
    rows.push({
      metric: 'RSS (VmRSS) when ready, cold start',
      egg: `${tree.cold.rssAtReadyMb.toFixed(0)} MB`,
      nginx: '',
      ratio: '',
      target: '',
    })
  }
  if (tree.cold?.peakRssMb !== undefined) {
    rows.push({
      metric: 'peak RSS (VmHWM) of the instance that was loaded',
      egg: `${tree.cold.peakRssMb.toFixed(0)} MB`,
      nginx: '',
      ratio: '',
      target: '< 300 MB at 100k files',
      check: check('rss', tree.cold.peakRssMb < 300),
    })
  }
  const warmPeak = Math.max(...tree.warm.map((w) => w.peakRssMb ?? 0))
  if (warmPeak > 0)
    rows.push({
      metric: 'peak RSS (VmHWM) after a warm restart',
      egg: `${warmPeak.toFixed(0)} MB`,
      nginx: '',
      ratio: '',
      target: '',
    })

  for (const load of tree.loads) rows.push(...loadRows(load, scale, run))

  const fresh = tree.freshness
  if (fresh !== undefined) {
    const seen = fresh.dropMs.filter((d): d is number => d !== undefined)
    const missing = fresh.dropMs.length - seen.length
    const max = missing > 0 ? undefined : Math.max(...seen)
    rows.push({
      metric: `drop-in (temp name, rename) → listed in \`/simple/<p>/\`, median / max of ${fresh.dropMs.length}`,
      egg:
        seen.length === 0
          ? `not listed within ${ms(fresh.timeoutMs)}`
          : `${ms(median(seen))} / ${max === undefined ? `> ${ms(fresh.timeoutMs)}` : ms(max)}`,
      nginx: '',
      ratio: '',
      target: '< 1 s at 100k files',
      check: check('drop-in', max === undefined ? false : max < 1000),
    })
    rows.push({
      metric: 'new project folder (renamed in) → listed in `/simple/`',
      egg: fresh.newProjectMs === undefined ? `not listed within ${ms(fresh.timeoutMs)}` : ms(fresh.newProjectMs),
      nginx: '',
      ratio: '',
      target: '',
    })
  }
  const logging = tree.logging
  if (logging !== undefined) {
    rows.push({
      metric: `${logging.label} req/s with \`--log-level info\` (a log line per request, stdout to a file) vs \`warn\``,
      egg: `${int(logging.info.rps)} vs ${int(logging.warn.rps)}`,
      nginx: '',
      ratio: `${ratio(logging.info.rps / logging.warn.rps)} (info/warn)`,
      target: '',
    })
  }
  const metrics = tree.metrics
  if (metrics !== undefined) {
    // Judged by CPU time per request (why: scripts/bench/metrics-cost.ts); the req/s ratio and
    // the control (a second instance without metrics, measured the same way) are shown beside it.
    const over = (pick: (round: MetricsCostRound) => number): number =>
      median(metrics.rounds.map(pick).filter((value) => Number.isFinite(value)))
    const share = over(cpuShare)
    rows.push({
      metric: `${metrics.label} with \`--metrics\` vs without, ${String(metrics.rounds.length)} rounds of new instances (${String(metrics.series)} series scraped before each measured run): CPU µs per request, medians; req/s of the median runs`,
      egg: `${over((r) => r.cpuUs.on).toFixed(1)} vs ${over((r) => r.cpuUs.off).toFixed(1)} µs; ${int(metrics.on.rps)} vs ${int(metrics.off.rps)} req/s`,
      nginx: '',
      ratio: `${ratio(share)} by CPU (control ${ratio(over(cpuControlShare))}); ${ratio(over(rpsShare))} by req/s (control ${ratio(over(rpsControlShare))})`,
      target: '≥ 0.95',
      check: check('metrics-cost', share >= 0.95, true),
    })
  }
  return rows
}

function loadRows(load: LoadResult, scale: boolean, run: RunResult): Row[] {
  const { egg, nginx } = load
  const page = load.kind === 'page'
  const what = `${load.label}, ${size(load.bodyBytes)}`
  const rows: Row[] = []
  const spread = (runs: readonly WrkResult[], value: (r: WrkResult) => number): string =>
    runs.length < 2 ? '' : ` <sub>(${int(Math.min(...runs.map(value)))}–${int(Math.max(...runs.map(value)))})</sub>`
  if (load.kind === 'big') {
    const [id, least] = load.name === 'offload' ? (['offload-mbps', 0.95] as const) : (['big-mbps', 0.8] as const)
    rows.push({
      metric: `${what}: MB/s (${load.connections} connections)`,
      egg: `${int(egg.mbps)} MB/s${spread(load.eggRounds, (r) => r.mbps)}`,
      nginx: `${int(nginx.mbps)} MB/s${spread(load.nginxRounds, (r) => r.mbps)}`,
      ratio: ratio(egg.mbps / nginx.mbps),
      target: `≥ ${least.toFixed(2)}`,
      check: { id, met: egg.errors === 0 ? egg.mbps / nginx.mbps >= least : false, applies: true },
    })
  } else {
    rows.push({
      metric: `${what}: req/s`,
      egg: `${int(egg.rps)}${spread(load.eggRounds, (r) => r.rps)}`,
      nginx: `${int(nginx.rps)}${spread(load.nginxRounds, (r) => r.rps)}`,
      ratio: ratio(egg.rps / nginx.rps),
      target: page ? '≥ 0.50 at 10,000 × 10' : '',
      ...(page
        ? { check: { id: 'page-rps' as const, met: egg.errors === 0 && egg.rps / nginx.rps >= 0.5, applies: scale } }
        : {}),
    })
  }
  const ceiling = load.ceiling
  if (ceiling !== undefined) {
    rows.push({
      metric: `${what}: req/s of bare \`node:http\` sending the same bytes from memory (the ceiling for a Node server)`,
      egg: `${int(ceiling.rps)}${spread(load.ceilingRounds, (r) => r.rps)}`,
      nginx: int(nginx.rps),
      ratio: ratio(ceiling.rps / nginx.rps),
      target: '',
    })
  }
  const cluster = load.clusterCeiling
  if (cluster !== undefined) {
    rows.push({
      metric: `${what}: req/s of bare \`node:http\` in ${cluster.processes} processes (each connection handed to the least busy, as \`--workers ${cluster.processes}\`): the ceiling for ${cluster.processes} Node processes`,
      egg: `${int(cluster.median.rps)}${spread(cluster.rounds, (r) => r.rps)}`,
      nginx: int(nginx.rps),
      ratio: ratio(cluster.median.rps / nginx.rps),
      target: '',
    })
  }
  const p99Target = page && run.connections === 10
  // Latency percentiles are the medians over the rounds, each taken on its own: one round's
  // tail hit by another process on the machine does not decide the figure.
  const eggLatency = roundLatency(load.eggRounds)
  const nginxLatency = roundLatency(load.nginxRounds)
  const rounds = load.eggRounds.length
  rows.push({
    metric: `${what}: latency p50 / p99 (ms${rounds > 1 ? `, medians of ${rounds} rounds` : ''})`,
    egg: latency(eggLatency, load.eggRounds),
    nginx: latency(nginxLatency, load.nginxRounds),
    ratio: `${ratio(eggLatency.p99Ms / nginxLatency.p99Ms)} (p99)`,
    target: p99Target ? 'p99 < 20 ms' : '',
    ...(p99Target ? { check: { id: 'page-p99' as const, met: eggLatency.p99Ms < 20, applies: scale } } : {}),
  })
  return rows
}

function summary(rowsByTree: readonly { tree: TreeResult; rows: Row[] }[], run: RunResult): string[] {
  const lines = ['| target | tree | measurement | eggserve | ratio to nginx | met |', '|---|---|---|---:|---:|:---:|']
  let informational = false
  for (const id of Object.keys(TARGETS) as TargetId[]) {
    if (id === 'ui-rps' || id === 'ui-cold') {
      // Measured once per run on the UI fixture, not per tree.
      const row = run.ui === undefined ? undefined : uiRows(run.ui).find((r) => r.check?.id === id)
      lines.push(
        row?.check === undefined
          ? `| ${TARGETS[id]} | | not measured | | | n/a |`
          : `| ${TARGETS[id]} | UI fixture | ${row.metric} | ${row.egg} | ${row.ratio} | ${row.check.met ? 'yes' : '**no**'} |`,
      )
      continue
    }
    if (id.startsWith('s3-')) {
      // Measured once per run on the S3 fixture, not per tree.
      const row = run.s3 === undefined ? undefined : s3Rows(run.s3).find((r) => r.check?.id === id)
      lines.push(
        row?.check === undefined
          ? `| ${TARGETS[id]} | | not measured | | | n/a |`
          : `| ${TARGETS[id]} | S3 fixture | ${row.metric} | ${row.egg} | ${row.ratio} | ${row.check.met ? 'yes' : '**no**'} |`,
      )
      continue
    }
    if (id.startsWith('upstream-')) {
      // Measured once per run on the upstream fixture, not per tree.
      const row = run.upstream === undefined ? undefined : upstreamRows(run.upstream).find((r) => r.check?.id === id)
      lines.push(
        row?.check === undefined
          ? `| ${TARGETS[id]} | | not measured | | | n/a |`
          : `| ${TARGETS[id]} | upstream fixture | ${row.metric} | ${row.egg} | ${row.ratio} | ${row.check.met ? 'yes' : '**no**'} |`,
      )
      continue
    }
    let found = rowsByTree.flatMap(({ tree, rows }) =>
      rows.filter((row) => row.check?.id === id && row.check.applies).map((row) => ({ tree, row })),
    )
    if (found.length === 0) {
      // No tree at the target's scale: show the largest tree's figures, in parentheses.
      const largest = [...rowsByTree].sort((a, b) => b.tree.files - a.tree.files)[0]
      found =
        largest === undefined
          ? []
          : largest.rows.filter((row) => row.check?.id === id).map((row) => ({ tree: largest.tree, row }))
      if (found.length > 0) informational = true
    }
    if (found.length === 0) {
      lines.push(`| ${TARGETS[id]} | | not measured | | | n/a |`)
      continue
    }
    for (const [i, { tree, row }] of found.entries()) {
      lines.push(
        `| ${i === 0 ? TARGETS[id] : '〃'} | ${tree.shape.projects.toLocaleString('en-US')} × ${tree.shape.files} | ${row.metric} | ${row.egg} | ${row.ratio} | ${metText(row.check)} |`,
      )
    }
  }
  lines.push('')
  lines.push(
    informational
      ? 'In parentheses: no tree of this run is at the target\'s scale, so the largest tree is shown for information. "n/a": the feature was not available.'
      : '"n/a": the feature was not available in the build measured.',
  )
  return lines
}

function unavailable(run: RunResult): string[] {
  const lines: string[] = []
  if (run.features.cacheDir === false)
    lines.push(
      '`--cache-dir` (persistent hash cache): the flag was rejected, so eggserve ran without it; "warm" restarts re-did all their work.',
    )
  if (run.features.ready === false)
    lines.push('`/health/ready`: answered 404, so the ready times and hashing throughput are not available.')
  if (run.features.listeningLineAtWarn === false)
    lines.push(
      'The "eggserve listening on" line is not printed at `--log-level warn`; the bench found the port and the listening time from the process\'s listening socket (`/proc`) instead.',
    )
  return lines
}

function profileSection(tree: TreeResult): string[] {
  const out = [
    '### Where the time goes (`node --cpu-prof`)',
    '',
    'Self time per function on the main thread, only inside the window measured (the wrk run, or spawn → ready). ' +
      'Names without a file are V8/C++ code, e.g. `stat`, `read`, `writev` and `writeBuffer` are the libuv bindings behind fs and socket calls. ' +
      'Profiling slows eggserve down; the req/s here are not the results above.',
    '',
  ]
  for (const profiled of tree.profiles) {
    const s = profiled.summary
    const busy = s.totalMs - s.idleMs
    out.push(
      `**${profiled.label}**${profiled.path === '' ? '' : ` (\`${profiled.path}\`)`}: ${profiled.context}. Main thread busy ${(busy / 1000).toFixed(1)} s of ${(s.totalMs / 1000).toFixed(1)} s` +
        `${profiled.workers > 0 ? `; ${profiled.workers} worker thread${profiled.workers > 1 ? 's' : ''} busy ${(profiled.workerBusyMs / 1000).toFixed(1)} s together` : ''}. ` +
        `Self time by origin: ${s.byOrigin
          .slice(0, 6)
          .map((o) => `${o.origin} ${pct(o.share)}`)
          .join(', ')}.`,
      '',
      '| self time | share | function | where |',
      '|---:|---:|---|---|',
      ...s.top
        .slice(0, 12)
        .map(
          (entry) =>
            `| ${entry.selfMs.toFixed(0)} ms | ${pct(entry.share)} | \`${entry.fn}\` | ${entry.where === '' ? '' : `\`${entry.where}\``} |`,
        ),
      '',
    )
  }
  return out
}

function wrkErrors(tree: TreeResult): string[] {
  const notes: string[] = []
  for (const load of tree.loads) {
    for (const [who, runs] of [
      ['eggserve', load.eggRounds],
      ['nginx', load.nginxRounds],
    ] as const) {
      for (const r of runs) {
        if (r.errors > 0)
          notes.push(
            `${who} on \`${who === 'eggserve' ? load.eggPath : load.nginxPath}\`: ${r.errorText} during a wrk run (${int(r.requests)} requests).`,
          )
      }
    }
  }
  return notes
}

function method(run: RunResult): string[] {
  return [
    '## Method',
    '',
    '`npm run bench` (`scripts/bench/run.ts`) builds eggserve (`npm run build`), then for each tree:',
    '',
    "1. **Tree.** `scripts/bench/make-tree.ts` generates it once into `$TMPDIR/eggserve-bench/trees/` (or `EGGSERVE_BENCH_DIR`), outside the repository; with `--keep` later runs reuse it. Every project is `proj-NNNNN/` with `--files` valid wheels (METADATA, WHEEL and a RECORD with every member's sha256; a payload of `--size` pseudo-random bytes, from AES-CTR keyed by `--seed`, so every file differs and a seed always gives the same bytes; `Requires-Python` on every other file; with `--sdists` every third file a `.tar.gz` sdist), plus `big/big-1.0-py3-none-any.whl` of `--big-mb` MiB.",
    '2. **Cold start.** `node bin/eggserve.js --eggdir TREE --port 0 --host 127.0.0.1 --cache-dir EMPTY_DIR --log-level warn`. Listening is the first stdout line `eggserve listening on …` (or, when that line is not printed at `warn`, the moment its listening socket appears in `/proc`); then `/health` and `/health/ready` are polled every 5–10 ms until 200. All times are from spawn. The reference read rate reads every file of the tree once (8 at a time) just before.',
    "3. **Load.** For each endpoint, one request warms eggserve's page cache; the bytes of that answer are copied to nginx's `STATE_DIR/static/`, so nginx serves the *same bytes as a static file* (`/static/<name>`). Files are served by nginx from the tree itself (`/packages/<folder>/<file>`, sendfile). Then wrk runs against eggserve, then against nginx, with the same settings, for `--rounds` rounds; the round with the median req/s (MB/s for the large file) is reported, with the range of all rounds in small print, and latencies are the medians of the p50 and p99 of the rounds. nginx is idle while eggserve is loaded and the other way round. JSON pages are requested with `Accept: application/vnd.pypi.simple.v1+json` (a wrk Lua script sets it). Neither side is asked for gzip. Latencies come from wrk's `done()` hook in µs, not its rounded text.",
    '4. **Freshness.** While that instance runs, a copy of a wheel is written under a hidden temp name (`.bench-…`) in an existing project and renamed to its final name; `/simple/<p>/` (cached just before) is polled every 5 ms until it lists the file. Repeated in projects spread over the tree. Then a new project folder is prepared under a hidden name, renamed in, and `/simple/` is polled. Everything created is journaled and removed afterwards, so the tree stays as generated. Peak RSS is `VmHWM` from `/proc/<pid>/status` just before SIGTERM.',
    '5. **Warm restarts** on the same cache dir, timed the same way; then the logging cost (the same page from an instance at `warn` and one at `info` with stdout to a file, loaded alternately); then the cost of `--metrics` (the same page from three instances started anew each round, since identical processes differ by 5 to 20% in CPU per request for their whole life: one with `--metrics`, one without and a second one without as a control, started and loaded one at a time in an order that turns each round, at least 5 rounds, each warmed up by a 1 s wrk run not recorded, the one with metrics then scraped at `/metrics`; judged by the CPU time per request of the server during its wrk run (a page-serving Node process is CPU-bound, so its throughput is the inverse of that time, which does not depend on how the scheduler shared the two cores with wrk in that run), the median of the per-round ratios, with the req/s ratio and the ratios of the control beside it); then with `--profile` a warm start and one more instance per endpoint under `node --cpu-prof`, summarized by self time.',
    '',
    'After the trees, `--only ui` measures the browse UI once (`scripts/bench/ui-run.ts`, the [Browse UI](#browse-ui) section): its own fixture with a 1,000-file project; the cached project page loaded like a page above (eggserve, then nginx serving the same bytes as a static file, per round; ready first, and the page fetched until two answers agree, since its README is rendered off the request path); then `--ui-renders` cold renders in a process of their own (`ui-cold-render.ts`) on the build under test, wall-clock and CPU time each. `--only ui` alone generates no tree.',
    '',
    'After that, `--only upstream` measures the upstream proxy once (`scripts/bench/upstream-run.ts`, the [Upstream proxy](#upstream-proxy) section): nginx serves a static PEP 503 tree as the upstream; one eggserve with `--upstream` and a local eggdir takes a cached upstream page against a local page of the same shape and a cached upstream file against a local file of the same size (wrk, alternately), and one client downloads a new uncached file per round through eggserve and from nginx directly; then a fresh eggserve streams one uncached file to 50 clients at once while its RSS is sampled. `--only upstream` alone generates no tree.',
    '',
    'Then `--only s3` measures S3 storage and replicas once (`scripts/bench/s3-run.ts`, the [S3 storage and replicas](#s3-storage-and-replicas) section) with moto on loopback as the store: a page from a bucket replica against the same page from a folder (wrk, alternately), one download per round through a replica and from moto directly with the same client (a presigned GET; `GetObject` of the AWS SDK beside it for comparison), convergence after each of 20 uploads to another replica, and a replica started on 10,000 objects, cold and warm. `--only s3` alone generates no tree.',
    '',
    "For pages, a third server runs in each round: `scripts/bench/ceiling-server.ts`, bare `node:http` sending the same bytes from memory. It is the most any Node server can do here, and shows how much of the gap to nginx is Node itself. With `--workers N`, a fourth runs too: the same server in N processes, the primary handing each connection to the worker with the fewest open ones (eggserve's own balancer, as its `--workers` does), the most N Node processes can do here.",
    '',
    "nginx runs in the foreground as the bench's child, one worker per core, `sendfile on`, `tcp_nopush on`, no access log, listening on 127.0.0.1 only; its configuration, logs and temp folders are in the run folder. Every process the bench starts is stopped (eggserve with SIGTERM, nginx with SIGQUIT, its graceful stop), also on errors and Ctrl-C. Needs `apt-get install -y nginx-light wrk`.",
    '',
    `Flags: \`--projects 1000,10000 --files 10 --size 2048 --big-mb 256 --duration ${run.durationS} --rounds ${run.rounds} --connections ${run.connections} --only startup,read-rate,simple-root,simple-html,simple-json,legacy,small-file,big-file,node-ceiling,freshness,logging,metrics,ui,upstream,s3 --ui-renders 21 --keep --out FILE --quick --profile\`; \`npm run bench -- --help\` lists them all.`,
  ]
}

function metText(check: Check | undefined): string {
  if (check === undefined) return ''
  if (check.met === undefined) return 'n/a'
  const text = check.met ? 'yes' : '**no**'
  return check.applies ? text : `(${check.met ? 'yes' : 'no'})`
}

function readyText(startup: StartupResult): string {
  return startup.readyMs === undefined ? (startup.readyNote ?? NA) : ms(startup.readyMs)
}

function roundLatency(runs: readonly WrkResult[]): { p50Ms: number; p99Ms: number } {
  return { p50Ms: median(runs.map((r) => r.p50Ms)), p99Ms: median(runs.map((r) => r.p99Ms)) }
}

/** "p50 / p99", and the range of the rounds' p99 when there are several. */
function latency(value: { p50Ms: number; p99Ms: number }, runs: readonly WrkResult[]): string {
  const p99s = runs.map((r) => r.p99Ms)
  const range =
    runs.length < 2 ? '' : ` <sub>(p99 ${Math.min(...p99s).toFixed(1)}–${Math.max(...p99s).toFixed(1)})</sub>`
  return `${value.p50Ms.toFixed(2)} / ${value.p99Ms.toFixed(2)}${range}`
}

export function ms(value: number | undefined): string {
  if (value === undefined) return NA
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(0)} ms`
}

export function int(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : '–'
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`
}

export function size(bytes: number): string {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(0)} MB`
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`
  return `${bytes} B`
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2
}
