// `npm run test:node -- [MAJOR ...]`: the tests again, on other supported Node majors, with
// runtimes from the npm registry (runtime-cache.ts). No lint (it does not depend on the
// runtime): the unit and HTTP tests, and the end-to-end files that touch what differs between
// Node releases (E2E_SUBSET). Without MAJOR, every major package.json's engines supports
// except the one running this script, which `npm test` covers. .ci/run runs it after `npm test`.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { nodeRuntime, type NodeRuntime } from './runtime-cache.js'
import { enginesRange, supportedMajors } from './supported.js'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * The end-to-end files of the pass, and what each covers that can differ between releases of
 * Node (V8, libuv, OpenSSL, undici and npm all change with the major).
 */
export const E2E_SUBSET: Readonly<Record<string, string>> = {
  'test/e2e/pip-install.test.ts':
    'real pip against the spawned daemon: pages and files streamed to a socket, --require-hashes, a file changed after pip read the page',
  'test/e2e/http-real-socket.test.ts':
    'raw sockets: ranges, conditionals, HEAD without a byte of body; fs.watch in the daemon: files added, replaced and removed show within 1 s',
  'test/e2e/reverse-proxy.test.ts': 'TLS: node:https through nginx, forwarded headers',
  'test/e2e/pack-install.test.ts':
    'npm of this Node packs and installs the package (no EBADENGINE); the installed command starts without warnings, also with S3 storage',
  'test/e2e/s3-storage.test.ts':
    'the AWS SDK on this Node: its HTTP handler, streams and worker threads reading from S3',
  'test/e2e/tls.test.ts':
    'TLS without a proxy: node:https with this OpenSSL, setSecureContext on SIGHUP, real pip with --cert',
}

const USAGE = `Usage: npm run test:node -- [MAJOR ...] [--no-build]

Runs the unit and HTTP tests and ${Object.keys(E2E_SUBSET).length} end-to-end files on each Node MAJOR, with the
runtime pinned in scripts/node-versions/pinned-runtimes.ts (fetched from the npm registry into
$EGGSERVE_NODE_CACHE, default ~/.cache/eggserve/node-runtimes). Without MAJOR: every major
package.json's engines.node supports except this Node's (${process.version}).

  --no-build   do not run "npm run build" first (the end-to-end tests run dist/)
  -h, --help   this text`

function log(text: string): void {
  process.stderr.write(`[test:node] ${text}\n`)
}

/** The test files of the pass, relative to the repository. */
export function passFiles(root: string = REPO_ROOT): string[] {
  const tests = (dir: string): string[] =>
    readdirSync(join(root, dir))
      .filter((name) => name.endsWith('.test.ts'))
      .sort()
      .map((name) => `${dir}/${name}`)
  return [...tests('test/unit'), ...tests('test/http'), ...Object.keys(E2E_SUBSET)]
}

/** The majors to run: those given, or every supported one but this Node's. */
export function majorsToRun(args: readonly string[], range: string, running: string): number[] {
  const supported = supportedMajors(range).map((entry) => entry.major)
  if (args.length === 0) return supported.filter((major) => `v${major}` !== running.split('.')[0])
  return args.map((arg) => {
    const major = /^v?(\d+)$/.exec(arg.trim())?.[1]
    if (major === undefined || !supported.includes(Number(major))) {
      throw new Error(
        `"${arg}" is not a supported Node major (package.json engines.node: ${range}, so one of ${supported.join(', ')})`,
      )
    }
    return Number(major)
  })
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { 'no-build': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const majors = majorsToRun(positionals, enginesRange(), process.version)
  if (majors.length === 0) {
    log(`nothing to run: ${process.version} is the only supported major`)
    return 0
  }
  const runtimes: NodeRuntime[] = []
  for (const major of majors) runtimes.push(await nodeRuntime(major, { log }))
  if (values['no-build'] !== true && (await exec('npm', ['run', '--silent', 'build'], process.env)) !== 0)
    throw new Error('npm run build failed')

  const results: string[] = []
  let failed = false
  for (const runtime of runtimes) {
    log(`=== Node v${runtime.version} (${runtime.spec}, ${runtime.integrity.slice(0, 19)}…)`)
    // Its bin first on PATH: whatever a test starts by name (npm, the installed eggserve with
    // its `#!/usr/bin/env node`) runs on this Node too; what it starts with process.execPath does anyway.
    const env = { ...process.env, PATH: `${runtime.binDir}${delimiter}${process.env.PATH ?? ''}` }
    const started = performance.now()
    const code = await exec(runtime.node, ['--import', 'tsx', '--test', '--test-reporter=spec', ...passFiles()], env)
    const seconds = Math.round((performance.now() - started) / 1000)
    results.push(`Node v${runtime.version}: ${code === 0 ? 'passed' : `FAILED (exit ${String(code)})`} in ${seconds} s`)
    if (code !== 0) failed = true
  }
  for (const line of results) log(line)
  return failed ? 1 : 0
}

/** Run with inherited output; the exit code. */
async function exec(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] })
    child.once('error', reject)
    child.once('close', (code, signal) => {
      resolve(signal === null ? code : 128)
    })
  })
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => {
      process.exitCode = code
    },
    (err: unknown) => {
      process.stderr.write(`test:node: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exitCode = 1
    },
  )
}
