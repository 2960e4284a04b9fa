// Everything measured on one tree: start-up (cold, warm), load on each endpoint (eggserve and
// nginx alternately, never both under load), freshness, logging cost and, if asked, profiles.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { wasInterrupted } from './cleanup.js'
import { measureFreshness } from './freshness.js'
import { measureMetricsCost } from './metrics-cost.js'
import { getOk, pollUntil } from './http.js'
import type { BenchOptions, Measurement } from './options.js'
import { findProfiles, readProfile, summarizeProfile, windowAfterStart } from './profile.js'
import type { Features, LoadKind, LoadResult, ReadRate, StartupResult, TreeResult } from './results.js'
import { startNginx, startOffloadNginx, type Nginx } from './nginx.js'
import {
  procStatusMb,
  startCeiling,
  startEggserve,
  UnsupportedFlagError,
  type Ceiling,
  type Eggserve,
} from './servers.js'
import { dropProjects, firstWheel, journalPath, projectFolder, shapeKey, type Tree } from './tree.js'
import { runWrk, type WrkResult } from './wrk.js'

export const V1_JSON = 'application/vnd.pypi.simple.v1+json'

export interface RunContext {
  readonly options: BenchOptions
  /** The snapshot of the build that is benchmarked (see run.ts). */
  readonly eggserveRoot: string
  readonly env: NodeJS.ProcessEnv
  readonly runDir: string
  readonly treesDir: string
  readonly features: Features
  readonly log: (text: string) => void
  /** The node binary eggserve (and the ceiling server) run on. */
  readonly node: string
}

export interface Endpoint {
  readonly name: Measurement
  readonly label: string
  readonly kind: LoadKind
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  /** For pages: the name of the static copy nginx serves at /static/<name>. */
  readonly staticName?: string
}

export function endpoints(project: string, smallFile: string): Endpoint[] {
  return [
    {
      name: 'simple-root',
      label: '`/simple/` (HTML)',
      kind: 'page',
      path: '/simple/',
      headers: {},
      staticName: 'simple-root.html',
    },
    {
      name: 'simple-html',
      label: '`/simple/<p>/` (HTML)',
      kind: 'page',
      path: `/simple/${project}/`,
      headers: {},
      staticName: 'simple-project.html',
    },
    {
      name: 'simple-json',
      label: '`/simple/<p>/` (JSON)',
      kind: 'page',
      path: `/simple/${project}/`,
      headers: { accept: V1_JSON },
      staticName: 'simple-project.json',
    },
    {
      name: 'legacy',
      label: '`/<folder>/` (HTML)',
      kind: 'page',
      path: `/${project}/`,
      headers: {},
      staticName: 'legacy-project.html',
    },
    {
      name: 'small-file',
      label: 'small file download',
      kind: 'file',
      path: `/packages/${project}/${smallFile}`,
      headers: {},
    },
    {
      name: 'big-file',
      label: 'large file download',
      kind: 'big',
      path: '/packages/big/big-1.0-py3-none-any.whl',
      headers: {},
    },
    // Through nginx with the shipped config, eggserve deciding and nginx sending (--x-accel-redirect);
    // the reference is nginx serving the file alone.
    {
      name: 'offload',
      label: 'large download via nginx offload',
      kind: 'big',
      path: '/packages/big/big-1.0-py3-none-any.whl',
      headers: {},
    },
  ]
}

export async function benchTree(ctx: RunContext, tree: Tree): Promise<TreeResult> {
  const { options, log } = ctx
  const only = options.only
  const project = projectFolder(Math.floor(tree.shape.projects / 2))
  const smallFile = await firstWheel(tree.dir, project)
  const result: TreeResult = {
    shape: tree.shape,
    files: tree.files,
    bytes: tree.bytes,
    treeDir: tree.dir,
    project,
    smallFile,
    warm: [],
    loads: [],
    profiles: [],
    notes: [],
  }
  const key = shapeKey(tree.shape)
  const cacheDir = join(ctx.runDir, `cache-${key}`)
  await mkdir(cacheDir, { recursive: true })

  if (only.has('read-rate')) {
    log('reading every file once (reference read rate)')
    result.readRate = await readTree(tree.dir)
  }

  const selected = endpoints(project, smallFile).filter((endpoint) => only.has(endpoint.name))
  let nginx: Nginx | undefined
  let ceiling: Ceiling | undefined
  // With --workers N, bare node:http in N processes too: what any Node server could do with N.
  let clusterCeiling: Ceiling | undefined
  try {
    // 1. Cold start on an empty cache dir; this instance then takes the load and the freshness runs.
    log('cold start (empty cache dir)')
    const cold = await startTimed(ctx, tree, cacheDir, 'cold', 'warn')
    try {
      result.cold = cold.startup
      if (selected.length > 0) {
        nginx = await startNginx(tree.dir, join(ctx.runDir, `nginx-${key}`), ctx.env)
        if (only.has('node-ceiling') && selected.some((endpoint) => endpoint.kind === 'page')) {
          ceiling = await startCeiling(nginx.staticDir, ctx.eggserveRoot, ctx.env, { node: ctx.node })
          if (options.workers > 1)
            clusterCeiling = await startCeiling(nginx.staticDir, ctx.eggserveRoot, ctx.env, {
              node: ctx.node,
              processes: options.workers,
            })
        }
        for (const endpoint of selected) {
          if (wasInterrupted()) break
          result.loads.push(
            endpoint.name === 'offload'
              ? await measureOffload(ctx, tree, endpoint, nginx)
              : await measureEndpoint(ctx, endpoint, cold.server, nginx, ceiling, clusterCeiling),
          )
        }
        await ceiling?.stop()
        ceiling = undefined
        await clusterCeiling?.stop()
        clusterCeiling = undefined
      }
      if (only.has('freshness') && !wasInterrupted()) {
        log(`freshness: ${options.freshnessRepeats} drop-ins and one new project`)
        const projects = dropProjects(tree.shape, options.freshnessRepeats)
        result.freshness = await measureFreshness({
          url: cold.server.url,
          treeDir: tree.dir,
          projects,
          template: join(tree.dir, project, smallFile),
          journal: journalPath(ctx.treesDir, tree.shape),
          timeoutMs: 30_000,
          log,
        })
      }
    } finally {
      const peak = await cold.server.peakRssMb()
      await cold.server.stop()
      result.cold = { ...cold.startup, peakRssMb: peak }
    }

    // 2. Warm restarts on the same cache dir.
    if (only.has('startup')) {
      for (let i = 0; i < options.warmRepeats && !wasInterrupted(); i++) {
        log(`warm restart ${i + 1}/${options.warmRepeats} (same cache dir)`)
        const warm = await startTimed(ctx, tree, cacheDir, 'warm', 'warn')
        const peak = await warm.server.peakRssMb()
        await warm.server.stop()
        result.warm.push({ ...warm.startup, peakRssMb: peak })
      }
    }

    // 3. The cost of the per-request log line: the same page at warn and at info, alternately.
    if (only.has('logging') && !wasInterrupted()) {
      const path = `/simple/${project}/`
      log('logging cost: /simple/<p>/ at --log-level warn and at info (stdout to a file), alternately')
      const warn = await startTimed(ctx, tree, cacheDir, 'warm', 'warn')
      try {
        const info = await startTimed(ctx, tree, cacheDir, 'warm', 'info', join(ctx.runDir, `eggserve-info-${key}.log`))
        try {
          const runs = { warn: [] as WrkResult[], info: [] as WrkResult[] }
          for (let round = 0; round < options.rounds && !wasInterrupted(); round++) {
            for (const [level, server] of [
              ['warn', warn.server],
              ['info', info.server],
            ] as const) {
              const url = `${server.url}${path}`
              await getOk(url)
              runs[level].push(
                await runWrk({
                  url,
                  durationS: options.durationS,
                  connections: options.connections,
                  workDir: ctx.runDir,
                  label: `log-${level}`,
                }),
              )
            }
          }
          log(
            `    warn ${runs.warn.map((r) => r.rps.toFixed(0)).join(', ')} req/s; info ${runs.info.map((r) => r.rps.toFixed(0)).join(', ')} req/s`,
          )
          result.logging = {
            label: '`/simple/<p>/` (HTML)',
            path,
            warn: medianRun(runs.warn),
            info: medianRun(runs.info),
          }
        } finally {
          await info.server.stop()
        }
      } finally {
        await warn.server.stop()
      }
    }

    // 3b. The cost of --metrics: the same page without and with metrics, alternately.
    if (only.has('metrics') && !wasInterrupted()) {
      log('metrics cost: /simple/<p>/ without and with --metrics, alternately')
      const metrics = await measureMetricsCost(ctx, { tree, cacheDir, project, medianRun })
      if (metrics !== undefined) result.metrics = metrics
    }

    // 4. Profiles (--profile): a warm start up to ready, then one eggserve per endpoint under load.
    if (options.profile && !wasInterrupted()) {
      const dir = join(ctx.runDir, `prof-${key}-startup`)
      await mkdir(dir, { recursive: true })
      log('profiling a warm start, spawn → ready (node --cpu-prof)')
      const started = await startTimed(ctx, tree, cacheDir, 'warm', 'warn', undefined, [
        '--cpu-prof',
        '--cpu-prof-dir',
        dir,
      ])
      const s = started.startup
      const untilMs = s.readyMs ?? s.healthMs ?? s.listeningMs
      await started.server.stop()
      const files = await findProfiles(dir)
      if (files.main !== undefined) {
        const main = await readProfile(files.main)
        const during = windowAfterStart(main, 0, untilMs)
        let workerBusyMs = 0
        for (const file of files.workers) {
          const worker = summarizeProfile(await readProfile(file), file, ctx.eggserveRoot, during)
          workerBusyMs += worker.totalMs - worker.idleMs
        }
        result.profiles.push({
          label: 'warm start',
          path: '',
          workers: files.workers.length,
          workerBusyMs,
          context: `listening after ${Math.round(s.listeningMs)} ms, ready after ${Math.round(untilMs)} ms while profiled; the window is spawn → ready`,
          summary: summarizeProfile(main, files.main, ctx.eggserveRoot, during),
        })
      }
      for (const endpoint of selected) {
        if (wasInterrupted()) break
        const dir = join(ctx.runDir, `prof-${key}-${endpoint.name}`)
        await mkdir(dir, { recursive: true })
        log(`profiling ${endpoint.path} (node --cpu-prof)`)
        const started = await startTimed(ctx, tree, cacheDir, 'warm', 'warn', undefined, [
          '--cpu-prof',
          '--cpu-prof-dir',
          dir,
        ])
        let wrk: WrkResult
        let window: { fromMs: number; toMs: number }
        try {
          const url = `${started.server.url}${endpoint.path}`
          await getOk(url, endpoint.headers)
          const fromMs = performance.now() - started.server.spawnedAt
          wrk = await runWrk(wrkRequest(ctx, endpoint, url, `prof-${endpoint.name}`))
          window = { fromMs, toMs: performance.now() - started.server.spawnedAt }
        } finally {
          await started.server.stop()
        }
        const files = await findProfiles(dir)
        if (files.main === undefined) {
          result.notes.push(`No CPU profile was written for ${endpoint.path}.`)
          continue
        }
        const main = await readProfile(files.main)
        const during = windowAfterStart(main, window.fromMs, window.toMs)
        let workerBusyMs = 0
        for (const file of files.workers) {
          const worker = summarizeProfile(await readProfile(file), file, ctx.eggserveRoot, during)
          workerBusyMs += worker.totalMs - worker.idleMs
        }
        result.profiles.push({
          label: endpoint.label,
          path: endpoint.path,
          context: `${Math.round(wrk.rps).toLocaleString('en-US')} req/s while profiled`,
          workers: files.workers.length,
          workerBusyMs,
          summary: summarizeProfile(main, files.main, ctx.eggserveRoot, during),
        })
      }
    }
  } finally {
    await ceiling?.stop()
    await clusterCeiling?.stop()
    if (nginx !== undefined) await nginx.stop()
  }
  return result
}

export function wrkRequest(
  ctx: RunContext,
  endpoint: Endpoint,
  url: string,
  label: string,
): Parameters<typeof runWrk>[0] {
  const big = endpoint.kind === 'big'
  return {
    url,
    durationS: ctx.options.durationS,
    connections: big ? ctx.options.bigConnections : ctx.options.connections,
    headers: endpoint.headers,
    ...(big ? { timeoutS: 120 } : {}),
    workDir: ctx.runDir,
    label,
  }
}

// The internal location of contrib/nginx/eggserve.conf.
const OFFLOAD_PREFIX = '/_eggfiles'

/** A second eggserve with --x-accel-redirect behind nginx with the shipped config, loaded against the reference nginx. */
async function measureOffload(ctx: RunContext, tree: Tree, endpoint: Endpoint, reference: Nginx): Promise<LoadResult> {
  const key = shapeKey(tree.shape)
  const egg = await startEggserve({
    root: ctx.eggserveRoot,
    eggdir: tree.dir,
    cacheDir: undefined,
    logLevel: 'warn',
    env: ctx.env,
    label: `${key} offload`,
    listenTimeoutMs: ctx.options.readyTimeoutS * 1000,
    eggserveArgs: ['--x-accel-redirect', OFFLOAD_PREFIX],
  })
  try {
    const front = await startOffloadNginx({
      shippedConfig: join(ctx.eggserveRoot, 'contrib', 'nginx', 'eggserve.conf'),
      dir: tree.dir,
      stateDir: join(ctx.runDir, `nginx-offload-${key}`),
      eggservePort: Number(new URL(egg.url).port),
      env: ctx.env,
    })
    try {
      return await measureEndpoint(ctx, endpoint, front, reference, undefined)
    } finally {
      await front.stop()
    }
  } finally {
    await egg.stop()
  }
}

/** Warm eggserve's page, copy it for nginx, then wrk eggserve and nginx one after the other. */
export async function measureEndpoint(
  ctx: RunContext,
  endpoint: Endpoint,
  egg: Pick<Eggserve, 'url'>,
  nginx: Nginx,
  ceiling: Ceiling | undefined,
  clusterCeiling?: Ceiling,
): Promise<LoadResult> {
  const eggUrl = `${egg.url}${endpoint.path}`
  // Warm the page cache (and check the answer) before timing.
  const fetched = await getOk(eggUrl, endpoint.headers)
  if (endpoint.name === 'simple-json' && fetched.contentType?.startsWith(V1_JSON) !== true) {
    throw new Error(`${eggUrl} with Accept: ${V1_JSON} answered ${fetched.contentType ?? 'no content type'}`)
  }
  let nginxPath = endpoint.path
  if (endpoint.staticName !== undefined) {
    await writeFile(join(nginx.staticDir, endpoint.staticName), fetched.body)
    nginxPath = `/static/${endpoint.staticName}`
  }
  const nginxUrl = `${nginx.url}${nginxPath}`
  const reference = await getOk(nginxUrl)
  if (reference.body.length !== fetched.body.length) {
    throw new Error(
      `nginx's ${nginxPath} has ${reference.body.length} bytes, eggserve's ${endpoint.path} ${fetched.body.length}`,
    )
  }
  const request = wrkRequest(ctx, endpoint, eggUrl, `egg-${endpoint.name}`)
  const rounds = ctx.options.rounds
  ctx.log(
    `  wrk ${endpoint.path}${endpoint.headers.accept === undefined ? '' : ' (JSON)'} on eggserve, then ${nginxPath} on nginx, ${rounds} round${rounds > 1 ? 's' : ''} (${fetched.body.length} bytes, ${request.connections} connections, ${request.durationS} s each)`,
  )
  const ceilingUrl =
    ceiling === undefined || endpoint.staticName === undefined ? undefined : `${ceiling.url}${nginxPath}`
  if (ceilingUrl !== undefined) await getOk(ceilingUrl)
  const clusterUrl =
    clusterCeiling === undefined || endpoint.staticName === undefined ? undefined : `${clusterCeiling.url}${nginxPath}`
  // Each process reads the file once on its first request: every one of them is warmed by
  // the first round's first requests, which a 5 s run makes negligible.
  if (clusterUrl !== undefined) await getOk(clusterUrl)
  const eggRuns: WrkResult[] = []
  const nginxRuns: WrkResult[] = []
  const ceilingRuns: WrkResult[] = []
  const clusterRuns: WrkResult[] = []
  for (let round = 0; round < rounds && !wasInterrupted(); round++) {
    eggRuns.push(await runWrk(request))
    nginxRuns.push(await runWrk({ ...wrkRequest(ctx, endpoint, nginxUrl, `nginx-${endpoint.name}`), headers: {} }))
    if (ceilingUrl !== undefined)
      ceilingRuns.push(
        await runWrk({ ...wrkRequest(ctx, endpoint, ceilingUrl, `ceiling-${endpoint.name}`), headers: {} }),
      )
    if (clusterUrl !== undefined)
      clusterRuns.push(
        await runWrk({ ...wrkRequest(ctx, endpoint, clusterUrl, `cluster-ceiling-${endpoint.name}`), headers: {} }),
      )
  }
  const by = endpoint.kind === 'big' ? 'mbps' : 'rps'
  const eggResult = medianRun(eggRuns, by)
  const nginxResult = medianRun(nginxRuns, by)
  for (const [who, runs] of [
    ['eggserve', eggRuns],
    ['nginx', nginxRuns],
  ] as const) {
    for (const r of runs) if (r.errors > 0) ctx.log(`  warning: ${who} had ${r.errorText} on ${endpoint.path}`)
  }
  const unit = by === 'mbps' ? 'MB/s' : 'req/s'
  const list = (runs: readonly WrkResult[]): string => runs.map((r) => r[by].toFixed(0)).join(', ')
  ctx.log(
    `    eggserve ${list(eggRuns)} ${unit}; nginx ${list(nginxRuns)} ${unit}${ceilingRuns.length > 0 ? `; bare node:http ${list(ceilingRuns)} ${unit}` : ''}${clusterRuns.length > 0 ? `; bare node:http, ${ctx.options.workers} processes ${list(clusterRuns)} ${unit}` : ''}`,
  )
  return {
    name: endpoint.name,
    label: endpoint.label,
    kind: endpoint.kind,
    eggPath: endpoint.path,
    nginxPath,
    bodyBytes: fetched.body.length,
    connections: request.connections,
    egg: eggResult,
    nginx: nginxResult,
    eggRounds: eggRuns,
    nginxRounds: nginxRuns,
    ceiling: ceilingRuns.length > 0 ? medianRun(ceilingRuns, by) : undefined,
    ceilingRounds: ceilingRuns,
    ...(clusterRuns.length > 0
      ? {
          clusterCeiling: {
            processes: ctx.options.workers,
            median: medianRun(clusterRuns, by),
            rounds: clusterRuns,
          },
        }
      : {}),
  }
}

/**
 * The run with the median req/s, or MB/s for a large file (few requests finish in a run, but
 * wrk counts every byte read); the lower middle one for an even count.
 */
export function medianRun(runs: readonly WrkResult[], by: 'rps' | 'mbps' = 'rps'): WrkResult {
  const sorted = [...runs].sort((a, b) => a[by] - b[by])
  const pick = sorted[Math.floor((sorted.length - 1) / 2)]
  if (pick === undefined) throw new Error('no wrk run (interrupted)')
  return pick
}

/** Start eggserve and time listening, /health and /health/ready (all from spawn). */
async function startTimed(
  ctx: RunContext,
  tree: Tree,
  cacheDir: string,
  cache: 'cold' | 'warm',
  logLevel: 'warn' | 'info',
  stdoutFile?: string,
  nodeFlags?: readonly string[],
): Promise<{ server: Eggserve; startup: StartupResult }> {
  const { features, options } = ctx
  const listenTimeoutMs = options.readyTimeoutS * 1000
  const start = async (withCache: boolean): Promise<Eggserve> =>
    startEggserve({
      root: ctx.eggserveRoot,
      eggdir: tree.dir,
      cacheDir: withCache ? cacheDir : undefined,
      logLevel,
      ...(stdoutFile === undefined ? {} : { stdoutFile }),
      ...(nodeFlags === undefined ? {} : { nodeFlags }),
      ...(options.workers > 1 ? { eggserveArgs: ['--workers', String(options.workers)] } : {}),
      env: ctx.env,
      label: `${shapeKey(tree.shape)} ${cache}`,
      listenTimeoutMs,
      node: ctx.node,
    })
  let server: Eggserve
  if (features.cacheDir === false) {
    server = await start(false)
  } else {
    try {
      server = await start(true)
      features.cacheDir = true
    } catch (err) {
      if (!(err instanceof UnsupportedFlagError) || err.flag !== '--cache-dir') throw err
      features.cacheDir = false
      ctx.log('this eggserve build has no --cache-dir: cache rows are "not available"; restarting without it')
      server = await start(false)
    }
  }
  if (logLevel === 'warn' && stdoutFile === undefined)
    features.listeningLineAtWarn = server.listeningFrom === 'log line'
  try {
    const health = await pollUntil(`${server.url}/health`, (f) => f.status === 200, {
      intervalMs: 5,
      timeoutMs: listenTimeoutMs,
    })
    const healthMs = health.kind === 'ok' ? health.at - server.spawnedAt : undefined
    let readyMs: number | undefined
    let readyNote: string | undefined
    if (features.ready === false) {
      readyNote = 'not available'
    } else {
      const ready = await pollUntil(`${server.url}/health/ready`, (f) => f.status === 200, {
        intervalMs: 10,
        timeoutMs: options.readyTimeoutS * 1000,
        absentStatuses: [404, 405],
      })
      if (ready.kind === 'ok') {
        features.ready = true
        readyMs = ready.at - server.spawnedAt
      } else if (ready.kind === 'absent') {
        features.ready = false
        readyNote = 'not available'
        ctx.log(
          `this eggserve build has no /health/ready (it answered ${ready.status}): ready rows are "not available"`,
        )
      } else {
        readyNote = `not ready after ${options.readyTimeoutS} s`
      }
    }
    const rssAtReadyMb = await procStatusMb(server.pid, 'VmRSS')
    const cacheKind = features.cacheDir ? cache : 'none'
    ctx.log(
      `  ${cacheKind === 'none' ? 'start (no cache dir)' : `${cache} start`}: listening ${server.listeningMs.toFixed(0)} ms (${server.listeningFrom}), /health ${healthMs?.toFixed(0) ?? '-'} ms, ready ${readyMs?.toFixed(0) ?? readyNote ?? '-'}${readyMs === undefined ? '' : ' ms'}`,
    )
    return {
      server,
      startup: {
        cache: cacheKind,
        listeningMs: server.listeningMs,
        listeningFrom: server.listeningFrom,
        healthMs,
        readyMs,
        readyNote,
        rssAtReadyMb,
        peakRssMb: undefined,
      },
    }
  } catch (err) {
    await server.stop()
    throw err
  }
}

/** Read every file of the tree once (8 at a time): the reference for hashing throughput. */
async function readTree(dir: string): Promise<ReadRate> {
  const start = performance.now()
  const paths: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue
    for (const name of await readdir(join(dir, entry.name))) paths.push(join(dir, entry.name, name))
  }
  let bytes = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const path = paths[next++]
      if (path === undefined) continue
      const length = (await readFile(path)).length
      bytes += length
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  return { seconds: (performance.now() - start) / 1000, bytes, files: paths.length }
}
