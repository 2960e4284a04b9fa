// `npm run bench`: eggserve against nginx on synthetic trees, written to BENCHMARKS.md.
// Usage: npm run bench -- [--quick] [--projects 1000,10000] [--only ...] (see --help)
// The pieces: options.ts (flags), make-tree.ts and zip-writer.ts (the synthetic trees), tree.ts
// (cached trees), servers.ts (eggserve), nginx.ts (the reference), wrk.ts (load), tree-run.ts
// (what is measured per tree), ui-run.ts (the browse UI, once per run), freshness.ts,
// profile.ts (--cpu-prof summaries), machine.ts, report.ts, cleanup.ts (stop everything).
import { spawn, spawnSync } from 'node:child_process'
import { cp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { installCleanupHandlers, runCleanup, wasInterrupted } from './cleanup.js'
import { commandLine, describeMachine } from './machine.js'
import { benchNodeVersions, resolveNode } from './node-versions-run.js'
import { extractSection, renderNodeVersionsSection, spliceSection } from './node-versions-report.js'
import { needsTrees, parseOptions, USAGE, UsageError, type BenchOptions } from './options.js'
import { renderReport } from './report.js'
import type { BenchNode, Features, NodeVersionsRun, NodeVersionsTree, RunResult, TreeResult } from './results.js'
import { benchTree, type RunContext } from './tree-run.js'
import { ensureTree, removeTree, shapeLabel, type Tree } from './tree.js'
import { benchUi } from './ui-run.js'
import { motoPython } from './moto.js'
import { benchS3, S3_SKIPPED } from './s3-run.js'
import { benchUpstream } from './upstream-run.js'

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))

function log(text: string): void {
  process.stderr.write(`[bench] ${text}\n`)
}

async function main(): Promise<number> {
  let options: BenchOptions | undefined
  try {
    options = parseOptions(process.argv.slice(2), REPO_ROOT)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`bench: ${err.message} (npm run bench -- --help lists the flags)\n`)
    return 2
  }
  if (options === undefined) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (options.rerender !== undefined) {
    const run = await readResults(options.rerender)
    const out = options.out ?? join(dirname(options.rerender), 'BENCHMARKS.md')
    await writeReport(out, run)
    log(`wrote ${out} from ${options.rerender}`)
    return 0
  }
  installCleanupHandlers()
  const env = withSbin(process.env)
  requireCommand(
    'nginx',
    ['-v'],
    env,
    'nginx is not installed (it is the reference server): apt-get install -y nginx-light',
  )
  requireCommand('wrk', ['-v'], env, 'wrk is not installed (it is the load generator): apt-get install -y wrk')
  const nodes: BenchNode[] = []
  for (const value of options.nodes) nodes.push(await resolveNode(value, log))
  if (options.build) await build()

  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const treesDir = join(options.benchDir, 'trees')
  const runDir = join(options.benchDir, 'runs', stamp)
  await mkdir(runDir, { recursive: true })
  await mkdir(treesDir, { recursive: true })
  log(`run folder ${runDir}; trees in ${treesDir}`)

  const features: Features = { cacheDir: undefined, ready: undefined, listeningLineAtWarn: undefined }
  const eggserveRoot = await snapshotBuild(runDir)
  const ctx: RunContext = {
    options,
    eggserveRoot,
    env,
    runDir,
    treesDir,
    features,
    log,
    node: nodes[0]?.path ?? process.execPath,
  }
  if (nodes.length >= 2) return benchNodes(ctx, nodes)
  const results: TreeResult[] = []
  const generated: Tree[] = []
  const machine = describeMachine(treesDir, env)
  const run: RunResult = {
    command: commandText(),
    date: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    commit: gitDescribe(),
    machine: nodes[0] === undefined ? machine : { ...machine, node: `${nodes[0].version} (${nodes[0].source})` },
    loadStart: loadavg()[0] ?? 0,
    loadEnd: 0,
    quick: options.quick,
    durationS: options.durationS,
    rounds: options.rounds,
    connections: options.connections,
    bigConnections: options.bigConnections,
    workers: options.workers,
    trees: results,
    features,
    notes: [],
  }
  let failed: unknown
  try {
    for (const shape of needsTrees(options.only) ? options.trees : []) {
      if (wasInterrupted()) break
      log(`=== tree ${shapeLabel(shape)}`)
      const tree = await ensureTree(shape, treesDir, log)
      if (tree.generated) generated.push(tree)
      results.push(await benchTree(ctx, tree))
    }
    // The browse UI: a fixture of its own (ui-run.ts), once per run.
    if (options.only.has('ui') && !wasInterrupted()) run.ui = await benchUi(ctx)
    // The upstream proxy: a fixture of its own with nginx as the upstream (upstream-run.ts), once per run.
    if (options.only.has('upstream') && !wasInterrupted()) run.upstream = await benchUpstream(ctx)
    // S3 storage and replicas: moto on loopback as the store (s3-run.ts), once per run.
    // Without moto a full run still reports everything else, and says why these rows are missing.
    if (options.only.has('s3') && !wasInterrupted()) {
      if (motoPython(env) === undefined) run.notes.push(S3_SKIPPED)
      else run.s3 = await benchS3(ctx)
    }
  } catch (err) {
    failed = err
  } finally {
    await runCleanup()
  }
  run.loadEnd = loadavg()[0] ?? 0

  await saveResults(run, runDir, options.benchDir)
  if (failed !== undefined || wasInterrupted()) {
    const partial = join(runDir, 'BENCHMARKS.partial.md')
    await writeFile(partial, renderReport(run))
    log(`failed: ${failed instanceof Error ? (failed.stack ?? failed.message) : String(failed)}`)
    log(`kept the run folder ${runDir} (logs, partial report ${partial}); the trees stay in ${treesDir}`)
    return 1
  }
  const out = options.out ?? join(options.benchDir, 'BENCHMARKS-quick.md')
  await writeReport(out, run)
  log(`wrote ${out}`)
  await tidy(options, { treesDir, runDir, generated })
  return 0
}

/** Several --node values: only the page and download rows, on each Node (node-versions-run.ts). */
async function benchNodes(ctx: RunContext, nodes: readonly BenchNode[]): Promise<number> {
  const { options, treesDir, runDir, env } = ctx
  const trees: NodeVersionsTree[] = []
  const generated: Tree[] = []
  const run: NodeVersionsRun = {
    kind: 'node-versions',
    command: commandText(),
    date: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    commit: gitDescribe(),
    machine: describeMachine(treesDir, env),
    loadStart: loadavg()[0] ?? 0,
    loadEnd: 0,
    quick: options.quick,
    durationS: options.durationS,
    rounds: options.rounds,
    connections: options.connections,
    bigConnections: options.bigConnections,
    nodes,
    trees,
  }
  let failed: unknown
  try {
    for (const shape of options.trees) {
      if (wasInterrupted()) break
      log(`=== tree ${shapeLabel(shape)} on ${nodes.map((node) => node.version).join(', ')}`)
      const tree = await ensureTree(shape, treesDir, log)
      if (tree.generated) generated.push(tree)
      trees.push(await benchNodeVersions(ctx, tree, nodes))
    }
  } catch (err) {
    failed = err
  } finally {
    await runCleanup()
  }
  run.loadEnd = loadavg()[0] ?? 0
  await saveResults(run, runDir, options.benchDir)
  if (failed !== undefined || wasInterrupted()) {
    log(`failed: ${failed instanceof Error ? (failed.stack ?? failed.message) : String(failed)}`)
    log(`kept the run folder ${runDir}; the trees stay in ${treesDir}`)
    return 1
  }
  const out = options.out ?? join(options.benchDir, 'BENCHMARKS-quick.md')
  await writeReport(out, run)
  log(`wrote the "Node versions" section of ${out}`)
  await tidy(options, { treesDir, runDir, generated })
  return 0
}

/**
 * Write a full run's report keeping the file's "Node versions" section, or put a Node versions
 * run's section into the file (which keeps everything else).
 */
async function writeReport(out: string, run: RunResult | NodeVersionsRun): Promise<void> {
  await mkdir(dirname(out), { recursive: true })
  const existing = await readFile(out, 'utf8').catch(() => undefined)
  if ('kind' in run) {
    await writeFile(out, spliceSection(existing ?? '# Benchmarks\n', renderNodeVersionsSection(run)))
  } else {
    await writeFile(
      out,
      spliceSection(renderReport(run), existing === undefined ? undefined : extractSection(existing)),
    )
  }
}

async function tidy(
  options: BenchOptions,
  state: { treesDir: string; runDir: string; generated: readonly Tree[] },
): Promise<void> {
  if (options.keep) {
    log(`kept the trees in ${state.treesDir} and the run folder ${state.runDir}`)
    return
  }
  for (const tree of state.generated) await removeTree(tree, state.treesDir)
  await rm(state.runDir, { recursive: true, force: true })
  if (state.generated.length > 0) log('removed the trees generated by this run (use --keep to reuse them next time)')
}

/** A results.json written by an earlier run (same bench version). */
async function readResults(path: string): Promise<RunResult | NodeVersionsRun> {
  const raw: unknown = JSON.parse(await readFile(path, 'utf8'))
  if (
    typeof raw !== 'object' ||
    raw === null ||
    !('trees' in raw) ||
    !Array.isArray(raw.trees) ||
    !('machine' in raw)
  ) {
    throw new Error(`${path} is not a results.json of npm run bench`)
  }
  return raw as RunResult | NodeVersionsRun
}

/** Debian puts nginx in /usr/sbin, which is not on every user's PATH. */
function withSbin(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const path = (env.PATH ?? '').split(delimiter)
  for (const dir of ['/usr/sbin', '/sbin']) if (!path.includes(dir)) path.push(dir)
  return { ...env, PATH: path.join(delimiter) }
}

function requireCommand(command: string, args: readonly string[], env: NodeJS.ProcessEnv, message: string): void {
  if (commandLine(command, args, env) === undefined) throw new Error(message)
}

async function build(): Promise<void> {
  log('npm run build')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const code = await new Promise<number | null>((resolveExit, reject) => {
    const child = spawn(npm, ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
    child.once('error', reject)
    child.once('exit', resolveExit)
  })
  if (code !== 0) throw new Error(`npm run build failed (exit ${String(code)}); fix the build or pass --no-build`)
}

/**
 * Copy the build (what the package ships, as package.json's "files" lists it, and package.json;
 * node_modules linked) into the run folder and serve from there: a rebuild of dist/ by someone
 * else during a long run cannot change, or half-write, the code under test.
 */
async function snapshotBuild(runDir: string): Promise<string> {
  const root = join(runDir, 'eggserve')
  await mkdir(root, { recursive: true })
  const pkg: unknown = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'))
  const files =
    typeof pkg === 'object' && pkg !== null && 'files' in pkg && Array.isArray(pkg.files)
      ? pkg.files.filter((name): name is string => typeof name === 'string')
      : []
  if (!files.includes('dist/')) throw new Error('package.json "files" does not list dist/')
  for (const name of [...files, 'package.json']) await cp(join(REPO_ROOT, name), join(root, name), { recursive: true })
  await symlink(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir')
  return root
}

/** The command, as `npm run bench` (the npm script is `node --import tsx scripts/bench/run.ts`). */
function commandText(): string {
  const args = process.argv
    .slice(2)
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`))
  return ['npm run bench', ...(args.length > 0 ? ['--', ...args] : [])].join(' ')
}

function gitDescribe(): string {
  const result = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: REPO_ROOT, encoding: 'utf8' })
  const text = result.status === 0 ? result.stdout.trim() : ''
  if (text === '') return 'unknown'
  return text.endsWith('-dirty') ? `${text.slice(0, -'-dirty'.length)} (with uncommitted changes)` : text
}

main().then(
  (code) => {
    process.exitCode = code
  },
  async (err: unknown) => {
    await runCleanup()
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)

/** The raw results, for --rerender: in the run folder, and as last-results.json (which outlives it). */
async function saveResults(run: unknown, runDir: string, benchDir: string): Promise<void> {
  const json = `${JSON.stringify(run, null, 2)}\n`
  await writeFile(join(runDir, 'results.json'), json)
  await writeFile(join(benchDir, 'last-results.json'), json)
}
