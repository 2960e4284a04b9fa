// A throw-away Python virtual environment whose pip sees nothing but the index a test names.
// This machine configures pip in several places (PIP_FIND_LINKS=/opt/wheels in the
// environment, find-links and extra-index-url in ~/.config/pip/pip.conf, a constraint file
// in /etc/xdg/pip/pip.conf): any of them would let pip find packages without our server.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { pyenvPython, pyenvVersionsDir } from './clients/environment.js'
import { runProcess, type RunResult } from './spawn-server.js'
import { tempDir } from './temp-tree.js'
import { needTool, skipOrFail } from './tools.js'

/** A venv ready for pip runs. */
export interface Venv {
  /** The venv's own python. */
  readonly python: string
  readonly dir: string
  /** The isolated environment every command of this venv runs with. */
  readonly env: NodeJS.ProcessEnv
  /**
   * `python -m pip ARGS` run isolated: --isolated, --no-cache-dir, --disable-pip-version-check,
   * --no-input, and the configuration-free environment. Add `--index-url` yourself.
   */
  pip(args: readonly string[], options?: { timeoutMs?: number }): Promise<RunResult>
  /** `python ARGS` with the isolated environment plus `env`. */
  run(
    args: readonly string[],
    options?: { env?: Readonly<Record<string, string>>; timeoutMs?: number },
  ): Promise<RunResult>
}

/**
 * An environment with no pip configuration at all, built from this process's environment:
 * every inherited PIP_* variable removed (PIP_FIND_LINKS would add a local mirror), every
 * PYTHON* variable removed (PYTHONPATH could import a module the test means to install),
 * PIP_CONFIG_FILE=/dev/null (pip then loads no configuration file, not even the global
 * ones that --isolated still reads), and HOME/XDG dirs in `home`, so no user configuration,
 * cache or keyring is found either.
 */
export function isolatedEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    // REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE would win over pip's --cert (requests reads them
    // whenever a request's own verify is unset: psf/requests#3829), so a test CA could not be used.
    if (name.startsWith('PIP_') || name.startsWith('PYTHON') || name.startsWith('EGGSERVE_') || name === 'VIRTUAL_ENV')
      continue
    if (name === 'REQUESTS_CA_BUNDLE' || name === 'CURL_CA_BUNDLE') continue
    env[name] = value
  }
  return {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    PIP_CONFIG_FILE: '/dev/null',
    PYTHONNOUSERSITE: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
    LC_ALL: 'C.UTF-8',
    NO_COLOR: '1',
  }
}

// Options that come before pip's subcommand. http://127.0.0.1 needs no --trusted-host: pip
// counts localhost and 127.0.0.0/8 among its secure origins (pip's SECURE_ORIGINS).
const PIP_GLOBAL_OPTIONS = ['--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-input']

/**
 * Find python3 (skipping the test when it is missing, failing under CI) and create a venv
 * with pip in a temporary directory removed after the test. Undefined when skipped.
 */
export async function createVenv(t: TestContext): Promise<Venv | undefined> {
  const python3 = needTool(t, 'python3')
  if (python3 === undefined) return undefined
  const root = await tempDir(t, 'eggserve-venv-')
  const home = join(root, 'home')
  await mkdir(join(home, '.config'), { recursive: true })
  const env = isolatedEnv(home)
  const dir = join(root, 'venv')
  // Resolve the real interpreter first, with the ordinary environment: python3 may be a shim
  // (pyenv) that needs variables the isolated environment drops.
  const probe = await runProcess(python3, ['-c', 'import sys; print(sys.executable)'], { timeoutMs: 60_000 })
  const interpreter = probe.code === 0 ? probe.stdout.trim() : ''
  // ensurepip installs the pip wheel bundled with Python: nothing is downloaded.
  const created =
    interpreter === '' ? probe : await runProcess(interpreter, ['-m', 'venv', dir], { env, timeoutMs: 120_000 })
  if (created.code !== 0 || interpreter === '') {
    const message = `cannot create a venv with ${python3} (is the venv/ensurepip module installed?): ${created.stderr.trim() || created.stdout.trim()}`
    skipOrFail(t, message)
    return undefined
  }
  const python = join(dir, 'bin', 'python')
  const run = (
    args: readonly string[],
    options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
  ): Promise<RunResult> =>
    runProcess(python, args, { env: { ...env, ...options.env }, cwd: root, timeoutMs: options.timeoutMs ?? 120_000 })
  return {
    python,
    dir,
    env,
    run,
    pip: (args, options = {}) => run(['-m', 'pip', ...PIP_GLOBAL_OPTIONS, ...args], options),
  }
}

/**
 * The pip bundled with pyenv's newest Python `prefix` (e.g. '2.7': pip 19.2.3; '3.13': 24.2),
 * run isolated as a venv's is, but without a venv (Python 2.7 has no venv module): the
 * interpreter is shared, so every install must go to a --target folder. Undefined when that
 * Python is missing (skipped, or failed under CI).
 */
export async function pyenvPip(
  t: TestContext,
  prefix: string,
): Promise<(Venv & { readonly version: string }) | undefined> {
  const found = pyenvPython(await pyenvVersionsDir(), prefix)
  const python = needTool(t, `python${prefix} (pyenv)`, found?.python)
  if (python === undefined || found === undefined) return undefined
  const root = await tempDir(t, 'eggserve-pyenv-pip-')
  const home = join(root, 'home')
  await mkdir(join(home, '.config'), { recursive: true })
  const env = isolatedEnv(home)
  const run = (
    args: readonly string[],
    options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
  ): Promise<RunResult> =>
    runProcess(python, args, { env: { ...env, ...options.env }, cwd: root, timeoutMs: options.timeoutMs ?? 120_000 })
  return {
    python,
    dir: root,
    env,
    run,
    pip: (args, options = {}) => run(['-m', 'pip', ...PIP_GLOBAL_OPTIONS, ...args], options),
    version: found.version,
  }
}

/**
 * Flags for a pip command run by a test (after the sub-command): a refused connection is final
 * (no retries), a silent server fails after `timeoutS` seconds, and no progress bar fills the log.
 */
export function pipRunFlags(timeoutS = 20): string[] {
  return ['--retries', '0', '--timeout', String(timeoutS), '--progress-bar', 'off']
}

/** `pip install --no-deps --require-hashes --target TARGET --index-url INDEX -r REQUIREMENTS`. */
export async function installHashed(
  venv: Venv,
  { index, requirements, target, timeoutS }: { index: string; requirements: string; target: string; timeoutS?: number },
): Promise<RunResult> {
  return venv.pip([
    'install',
    ...pipRunFlags(timeoutS),
    '--no-deps',
    '--require-hashes',
    '--target',
    target,
    '--index-url',
    index,
    '-r',
    requirements,
  ])
}

/** pip's output, both streams, for assertion messages. */
export function output(result: RunResult): string {
  return `exit ${String(result.code)}${result.timedOut ? ' (timed out)' : ''}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
}
