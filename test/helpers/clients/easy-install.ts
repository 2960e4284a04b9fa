// easy_install (setuptools' own installer, removed in setuptools 80.3) from the setuptools that
// ensurepip bundles with Python 3.7 (47.1.0) and 2.7 (41.2.0). Each run installs into a fresh
// --install-dir that is on PYTHONPATH; setuptools of these ages writes a site.py there that
// processes its easy-install.pth, so the eggs it installs import from that folder alone.
import { mkdir } from 'node:fs/promises'
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
import { cleanEnv, pyenvPython, systemExecutable } from './environment.js'
import { clientMissing, notApplicable, record, runCheck } from './matrix.js'
import { describeResult, lastError, runCommand, type CommandResult } from './process.js'
import { describeExpected, probeModules, type ModuleExpectation } from './probe.js'
import { formatRequests, lastSegment, mark, requestsSince } from './server-requests.js'

/** One easy_install of the matrix. */
export interface EasyInstallSpec {
  readonly id: string
  /** pyenv version prefix, e.g. '3.7'. */
  readonly python: string
}

/** The easy_installs of the matrix. */
export const EASY_INSTALL_CLIENTS: readonly EasyInstallSpec[] = [
  { id: 'easy_install-py3.7', python: '3.7' },
  { id: 'easy_install-py2.7', python: '2.7' },
]

/** Where one easy_install run installs, and how to run and probe it. */
interface InstallTarget {
  readonly python: string
  /** Options that choose the install location. */
  readonly args: readonly string[]
  /** Extra environment for the run and the probe (PYTHONPATH for an --install-dir). */
  readonly env: Readonly<Record<string, string>>
  /** Imports must come from under here. */
  readonly root: string
}

interface EasyEnv {
  /** e.g. '3.7', the egg tag of this Python. */
  readonly pyTag: string
  /** Prepare a fresh install location inside `dir`. */
  target(dir: string): Promise<InstallTarget>
}

async function setUp(t: TestContext, ctx: MatrixContext, spec: EasyInstallSpec): Promise<EasyEnv | undefined> {
  const found = pyenvPython(ctx.pyenvVersions, spec.python)
  if (found === undefined) {
    clientMissing(t, { client: spec.id, label: 'easy_install' }, `no Python ${spec.python} under ${ctx.pyenvVersions}`)
    return undefined
  }
  const dir = await scratchDir(ctx, `${spec.id}-env`)
  const env = await cleanEnv(join(dir, 'home'))
  const setup = async (file: string, args: readonly string[]): Promise<void> => {
    const result = await runCommand(file, args, { env, cwd: dir, timeoutMs: ctx.timeoutMs })
    if (result.code !== 0) throw new Error(`setting up ${spec.id} failed:\n${describeResult(result)}`)
  }
  let note = ''
  let python: string
  let target: (runDir: string) => Promise<InstallTarget>
  const virtualenv = systemExecutable('virtualenv')
  if (spec.python.startsWith('2.') && virtualenv !== undefined) {
    // As for pip on 2.7: an empty virtualenv, then the interpreter's own ensurepip (setuptools
    // 41.2.0). A fresh one per run, installed into directly: the site.py that easy_install
    // writes into an --install-dir would shadow virtualenv's own and break its start-up.
    const fresh = async (venv: string): Promise<string> => {
      await setup(virtualenv, ['--no-seed', '--no-periodic-update', '-p', found.python, venv])
      const venvPython = join(venv, 'bin', 'python')
      await setup(venvPython, ['-m', 'ensurepip'])
      return venvPython
    }
    python = await fresh(join(dir, 'venv'))
    note = 'a fresh virtualenv (--no-seed + ensurepip) per run'
    target = async (runDir) => {
      const venv = join(runDir, 'venv')
      return { python: await fresh(venv), args: [], env: {}, root: venv }
    }
  } else {
    // A venv made once (ensurepip's setuptools); each run installs into a fresh --install-dir
    // on PYTHONPATH, where setuptools writes a site.py that processes its easy-install.pth.
    if (spec.python.startsWith('2.')) {
      python = found.python
      note = "no virtualenv on this machine: the base interpreter's setuptools, installing into --install-dir folders"
    } else {
      await setup(found.python, ['-m', 'venv', join(dir, 'venv')])
      python = join(dir, 'venv', 'bin', 'python')
    }
    target = async (runDir) => {
      const installDir = join(runDir, 'site')
      // setuptools 41 refuses an install dir that does not exist yet.
      await mkdir(installDir, { recursive: true })
      return {
        python,
        args: ['--install-dir', installDir, '--script-dir', join(installDir, 'bin')],
        env: { PYTHONPATH: installDir },
        root: installDir,
      }
    }
  }
  const probe = await runCommand(
    python,
    ['-c', 'import setuptools, setuptools.command.easy_install; print(setuptools.__version__)'],
    { env, cwd: dir, timeoutMs: ctx.timeoutMs },
  )
  const version = probe.stdout.trim()
  if (probe.code !== 0 || version === '') {
    clientMissing(
      t,
      { client: spec.id, label: 'easy_install', python: `CPython ${found.version}` },
      `no easy_install in the setuptools of Python ${found.version}: ${lastError(probe)}`,
    )
    return undefined
  }
  record({
    type: 'client',
    client: spec.id,
    label: `easy_install (setuptools ${version})`,
    python: `CPython ${found.version}`,
    found: true,
    ...(note === '' ? {} : { note }),
  })
  t.diagnostic(`${spec.id}: setuptools ${version} on CPython ${found.version}${note === '' ? '' : ` (${note})`}`)
  return { pyTag: found.version.split('.').slice(0, 2).join('.'), target }
}

/** Run every check of one easy_install against a server of its own. */
export async function easyInstallGroup(t: TestContext, ctx: MatrixContext, spec: EasyInstallSpec): Promise<void> {
  const ei = await setUp(t, ctx, spec)
  if (ei === undefined) return
  const served = await startGroupServer(t, ctx)
  const client = spec.id
  const install = (
    label: string,
    requirements: readonly string[],
    expected: Readonly<Record<string, ModuleExpectation>>,
  ): Promise<string> => easyInstall(ctx, ei, served, { label, requirements, expected })

  await notApplicable(
    t,
    client,
    'isolated',
    'easy_install reads no pip configuration (its own ~/.pydistutils.cfg is in the fresh HOME)',
  )
  await runCheck(t, client, 'install-latest', () =>
    install('latest', ['mx-core'], { [MODULES.core]: { version: '1.1', kind: 'wheel' } }),
  )
  await runCheck(t, client, 'install-pinned', () =>
    install('pinned', ['mx-core==1.0'], { [MODULES.core]: { version: '1.0', kind: 'wheel' } }),
  )
  await runCheck(t, client, 'deps-normalized', async () => {
    const since = mark(served.server)
    // Pinned to 0.1: easy_install keys projects by pkg_resources' safe_name, which keeps dots
    // ("mx.mixed-name"), so it never matches the normalized file names of 0.2
    // (mx_mixed_name-0.2-…), only 0.1's "Mx.Mixed_Name-0.1…". A client quirk, not the server's.
    const note = await install('deps', ['Mx.Mixed_Name==0.1'], {
      [MODULES.mixed]: { version: '0.1', kind: 'wheel', core: '1.1' },
      [MODULES.core]: { version: '1.1', kind: 'wheel' },
    })
    // easy_install asks for the raw spelling first: only the PEP 503 redirect gets it to the page.
    const seen = await requestsSince(served.server, since)
    const lines = seen.map((r) => `${r.method} ${r.url} ${r.status}`)
    for (const expected of [
      'GET /simple/Mx.Mixed_Name/ 301',
      'GET /simple/MX_Core/ 301',
      'GET /simple/mx-mixed-name/ 200',
      'GET /simple/mx-core/ 200',
    ]) {
      ensure(lines.includes(expected), `the server did not log "${expected}":\n${lines.join('\n')}`)
    }
    return `${note}; followed 301s from /simple/Mx.Mixed_Name/ and /simple/MX_Core/`
  })
  await runCheck(t, client, 'sdist', () =>
    install('sdist', ['mx-build'], { [MODULES.build]: { version: '1.0', kind: 'sdist' } }),
  )
  await notApplicable(
    t,
    client,
    'hashes',
    "easy_install has no hash pinning; it checks the page's #md5=/#sha256= fragment (see tamper caught)",
  )
  await runCheck(t, client, 'tamper-detected', async () => {
    const file = ctx.fixture.release('mx-tamper', '1.0')[0]
    ensure(file !== undefined, 'no mx-tamper file')
    const since = mark(served.server)
    served.proxy.arm([file.filename])
    let result: CommandResult
    try {
      result = (
        await easyInstallCommand(ctx, ei, {
          dir: await scratchDir(ctx, 'ei-tamper'),
          requirements: ['mx-tamper'],
          index: served.index,
        })
      ).result
    } finally {
      served.proxy.disarm()
    }
    ensure(
      result.code !== 0,
      `easy_install installed a file whose bytes were changed on the wire:\n${describeResult(result)}`,
    )
    const text = `${result.stdout}\n${result.stderr}`
    ensure(
      text.includes('validation failed for'),
      `easy_install failed, but not with a digest mismatch: ${lastError(result)}\n${describeResult(result)}`,
    )
    const seen = await requestsSince(served.server, since)
    ensure(
      seen.some((r) => r.status === 200 && lastSegment(r.url) === file.filename),
      `the server did not serve ${file.filename}:\n${formatRequests(seen)}`,
    )
    return /(\w+) validation failed/.exec(text)?.[0] ?? 'validation failed'
  })
  await notApplicable(t, client, 'requires-python', 'easy_install ignores Requires-Python')
  await notApplicable(t, client, 'yank-skipped', 'easy_install predates PEP 592')
  await notApplicable(t, client, 'yank-pinned', 'easy_install predates PEP 592')
  await notApplicable(t, client, 'pep658', 'easy_install predates PEP 658')
  await runCheck(t, client, 'egg', () =>
    install('egg', ['mx-egg'], {
      [MODULES.egg]: { version: '1.0', kind: 'egg', fileIncludes: `mx_egg-1.0-py${ei.pyTag}.egg` },
    }),
  )
  await notApplicable(t, client, 'md5-anchors', 'poetry only')
  await negotiationCheck(t, client, [served], 'html', 'easy_install sends no Accept header (urllib)')
  await serverCleanCheck(t, client, [served.server])
}

interface EasyRun {
  /** Fresh folder of this run: HOME, the working directory and the install location live in it. */
  readonly dir: string
  readonly requirements: readonly string[]
  readonly index: string
}

/** `python -m easy_install` into a fresh location; resolves with the result and that location. */
async function easyInstallCommand(
  ctx: MatrixContext,
  ei: EasyEnv,
  run: EasyRun,
): Promise<{ result: CommandResult; target: InstallTarget }> {
  const target = await ei.target(run.dir)
  const env = await cleanEnv(join(run.dir, 'home'), target.env)
  const result = await runCommand(
    target.python,
    [
      '-m',
      'easy_install',
      '--index-url',
      run.index,
      // Only the loopback server: never follow links to anywhere else.
      '--allow-hosts',
      new URL(run.index).host,
      ...target.args,
      ...run.requirements,
    ],
    { env, cwd: run.dir, timeoutMs: ctx.timeoutMs },
  )
  return { result, target }
}

/** Install, then import `expected` from the fresh location. */
async function easyInstall(
  ctx: MatrixContext,
  ei: EasyEnv,
  served: GroupServer,
  run: { label: string; requirements: readonly string[]; expected: Readonly<Record<string, ModuleExpectation>> },
): Promise<string> {
  const dir = await scratchDir(ctx, `ei-${run.label}`)
  const { result, target } = await easyInstallCommand(ctx, ei, {
    dir,
    requirements: run.requirements,
    index: served.index,
  })
  ensure(
    result.code === 0,
    `easy_install ${run.requirements.join(' ')} failed: ${lastError(result)}\n${describeResult(result)}`,
  )
  const env = await cleanEnv(join(dir, 'home'), target.env)
  const probe = await probeModules(
    { file: target.python, args: [], env, cwd: dir, timeoutMs: ctx.timeoutMs },
    target.root,
    run.expected,
  )
  ensure(probe.problems.length === 0, `${probe.problems.join('; ')}\n${describeResult(result)}`)
  return describeExpected(run.expected)
}
