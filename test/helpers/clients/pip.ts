// pip, each version in an environment of its own: the pip bundled with each pyenv Python (a
// venv made by ensurepip, nothing downloaded), Python 2.7 in a virtualenv seeded by its own
// ensurepip, and the newest pip the machine's mirror offers. Every install goes to a fresh
// --target folder and is checked by importing from there.
import { createHash } from 'node:crypto'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { LONG_PROJECT, MODULES, YANK_REASON } from '../matrix-fixture.js'
import { httpGet } from '../spawn-server.js'
import { pipRunFlags } from '../python.js'
import {
  ensure,
  negotiationCheck,
  scratchDir,
  serverCleanCheck,
  startGroupServer,
  type GroupServer,
  type MatrixContext,
} from './context.js'
import { atLeast, cleanEnv, pyenvPython, systemExecutable } from './environment.js'
import { clientMissing, notApplicable, record, runCheck } from './matrix.js'
import { describeResult, lastError, runCommand, type CommandResult } from './process.js'
import { describeExpected, probeModules, type ModuleExpectation } from './probe.js'
import { formatRequests, lastSegment, mark, requestsSince, type LoggedRequest } from './server-requests.js'
import { tamperBytes } from './tamper-proxy.js'

/** One pip of the matrix. */
export interface PipClientSpec {
  /** e.g. 'pip-py3.6'. */
  readonly id: string
  /** pyenv version prefix of the interpreter. */
  readonly python: string
  /** The pip the interpreter bundles (documentation; a different one is reported, not failed). */
  readonly bundled?: string
  /** Upgrade to the newest pip the machine's package mirror offers (setup only). */
  readonly newest?: boolean
}

/** The pips of the matrix (the Python of the newest pip: EGGSERVE_MATRIX_NEWEST_PYTHON, default 3.12). */
export const PIP_CLIENTS: readonly PipClientSpec[] = [
  { id: 'pip-py3.6', python: '3.6', bundled: '18.1' },
  { id: 'pip-py2.7', python: '2.7', bundled: '19.2.3' },
  { id: 'pip-py3.7', python: '3.7', bundled: '22.0.4' },
  { id: 'pip-py3.11', python: '3.11', bundled: '23.2.1' },
  { id: 'pip-py3.13', python: '3.13', bundled: '24.2' },
  { id: 'pip-newest', python: process.env.EGGSERVE_MATRIX_NEWEST_PYTHON ?? '3.12', newest: true },
]

// Before the subcommand: no configuration files, no cache, no version check, never prompt.
const PIP_GLOBAL = ['--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-input']
const PIP_RUN = pipRunFlags()

interface PipEnv {
  /** The environment's interpreter. */
  readonly python: string
  /** pip's version, e.g. '18.1'. */
  readonly version: string
}

/** Create the client's environment once; undefined when the client is missing (skipped or failed). */
async function setUp(t: TestContext, ctx: MatrixContext, spec: PipClientSpec): Promise<PipEnv | undefined> {
  const found = pyenvPython(ctx.pyenvVersions, spec.python)
  const label = spec.newest === true ? 'pip (newest)' : `pip ${spec.bundled ?? ''}`
  if (found === undefined) {
    clientMissing(t, { client: spec.id, label }, `no Python ${spec.python} under ${ctx.pyenvVersions}`)
    return undefined
  }
  const dir = await scratchDir(ctx, `${spec.id}-env`)
  const env = await cleanEnv(join(dir, 'home'))
  const venv = join(dir, 'venv')
  const notes: string[] = []
  let python = join(venv, 'bin', 'python')
  const setup = async (file: string, args: readonly string[], environment: NodeJS.ProcessEnv = env): Promise<void> => {
    const result = await runCommand(file, args, { env: environment, cwd: dir, timeoutMs: ctx.timeoutMs })
    if (result.code !== 0) throw new Error(`setting up ${spec.id} failed:\n${describeResult(result)}`)
  }
  if (spec.python.startsWith('2.')) {
    // Python 2.7 has no venv module. Debian's virtualenv can still make a 2.7 environment;
    // --no-seed leaves pip out, and the interpreter's own ensurepip then installs the pip
    // and setuptools bundled with it (19.2.3, 41.2.0), offline.
    const virtualenv = systemExecutable('virtualenv')
    if (virtualenv === undefined) {
      // No virtualenv: use the interpreter itself. Installs still go to --target folders only.
      python = found.python
      notes.push('no virtualenv on this machine: pip of the base interpreter, installs into --target folders')
    } else {
      await setup(virtualenv, ['--no-seed', '--no-periodic-update', '-p', found.python, venv])
      await setup(python, ['-m', 'ensurepip'])
      notes.push('virtualenv --no-seed + ensurepip')
    }
  } else {
    await setup(found.python, ['-m', 'venv', venv])
  }
  if (spec.newest === true) {
    // Setup only, and the one place the machine's own pip configuration (its package mirror)
    // is wanted: every client run afterwards is isolated from it.
    await setup(python, ['-m', 'pip', 'install', '--retries', '0', '--timeout', '20', '--upgrade', 'pip'], process.env)
    notes.push("upgraded with the machine's pip configuration")
  }
  const probe = await runCommand(python, ['-m', 'pip', '--version'], { env, cwd: dir, timeoutMs: ctx.timeoutMs })
  const version = /^pip (\S+) /.exec(probe.stdout)?.[1]
  if (probe.code !== 0 || version === undefined)
    throw new Error(`cannot run pip of ${spec.id}:\n${describeResult(probe)}`)
  if (spec.bundled !== undefined && version !== spec.bundled) notes.push(`expected the bundled pip ${spec.bundled}`)
  record({
    type: 'client',
    client: spec.id,
    label: `pip ${version}`,
    python: `CPython ${found.version}`,
    found: true,
    ...(notes.length === 0 ? {} : { note: notes.join('; ') }),
  })
  t.diagnostic(
    `${spec.id}: pip ${version} on CPython ${found.version}${notes.length === 0 ? '' : ` (${notes.join('; ')})`}`,
  )
  return { python, version }
}

/** Run every check of one pip against a server of its own. */
export async function pipGroup(t: TestContext, ctx: MatrixContext, spec: PipClientSpec): Promise<void> {
  const pip = await setUp(t, ctx, spec)
  if (pip === undefined) return
  const served = await startGroupServer(t, ctx)
  const client = spec.id
  const run = new PipRunner(ctx, pip, served)
  const fixture = ctx.fixture
  const v = pip.version

  await runCheck(t, client, 'isolated', () => run.isolationControl())
  await runCheck(t, client, 'install-latest', () =>
    run.install('latest', ['mx-core'], { [MODULES.core]: { version: '1.1', kind: 'wheel' } }),
  )
  await runCheck(t, client, 'install-pinned', () =>
    run.install('pinned', ['mx-core==1.0'], { [MODULES.core]: { version: '1.0', kind: 'wheel' } }),
  )
  await runCheck(t, client, 'deps-normalized', async () => {
    const since = mark(served.server)
    const note = await run.install('deps', ['Mx.Mixed_Name'], {
      [MODULES.mixed]: { version: '0.2', kind: 'wheel', core: '1.1' },
      [MODULES.core]: { version: '1.1', kind: 'wheel' },
    })
    // pip normalizes both names itself (PEP 503), so it asks for the canonical pages directly.
    await expectRequests(served, since, ['GET /simple/mx-mixed-name/ 200', 'GET /simple/mx-core/ 200'])
    return note
  })
  // pip < 20 cannot build the in-tree PEP 517 backend (no backend-path; pip 18.1 even refuses
  // `requires = []`), so it gets the setup.py-only sdist.
  const legacyBuild = !atLeast(v, '20.0')
  await runCheck(t, client, 'sdist', async () => {
    const project = legacyBuild ? 'mx-legacy-build' : 'mx-build'
    const module = legacyBuild ? MODULES.legacyBuild : MODULES.build
    const file = fixture.release(project, '1.0')[0]
    ensure(file !== undefined, `no sdist of ${project}`)
    const since = mark(served.server)
    const note = await run.install('sdist', [project], { [module]: { version: '1.0', kind: 'sdist' } })
    await expectFileServed(served, since, file.filename)
    return `${project} (${legacyBuild ? 'setup.py only' : 'PEP 517 in-tree backend'}): ${note}`
  })
  await runCheck(t, client, 'hashes', () => run.requireHashes())
  await runCheck(t, client, 'tamper-detected', () => run.tamper())
  await runCheck(t, client, 'requires-python', async () => {
    const since = mark(served.server)
    const note = await run.install('pyreq', ['mx-pyreq'], { [MODULES.pyreq]: { version: '1.0' } })
    const seen = await requestsSince(served.server, since)
    const excluded = seen.filter((r) => lastSegment(r.url).startsWith('mx_pyreq-2.0'))
    ensure(
      excluded.length === 0,
      `pip requested files of mx-pyreq 2.0 (Requires-Python >=4), so the index page did not exclude them:\n${formatRequests(excluded)}`,
    )
    return `${note}; no request for any mx_pyreq-2.0 file`
  })
  const noYank = atLeast(v, '19.2') ? undefined : `pip ${v} predates PEP 592 (yanking, pip >= 19.2)`
  await runCheck(
    t,
    client,
    'yank-skipped',
    () => run.install('yank', ['mx-yank'], { [MODULES.yank]: { version: '1.0', kind: 'wheel' } }),
    noYank === undefined ? {} : { na: noYank },
  )
  await runCheck(
    t,
    client,
    'yank-pinned',
    async () => {
      const note = await run.install(
        'yankpin',
        ['mx-yank==2.0'],
        { [MODULES.yank]: { version: '2.0', kind: 'wheel' } },
        (result) => {
          const text = `${result.stdout}\n${result.stderr}`
          ensure(
            text.includes(`Reason for being yanked: ${YANK_REASON}`),
            `pip did not report the yank reason ${JSON.stringify(YANK_REASON)} (so it did not see 2.0 as yanked):\n${describeResult(result)}`,
          )
        },
      )
      return `${note}; pip printed the yank reason`
    },
    noYank === undefined ? {} : { na: noYank },
  )
  await runCheck(
    t,
    client,
    'pep658',
    () => run.pep658(),
    atLeast(v, '22.3') ? {} : { na: `pip ${v} predates PEP 658 support (pip >= 22.3)` },
  )
  await notApplicable(t, client, 'egg', 'pip ignores eggs')
  await notApplicable(t, client, 'md5-anchors', 'poetry only')
  // pip >= 22.2 asks for PEP 691 JSON first; older pips ask for text/html.
  await negotiationCheck(
    t,
    client,
    [served],
    atLeast(v, '22.2') ? 'json' : 'html',
    `pip ${v} ${atLeast(v, '22.2') ? 'prefers application/vnd.pypi.simple.v1+json' : 'asks for text/html'}`,
  )
  await serverCleanCheck(t, client, [served.server])
}

/** `GET /path status` lines the server must have logged since `since`. */
async function expectRequests(
  served: GroupServer,
  since: number,
  expected: readonly string[],
): Promise<LoggedRequest[]> {
  const seen = await requestsSince(served.server, since)
  const lines = seen.map((r) => `${r.method} ${r.url} ${r.status}`)
  const missing = expected.filter((entry) => !lines.includes(entry))
  ensure(missing.length === 0, `the server did not log ${missing.join(', ')}; it logged:\n${lines.join('\n')}`)
  return seen
}

/** The server must have logged a complete `GET …/<filename> 200` since `since` (matched on the last URL segment). */
export async function expectFileServed(served: GroupServer, since: number, filename: string): Promise<void> {
  const seen = await requestsSince(served.server, since)
  ensure(
    seen.some((r) => r.method === 'GET' && r.status === 200 && lastSegment(r.url) === filename),
    `the server did not log "GET …/${filename} 200"; it logged:\n${formatRequests(seen)}`,
  )
}

const hex = (algorithm: string, bytes: Buffer): string => createHash(algorithm).update(bytes).digest('hex')

/** The commands of one pip, each in a fresh folder. */
class PipRunner {
  private readonly ctx: MatrixContext
  private readonly pip: PipEnv
  private readonly served: GroupServer

  constructor(ctx: MatrixContext, pip: PipEnv, served: GroupServer) {
    this.ctx = ctx
    this.pip = pip
    this.served = served
  }

  private async pipCommand(dir: string, args: readonly string[]): Promise<CommandResult> {
    const env = await cleanEnv(join(dir, 'home'))
    return runCommand(this.pip.python, ['-m', 'pip', ...PIP_GLOBAL, ...args], {
      env,
      cwd: dir,
      timeoutMs: this.ctx.timeoutMs,
    })
  }

  /** `pip install --target` into a fresh folder, then import `expected` from there. */
  async install(
    label: string,
    requirements: readonly string[],
    expected: Readonly<Record<string, ModuleExpectation>>,
    inspect?: (result: CommandResult) => void,
  ): Promise<string> {
    const dir = await scratchDir(this.ctx, `pip-${label}`)
    const target = join(dir, 'target')
    const result = await this.pipCommand(dir, [
      'install',
      ...PIP_RUN,
      '--index-url',
      this.served.index,
      '--target',
      target,
      ...requirements,
    ])
    ensure(
      result.code === 0,
      `pip install ${requirements.join(' ')} failed: ${lastError(result)}\n${describeResult(result)}`,
    )
    inspect?.(result)
    const env = await cleanEnv(join(dir, 'home'), { PYTHONPATH: target })
    const probe = await probeModules(
      { file: this.pip.python, args: [], env, cwd: dir, timeoutMs: this.ctx.timeoutMs },
      target,
      expected,
    )
    ensure(probe.problems.length === 0, `${probe.problems.join('; ')}\n${describeResult(result)}`)
    return describeExpected(expected)
  }

  /** With the only index on a closed port, nothing may be found (six sits in this machine's mirrors). */
  async isolationControl(): Promise<string> {
    const dir = await scratchDir(this.ctx, 'pip-isolated')
    const dest = join(dir, 'dl')
    const result = await this.pipCommand(dir, [
      'download',
      ...PIP_RUN,
      '--no-deps',
      '-d',
      dest,
      '--index-url',
      'http://127.0.0.1:9/simple/',
      'six',
    ])
    const got = await readdir(dest).catch(() => [])
    ensure(
      result.code !== 0 && got.length === 0,
      `pip found "six" with no reachable index: configuration leaked into the client run\n${describeResult(result)}`,
    )
    return 'nothing found with the index on a closed port'
  }

  /** --require-hashes with the fixture's sha256 of both files of mx-core 1.1. */
  async requireHashes(): Promise<string> {
    const files = this.ctx.fixture.release('mx-core', '1.1')
    ensure(files.length === 2, 'mx-core 1.1 should have a wheel and an sdist')
    const dir = await scratchDir(this.ctx, 'pip-hashes')
    const requirements = join(dir, 'requirements.txt')
    await writeFile(requirements, `mx-core==1.1 ${files.map((file) => `--hash=sha256:${file.sha256}`).join(' ')}\n`)
    return this.install('hashes-install', ['--require-hashes', '--no-deps', '-r', requirements], {
      [MODULES.core]: { version: '1.1', kind: 'wheel' },
    })
  }

  /** A byte of mx-tamper's wheel flipped on the wire: pip must refuse it by the page's digest alone. */
  async tamper(): Promise<string> {
    const file = this.ctx.fixture.release('mx-tamper', '1.0')[0]
    ensure(file !== undefined, 'no mx-tamper file')
    const tampered = tamperBytes(file.bytes)
    const dir = await scratchDir(this.ctx, 'pip-tamper')
    const since = mark(this.served.server)
    this.served.proxy.arm([file.filename])
    let result: CommandResult
    try {
      result = await this.pipCommand(dir, [
        'install',
        ...PIP_RUN,
        '--index-url',
        this.served.index,
        '--target',
        join(dir, 'target'),
        '--no-deps',
        'mx-tamper',
      ])
    } finally {
      this.served.proxy.disarm()
    }
    const text = `${result.stdout}\n${result.stderr}`
    ensure(result.code !== 0, `pip installed a wheel whose bytes were changed on the wire:\n${describeResult(result)}`)
    ensure(
      text.includes('DO NOT MATCH THE HASHES'),
      `pip failed, but not with a hash mismatch: ${lastError(result)}\n${describeResult(result)}`,
    )
    // pip names the digest it expected (from the page) and the one it computed (of the changed bytes).
    const algorithm = ['sha256', 'md5', 'sha384', 'sha512'].find((name) => text.includes(hex(name, tampered)))
    ensure(
      algorithm !== undefined,
      `pip's "Got" digest is not the digest of the tampered bytes:\n${describeResult(result)}`,
    )
    ensure(
      text.includes(hex(algorithm, file.bytes)),
      `pip's "Expected" ${algorithm} is not the digest of the genuine file:\n${describeResult(result)}`,
    )
    // The genuine file left the server: the mismatch is the proxy's byte, not a server fault.
    await expectFileServed(this.served, since, file.filename)
    return `refused: expected ${algorithm} of the genuine file, got that of the tampered bytes`
  }

  /**
   * PEP 658: LONG_PROJECT 2.0 depends on mx-core>=99, which does not exist. pip (>= 22.3)
   * reads 2.0's metadata, backtracks and installs 1.0. With `.metadata` files it never needs
   * 2.0's wheel; without them it must download that wheel to read its METADATA. An honest
   * "resolved, not downloaded" case on every pip since 22.3 (`--dry-run` is not: before
   * pypa/pip#13482 it still downloaded the chosen wheels after resolving).
   */
  async pep658(): Promise<string> {
    const fixture = this.ctx.fixture
    const resolvedOnly = fixture.release(LONG_PROJECT, '2.0')[0]
    const chosen = fixture.release(LONG_PROJECT, '1.0')[0]
    ensure(
      resolvedOnly?.metadata !== undefined && chosen?.metadata !== undefined,
      'fixture wheels of the long project missing',
    )
    const since = mark(this.served.server)
    const note = await this.install('pep658', [LONG_PROJECT], { [MODULES.long]: { version: '1.0', kind: 'wheel' } })
    const seen = await requestsSince(this.served.server, since)
    const problems: string[] = []
    for (const wheel of [resolvedOnly, chosen]) {
      const metadata = seen.filter((r) => lastSegment(r.url) === `${wheel.filename}.metadata`)
      if (!metadata.some((r) => r.method === 'GET' && r.status === 200))
        problems.push(
          `no "GET …/${wheel.filename}.metadata 200" (${metadata.map((r) => `${r.method} ${r.status}`).join(', ') || 'not requested'})`,
        )
    }
    if (seen.some((r) => r.method === 'GET' && lastSegment(r.url) === resolvedOnly.filename))
      problems.push(`the wheel ${resolvedOnly.filename} was downloaded although its metadata was all pip needed`)
    ensure(problems.length === 0, `${problems.join('; ')}\nrequests:\n${formatRequests(seen)}`)
    // What pip hashed and read is the wheel's own METADATA, byte for byte (PEP 658: the file's exact core metadata).
    const metadataUrl = seen.find((r) => lastSegment(r.url) === `${resolvedOnly.filename}.metadata`)?.url ?? ''
    const served = await httpGet(`${this.served.server.url}${metadataUrl}`)
    ensure(
      served.status === 200 && served.body.equals(resolvedOnly.metadata),
      `GET ${metadataUrl} did not return the wheel's METADATA bytes (status ${served.status})`,
    )
    return `${note}; 2.0 resolved from its ${`${resolvedOnly.filename}.metadata`.length}-character .metadata segment and never downloaded`
  }
}
