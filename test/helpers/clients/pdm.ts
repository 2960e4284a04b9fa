// pdm (Debian's python3-pdm) with the index as its only source ("pypi", overridden).
// pdm 2.2 installs into __pypackages__ (PEP 582) with the system Python, reads the index
// through unearth (PEP 691 JSON when offered, else HTML), and records every file's URL and
// sha256 in pdm.lock.
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { MODULES } from '../matrix-fixture.js'
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
import { formatRequests, lastSegment, mark, requestsSince } from './server-requests.js'
import { tamperBytes } from './tamper-proxy.js'

interface PdmEnv {
  readonly pdm: string
  readonly python3: string
  readonly pythonMinor: string
}

interface Project {
  readonly dir: string
  readonly proj: string
  readonly index: string
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

async function setUp(t: TestContext, ctx: MatrixContext): Promise<PdmEnv | undefined> {
  const pdm = systemExecutable('pdm')
  const python3 = systemExecutable('python3')
  if (pdm === undefined || python3 === undefined) {
    clientMissing(t, { client: 'pdm', label: 'pdm' }, 'pdm not installed (apt-get install python3-pdm)')
    return undefined
  }
  const dir = await scratchDir(ctx, 'pdm-env')
  const env = await cleanEnv(join(dir, 'home'), { PDM_CHECK_UPDATE: 'false' })
  const version = await runCommand(pdm, ['--version'], { env, cwd: dir, timeoutMs: ctx.timeoutMs })
  const python = await runCommand(
    python3,
    ['-c', 'import sys; print("%d.%d %s" % (sys.version_info[0], sys.version_info[1], sys.version.split()[0]))'],
    { env, cwd: dir, timeoutMs: ctx.timeoutMs },
  )
  const found = /(\d+\.\d+(\.\d+)?)/.exec(version.stdout)?.[1]
  const [minor = '', full = ''] = python.stdout.trim().split(' ')
  if (version.code !== 0 || found === undefined || python.code !== 0)
    throw new Error(`cannot run pdm:\n${describeResult(version)}\n${describeResult(python)}`)
  record({ type: 'client', client: 'pdm', label: `pdm ${found}`, python: `CPython ${full} (Debian)`, found: true })
  t.diagnostic(`pdm: ${found} on CPython ${full}`)
  return { pdm, python3, pythonMinor: minor }
}

/** Run every check of pdm against a server of its own, with default settings. */
export async function pdmGroup(t: TestContext, ctx: MatrixContext): Promise<void> {
  const env = await setUp(t, ctx)
  if (env === undefined) return
  const served = await startGroupServer(t, ctx)
  const runner = new PdmRunner(ctx, env)
  const fixture = ctx.fixture
  const client = 'pdm'
  const tamperFile = fixture.release('mx-tamper', '1.0')[0]
  ensure(tamperFile !== undefined, 'no mx-tamper file')

  await notApplicable(
    t,
    client,
    'isolated',
    'pdm reads no pip configuration; its HOME is fresh and its only source is the index',
  )

  // Project 1: locked through the proxy (passing through), synced once with the tampered
  // file (must fail), then with a fresh cache (must succeed).
  const main = await runner.project('main', served, ['mx-core', 'Mx.Mixed_Name', 'mx-tamper'])
  const locked = await runner.pdm(main, ['lock'], 'cache-lock')
  await runCheck(t, client, 'hashes', async () => {
    ensure(locked.code === 0, `pdm lock failed: ${lastError(locked)}\n${describeResult(locked)}`)
    return compareLock(fixture, await runner.lockedFiles(main))
  })
  await runCheck(t, client, 'tamper-detected', async () => {
    ensure(locked.code === 0, `pdm lock failed: ${lastError(locked)}`)
    served.proxy.arm([tamperFile.filename])
    let result: CommandResult
    try {
      result = await runner.pdm(main, ['sync', '--no-self', '-v'], 'cache-tamper')
    } finally {
      served.proxy.disarm()
    }
    ensure(result.code !== 0, `pdm installed a file whose bytes were changed on the wire:\n${describeResult(result)}`)
    const text = `${result.stdout}\n${result.stderr}`
    ensure(
      /Hash mismatch/i.test(text) && text.includes(sha256(tamperBytes(tamperFile.bytes))),
      `pdm failed, but not with a hash mismatch naming the tampered bytes' sha256: ${lastError(result)}\n${describeResult(result)}`,
    )
    return 'refused: hash mismatch against the locked sha256'
  })
  const synced = await runner.pdm(main, ['sync', '--no-self'], 'cache-sync')
  await runCheck(t, client, 'install-latest', () =>
    runner.expectInstalled(main, synced, { [MODULES.core]: { version: '1.1', kind: 'wheel' } }),
  )
  await runCheck(t, client, 'deps-normalized', () =>
    runner.expectInstalled(main, synced, { [MODULES.mixed]: { version: '0.2', kind: 'wheel', core: '1.1' } }),
  )

  const pinned = await runner.project('pinned', served, ['mx-core==1.0'])
  const pinnedRun = await runner.pdm(pinned, ['install', '--no-self'], 'cache')
  await runCheck(t, client, 'install-pinned', () =>
    runner.expectInstalled(pinned, pinnedRun, { [MODULES.core]: { version: '1.0', kind: 'wheel' } }),
  )

  const since = mark(served.server)
  const choose = await runner.project('choose', served, ['mx-yank', 'mx-pyreq', 'mx-build'])
  const chooseRun = await runner.pdm(choose, ['install', '--no-self'], 'cache')
  const chooseRequests = await requestsSince(served.server, since)
  await runCheck(t, client, 'sdist', () =>
    runner.expectInstalled(choose, chooseRun, { [MODULES.build]: { version: '1.0', kind: 'sdist' } }),
  )
  await runCheck(t, client, 'requires-python', async () => {
    const note = await runner.expectInstalled(choose, chooseRun, { [MODULES.pyreq]: { version: '1.0' } })
    // unearth drops links whose data-requires-python / requires-python excludes the
    // interpreter before fetching anything: 2.0 must never be requested.
    const excluded = chooseRequests.filter((r) => lastSegment(r.url).startsWith('mx_pyreq-2.0'))
    ensure(
      excluded.length === 0,
      `pdm requested files of mx-pyreq 2.0 (Requires-Python >=4), so the index did not exclude them:\n${formatRequests(excluded)}`,
    )
    return `${note}; no request for any mx_pyreq-2.0 file`
  })
  await runCheck(t, client, 'yank-skipped', () =>
    runner.expectInstalled(choose, chooseRun, { [MODULES.yank]: { version: '1.0', kind: 'wheel' } }),
  )

  const yankPin = await runner.project('yankpin', served, ['mx-yank==2.0'])
  const yankPinRun = await runner.pdm(yankPin, ['install', '--no-self'], 'cache')
  await runCheck(
    t,
    client,
    'yank-pinned',
    () => runner.expectInstalled(yankPin, yankPinRun, { [MODULES.yank]: { version: '2.0', kind: 'wheel' } }),
    {
      knownIssue: {
        reason:
          'pdm 2.2.1 (unearth 0.7) never allows a yanked file, even for an exact == pin: "Unable to find a resolution for mx-yank"',
        expect: /Unable to find a resolution for mx-yank/,
      },
    },
  )
  await notApplicable(t, client, 'pep658', 'pdm 2.2 (unearth 0.7) does not use PEP 658 metadata')
  await notApplicable(t, client, 'egg', 'pdm ignores eggs')
  await notApplicable(t, client, 'md5-anchors', 'poetry only (pdm reads the JSON pages, which carry md5 and sha256)')
  await negotiationCheck(t, client, [served], 'json', 'pdm (unearth) prefers application/vnd.pypi.simple.v1+json')
  await serverCleanCheck(t, client, [served.server])
}

class PdmRunner {
  private readonly ctx: MatrixContext
  private readonly env: PdmEnv

  constructor(ctx: MatrixContext, env: PdmEnv) {
    this.ctx = ctx
    this.env = env
  }

  async project(label: string, served: GroupServer, dependencies: readonly string[]): Promise<Project> {
    const dir = await scratchDir(this.ctx, `pdm-${label}`)
    const proj = join(dir, 'proj')
    await mkdir(proj)
    await writeFile(
      join(proj, 'pyproject.toml'),
      `[project]
name = "mx-pdm-probe-${label}"
version = "0.0.0"
requires-python = ">=${this.env.pythonMinor}"
dependencies = [${dependencies.map((dep) => JSON.stringify(dep)).join(', ')}]

[[tool.pdm.source]]
name = "pypi"
url = "${served.index}"
verify_ssl = false
`,
    )
    const project = { dir, proj, index: served.index }
    const use = await this.pdm(project, ['use', '-f', this.env.python3], 'cache')
    if (use.code !== 0) throw new Error(`pdm use failed:\n${describeResult(use)}`)
    return project
  }

  private async environment(project: Project, cache: string): Promise<NodeJS.ProcessEnv> {
    const home = join(project.dir, 'home')
    // pdm 2.2 has no PDM_CACHE_DIR: its caches (HTTP and wheels) follow XDG_CACHE_HOME.
    return cleanEnv(home, { PDM_CHECK_UPDATE: 'false', XDG_CACHE_HOME: join(home, cache), PDM_PYPI_URL: project.index })
  }

  /** `pdm ARGS` in the project, with a cache of its own (a fresh one re-downloads everything). */
  async pdm(project: Project, args: readonly string[], cache: string): Promise<CommandResult> {
    return runCommand(this.env.pdm, args, {
      env: await this.environment(project, cache),
      cwd: project.proj,
      timeoutMs: this.ctx.timeoutMs,
    })
  }

  /** The project's install succeeded and `pdm run python` imports `expected` from __pypackages__. */
  async expectInstalled(
    project: Project,
    result: CommandResult,
    expected: Readonly<Record<string, ModuleExpectation>>,
  ): Promise<string> {
    ensure(result.code === 0, `${result.command} failed: ${lastError(result)}\n${describeResult(result)}`)
    const probe = await probeModules(
      {
        file: this.env.pdm,
        args: ['run', 'python'],
        env: await this.environment(project, 'cache'),
        cwd: project.proj,
        timeoutMs: this.ctx.timeoutMs,
      },
      join(project.proj, '__pypackages__'),
      expected,
    )
    ensure(probe.problems.length === 0, `${probe.problems.join('; ')}\n${describeResult(result)}`)
    return describeExpected(expected)
  }

  /** pdm.lock as "name version" → filename → sha256. */
  async lockedFiles(project: Project): Promise<Map<string, Map<string, string>>> {
    const lock = (await readToml(this.env.python3, join(project.proj, 'pdm.lock'), this.ctx.timeoutMs)) as {
      metadata?: { files?: Record<string, { url: string; hash: string }[]> }
    }
    const locked = new Map<string, Map<string, string>>()
    for (const [release, files] of Object.entries(lock.metadata?.files ?? {})) {
      locked.set(
        release,
        new Map(
          files.map((file) => [lastSegment(file.url.split('#')[0] ?? file.url), file.hash.replace(/^sha256:/, '')]),
        ),
      )
    }
    return locked
  }
}
