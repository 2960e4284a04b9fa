// poetry (Debian's python3-poetry) with the index as its only (default) source. Each
// project is locked and installed into its own in-project .venv; the lock file is read
// with the system Python's tomllib. poetry 1.3 reads only HTML pages and, when installing
// from a lock, compares each link's fragment with the lock's sha256 hashes: against `#md5=`
// anchors it finds no match and stops (see the md5-anchors check). The other checks run
// against a server with default settings, whose /simple/ pages carry `#sha256=` anchors.
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { MODULES, YANK_REASON } from '../matrix-fixture.js'
import {
  ensure,
  negotiationCheck,
  scratchDir,
  serverCleanCheck,
  startGroupServer,
  type GroupServer,
  type MatrixContext,
} from './context.js'
import { cleanEnv, systemExecutable } from './environment.js'
import { compareLock, readToml } from './lockfiles.js'
import { clientMissing, notApplicable, record, runCheck } from './matrix.js'
import { describeResult, lastError, runCommand, type CommandResult } from './process.js'
import { describeExpected, probeModules, type ModuleExpectation } from './probe.js'
import { tamperBytes } from './tamper-proxy.js'

interface PoetryEnv {
  readonly poetry: string
  readonly python3: string
  /** e.g. "3.11", the interpreter poetry makes its venvs with. */
  readonly pythonMinor: string
}

/** A poetry project in a folder of its own. */
interface Project {
  readonly dir: string
  readonly proj: string
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

async function setUp(t: TestContext, ctx: MatrixContext): Promise<PoetryEnv | undefined> {
  const poetry = systemExecutable('poetry')
  const python3 = systemExecutable('python3')
  if (poetry === undefined || python3 === undefined) {
    clientMissing(t, { client: 'poetry', label: 'poetry' }, 'poetry not installed (apt-get install python3-poetry)')
    return undefined
  }
  const dir = await scratchDir(ctx, 'poetry-env')
  const env = await cleanEnv(join(dir, 'home'))
  const version = await runCommand(poetry, ['--version'], { env, cwd: dir, timeoutMs: ctx.timeoutMs })
  const python = await runCommand(
    python3,
    ['-c', 'import sys; print("%d.%d %s" % (sys.version_info[0], sys.version_info[1], sys.version.split()[0]))'],
    { env, cwd: dir, timeoutMs: ctx.timeoutMs },
  )
  const found = /(\d+\.\d+(\.\d+)?)/.exec(version.stdout)?.[1]
  const [minor = '', full = ''] = python.stdout.trim().split(' ')
  if (version.code !== 0 || found === undefined || python.code !== 0)
    throw new Error(`cannot run poetry:\n${describeResult(version)}\n${describeResult(python)}`)
  record({
    type: 'client',
    client: 'poetry',
    label: `poetry ${found}`,
    python: `CPython ${full} (Debian)`,
    found: true,
    note: 'default settings, except md5-anchors (--simple-hash-algo md5)',
  })
  t.diagnostic(`poetry: ${found} on CPython ${full}`)
  return { poetry, python3, pythonMinor: minor }
}

/** Run every check of poetry. */
export async function poetryGroup(t: TestContext, ctx: MatrixContext): Promise<void> {
  const po = await setUp(t, ctx)
  if (po === undefined) return
  const served = await startGroupServer(t, ctx)
  const runner = new PoetryRunner(ctx, po)
  const fixture = ctx.fixture
  const client = 'poetry'
  const tamperFile = fixture.release('mx-tamper', '1.0')[0]
  ensure(tamperFile !== undefined, 'no mx-tamper file')

  await notApplicable(
    t,
    client,
    'isolated',
    'poetry reads its own configuration only (POETRY_CONFIG_DIR is empty and fresh); its one source is the index, declared default',
  )

  // Project 1: locked through the proxy (passing through), then installed once with the
  // tampered file (must fail), then with a fresh cache (must succeed).
  const main = await runner.project('main', served, { 'mx-core': '*', 'Mx.Mixed_Name': '*', 'mx-tamper': '*' })
  const locked = await runner.poetry(main, ['lock'], 'cache-lock')
  await runCheck(t, client, 'hashes', async () => {
    ensure(locked.code === 0, `poetry lock failed: ${lastError(locked)}\n${describeResult(locked)}`)
    return compareLock(fixture, await runner.lockedFiles(main))
  })
  await runCheck(t, client, 'tamper-detected', async () => {
    ensure(locked.code === 0, `poetry lock failed: ${lastError(locked)}`)
    served.proxy.arm([tamperFile.filename])
    let result: CommandResult
    try {
      result = await runner.poetry(main, ['install', '--no-root'], 'cache-tamper')
    } finally {
      served.proxy.disarm()
    }
    ensure(
      result.code !== 0,
      `poetry installed a file whose bytes were changed on the wire:\n${describeResult(result)}`,
    )
    const text = `${result.stdout}\n${result.stderr}`
    ensure(
      text.includes(`sha256:${sha256(tamperBytes(tamperFile.bytes))}`) && /not found in\s+known hashes/.test(text),
      `poetry failed, but not by finding the tampered file's sha256 outside the lock's hashes: ${lastError(result)}\n${describeResult(result)}`,
    )
    return "refused: the tampered file's sha256 is not among the locked hashes"
  })
  const installed = await runner.poetry(main, ['install', '--no-root'], 'cache-install')
  await runCheck(t, client, 'install-latest', () =>
    runner.expectInstalled(main, installed, { [MODULES.core]: { version: '1.1', kind: 'wheel' } }),
  )
  await runCheck(t, client, 'deps-normalized', () =>
    runner.expectInstalled(main, installed, {
      [MODULES.mixed]: { version: '0.2', kind: 'wheel', core: '1.1' },
    }),
  )

  // Project 2: an exact pin. Project 3: an exact pin on the yanked release.
  const pinned = await runner.project('pinned', served, { 'mx-core': '==1.0' })
  const pinnedRun = await runner.poetry(pinned, ['install', '--no-root'], 'cache')
  await runCheck(t, client, 'install-pinned', () =>
    runner.expectInstalled(pinned, pinnedRun, { [MODULES.core]: { version: '1.0', kind: 'wheel' } }),
  )
  const yankPin = await runner.project('yankpin', served, { 'mx-yank': '==2.0' })
  const yankPinRun = await runner.poetry(yankPin, ['install', '--no-root'], 'cache')
  await runCheck(t, client, 'yank-pinned', async () => {
    const note = await runner.expectInstalled(yankPin, yankPinRun, {
      [MODULES.yank]: { version: '2.0', kind: 'wheel' },
    })
    const text = `${yankPinRun.stdout}\n${yankPinRun.stderr}`
    ensure(
      text.includes(`Reason for being yanked: ${YANK_REASON}`),
      `poetry did not report the yank reason ${JSON.stringify(YANK_REASON)} (so it did not see 2.0 as yanked):\n${describeResult(yankPinRun)}`,
    )
    return `${note}; poetry printed the yank reason`
  })

  // Project 4: what poetry must leave out or build: a yanked release, a Requires-Python
  // that excludes every Python here, a source-only release.
  const choose = await runner.project('choose', served, { 'mx-yank': '*', 'mx-pyreq': '>=1.0', 'mx-build': '*' })
  const chooseRun = await runner.poetry(choose, ['install', '--no-root'], 'cache')
  await runCheck(t, client, 'sdist', () =>
    runner.expectInstalled(choose, chooseRun, { [MODULES.build]: { version: '1.0', kind: 'sdist' } }),
  )
  await runCheck(t, client, 'requires-python', () =>
    runner.expectInstalled(choose, chooseRun, { [MODULES.pyreq]: { version: '1.0' } }),
  )
  await runCheck(t, client, 'yank-skipped', () =>
    runner.expectInstalled(choose, chooseRun, { [MODULES.yank]: { version: '1.0', kind: 'wheel' } }),
  )
  await notApplicable(t, client, 'pep658', 'poetry 1.3 does not use PEP 658 metadata')
  await notApplicable(t, client, 'egg', 'poetry ignores eggs')

  // `#md5=` anchors on /simple/, asked for explicitly (the original tree's default).
  await runCheck(
    t,
    client,
    'md5-anchors',
    async (st) => {
      const md5Server = await startGroupServer(st, ctx, ['--simple-hash-algo', 'md5'])
      const project = await runner.project('md5', md5Server, { 'mx-core': '*' })
      const result = await runner.poetry(project, ['install', '--no-root'], 'cache')
      return runner.expectInstalled(project, result, { [MODULES.core]: { version: '1.1', kind: 'wheel' } })
    },
    {
      knownIssue: {
        reason:
          'poetry 1.3 compares the #md5= fragment with the sha256 hashes of its lock ("Retrieved digest for link … not in poetry.lock metadata"); keep /simple/ on sha256 (the default) for poetry 1.3',
        expect: /not in poetry\.lock metadata/,
      },
    },
  )
  await negotiationCheck(
    t,
    client,
    [served],
    'html',
    'poetry 1.3 sends no Accept header of its own (requests: */*) and reads only HTML',
  )
  await serverCleanCheck(t, client, [served.server])
}

class PoetryRunner {
  private readonly ctx: MatrixContext
  private readonly po: PoetryEnv

  constructor(ctx: MatrixContext, po: PoetryEnv) {
    this.ctx = ctx
    this.po = po
  }

  /** A fresh project whose only source is `served`'s index through the tamper proxy. */
  async project(label: string, served: GroupServer, dependencies: Readonly<Record<string, string>>): Promise<Project> {
    const dir = await scratchDir(this.ctx, `poetry-${label}`)
    const proj = join(dir, 'proj')
    await mkdir(proj)
    const deps = Object.entries(dependencies)
      .map(([name, constraint]) => `${JSON.stringify(name)} = ${JSON.stringify(constraint)}\n`)
      .join('')
    await writeFile(
      join(proj, 'pyproject.toml'),
      `[tool.poetry]
name = "mx-poetry-probe-${label}"
version = "0.0.0"
description = "client matrix probe"
authors = ["eggserve tests <tests@example.invalid>"]

[tool.poetry.dependencies]
python = ">=${this.po.pythonMinor},<4"
${deps}
[[tool.poetry.source]]
name = "eggserve"
url = "${served.index}"
default = true
`,
    )
    return { dir, proj }
  }

  /** `poetry ARGS` in the project, with a cache of its own (a fresh one re-downloads everything). */
  async poetry(project: Project, args: readonly string[], cache: string): Promise<CommandResult> {
    const home = join(project.dir, 'home')
    const env = await cleanEnv(home, {
      POETRY_CONFIG_DIR: join(home, 'poetry-config'),
      POETRY_CACHE_DIR: join(home, cache),
      POETRY_VIRTUALENVS_IN_PROJECT: 'true',
      POETRY_NO_INTERACTION: '1',
    })
    return runCommand(this.po.poetry, ['--no-ansi', '-n', ...args], {
      env,
      cwd: project.proj,
      timeoutMs: this.ctx.timeoutMs,
    })
  }

  /** The project's install succeeded and imports `expected` from its .venv. */
  async expectInstalled(
    project: Project,
    result: CommandResult,
    expected: Readonly<Record<string, ModuleExpectation>>,
  ): Promise<string> {
    ensure(result.code === 0, `${result.command} failed: ${lastError(result)}\n${describeResult(result)}`)
    const venv = join(project.proj, '.venv')
    const env = await cleanEnv(join(project.dir, 'home'))
    const probe = await probeModules(
      { file: join(venv, 'bin', 'python'), args: [], env, cwd: project.proj, timeoutMs: this.ctx.timeoutMs },
      venv,
      expected,
    )
    ensure(probe.problems.length === 0, `${probe.problems.join('; ')}\n${describeResult(result)}`)
    return describeExpected(expected)
  }

  /** poetry.lock as "name version" → filename → sha256. */
  async lockedFiles(project: Project): Promise<Map<string, Map<string, string>>> {
    const lock = (await readToml(this.po.python3, join(project.proj, 'poetry.lock'), this.ctx.timeoutMs)) as {
      package?: { name: string; version: string; files?: { file: string; hash: string }[] }[]
    }
    const locked = new Map<string, Map<string, string>>()
    for (const entry of lock.package ?? []) {
      locked.set(
        `${entry.name} ${entry.version}`,
        new Map((entry.files ?? []).map((file) => [file.file, file.hash.replace(/^sha256:/, '')])),
      )
    }
    return locked
  }
}
