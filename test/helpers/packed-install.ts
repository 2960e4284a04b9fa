// The package as users get it: `npm pack` of a copy of this checkout (so its prepack script
// builds dist/ from scratch without touching the dist/ other tests are running), then
// `npm install -g --prefix <root>/usr/local <tarball>`, the README's install step under a
// temporary root, offline. npm and the installed command run on the Node running the tests
// (its folder first on PATH), so that `npm run test:node` checks both on every supported Node.
import { cp, mkdir, readFile, readdir } from 'node:fs/promises'
import { delimiter, dirname, join, relative, sep } from 'node:path'
import type { TestContext } from 'node:test'
import { childEnv, repoRoot, runProcess, type RunResult } from './spawn-server.js'
import { tempDir } from './temp-tree.js'
import { needTool } from './tools.js'

/** Where the README installs the package (`npm install -g --prefix /usr/local`). */
export const INSTALL_PREFIX = '/usr/local'

/** A packed and installed copy. */
export interface PackedInstall {
  /** The temporary root standing in for `/`. */
  readonly root: string
  /** `<root>/usr/local`: bin/eggserve and lib/node_modules/eggserve are under it. */
  readonly prefix: string
  /** `<prefix>/bin/eggserve`, the command npm installed. */
  readonly bin: string
  /** `<prefix>/lib/node_modules/eggserve`. */
  readonly packageDir: string
  /** The tarball `npm pack` wrote. */
  readonly tarball: string
  /** The tarball's files, without the leading `package/`. */
  readonly files: readonly string[]
  /** What `npm pack` and `npm install` printed (both streams). */
  readonly packOutput: string
  readonly installOutput: string
}

// Top-level entries of the checkout that a fresh clone does not have (or that npm must not see).
const NOT_COPIED = new Set(['node_modules', 'dist', '.git', 'coverage', 'bench-results'])

/**
 * PATH with this Node's folder first: `npm` (a `#!/usr/bin/env node` script) and the installed
 * `eggserve` (the same) then run on the Node that runs the tests, as they do for a user whose
 * PATH holds that Node.
 */
export function pathWithThisNode(): string {
  return [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter)
}

/** The environment for the installed command: childEnv(extra), on this Node. */
export function installedEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return childEnv({ PATH: pathWithThisNode(), ...extra })
}

/**
 * The environment for child npm runs: without the npm_* variables `npm run`/`npm test` export
 * (npm_config_local_prefix would make the child act on this checkout instead of the copy).
 */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('npm_')) env[name] = value
  return { ...env, NO_COLOR: '1', PATH: pathWithThisNode() }
}

function described(command: string, result: RunResult): string {
  return `${command}: exit ${String(result.code)}${result.timedOut ? ' (timed out)' : ''}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
}

/**
 * Pack and install as above; undefined once the test is skipped for lack of npm (a failure
 * under CI). Throws with npm's output when packing or installing fails.
 */
export async function packAndInstall(t: TestContext): Promise<PackedInstall | undefined> {
  const npm = needTool(t, 'npm')
  if (npm === undefined) return undefined
  const tar = needTool(t, 'tar')
  if (tar === undefined) return undefined
  const root = await tempDir(t, 'eggserve-packed-')
  const source = join(root, 'source')
  await cp(repoRoot, source, {
    recursive: true,
    filter: (path) => !NOT_COPIED.has(relative(repoRoot, path).split(sep)[0] ?? ''),
  })
  // The build needs the dev dependencies (TypeScript), and the bundled ones are packed from
  // here: a real copy, because npm pack mislays files of a node_modules that is a symlink
  // (entries named package/../../<real path>).
  await cp(join(repoRoot, 'node_modules'), join(source, 'node_modules'), { recursive: true, verbatimSymlinks: true })
  const out = join(root, 'out')
  await mkdir(out)
  const pack = await runProcess(npm, ['pack', '--pack-destination', out, '--cache', join(root, 'npm-cache')], {
    cwd: source,
    env: npmEnv(),
    timeoutMs: 600_000,
  })
  if (pack.code !== 0) throw new Error(described('npm pack', pack))
  const tarballs = (await readdir(out)).filter((name) => name.endsWith('.tgz'))
  if (tarballs.length !== 1 || tarballs[0] === undefined)
    throw new Error(`npm pack wrote ${JSON.stringify(tarballs)}, expected one tarball`)
  const tarball = join(out, tarballs[0])
  const listing = await runProcess(tar, ['-tzf', tarball])
  if (listing.code !== 0) throw new Error(described('tar -tzf', listing))
  const files = listing.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/^package\//, ''))

  const prefix = join(root, ...INSTALL_PREFIX.split('/'))
  // --offline with an empty cache of its own: the tarball carries its dependencies, so the
  // install must not need the registry (nor leave a copy of the tarball in the user's cache).
  const install = await runProcess(
    npm,
    [
      'install',
      '--global',
      '--prefix',
      prefix,
      '--offline',
      '--cache',
      join(root, 'npm-cache'),
      '--no-audit',
      '--no-fund',
      tarball,
    ],
    {
      cwd: root,
      env: npmEnv(),
      timeoutMs: 600_000,
    },
  )
  if (install.code !== 0) throw new Error(described('npm install', install))
  const { name } = JSON.parse(await readFile(join(source, 'package.json'), 'utf8')) as { name: string }
  return {
    root,
    prefix,
    bin: join(prefix, 'bin', name),
    packageDir: join(prefix, 'lib', 'node_modules', name),
    tarball,
    files,
    packOutput: `${pack.stdout}${pack.stderr}`,
    installOutput: `${install.stdout}${install.stderr}`,
  }
}
