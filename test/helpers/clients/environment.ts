// Where the clients live on this machine, and the configuration-free environment each runs in.
// This machine configures pip in several places (PIP_FIND_LINKS in the environment,
// find-links/extra-index-url in ~/.config/pip/pip.conf, a constraint file in
// /etc/xdg/pip/pip.conf): any of them would let a client find packages without our server.
import { readdirSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { findExecutable } from '../tools.js'
import { runCommand } from './process.js'

/** The distribution's own tools (poetry, pdm, virtualenv, python3), without pyenv's shims in front. */
export const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin'

/** An executable from {@link SYSTEM_PATH}, or undefined. */
export function systemExecutable(name: string): string | undefined {
  for (const dir of SYSTEM_PATH.split(':')) {
    const found = findExecutable(join(dir, name))
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * A fresh environment for one client run, built from scratch rather than filtered from ours:
 * no PIP_*, PYTHON*, POETRY_*, PDM_* or VIRTUAL_ENV leak in; PIP_CONFIG_FILE=/dev/null makes
 * pip load no configuration file at all (not even the global ones --isolated still reads);
 * HOME, XDG dirs, TMPDIR and caches live under `home`, so no user configuration, cache or
 * keyring is found. PATH is the system's, so no pyenv shim picks an interpreter.
 */
export async function cleanEnv(home: string, extra: Readonly<Record<string, string>> = {}): Promise<NodeJS.ProcessEnv> {
  for (const dir of ['.config', '.cache', join('.local', 'share'), 'tmp'])
    await mkdir(join(home, dir), { recursive: true })
  return {
    PATH: SYSTEM_PATH,
    HOME: home,
    TMPDIR: join(home, 'tmp'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    PIP_CONFIG_FILE: '/dev/null',
    PYTHONNOUSERSITE: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
    NO_COLOR: '1',
    ...extra,
  }
}

/**
 * The folder holding pyenv's Pythons: EGGSERVE_PYENV_VERSIONS, else $PYENV_ROOT/versions,
 * else `pyenv root`/versions, else /root/.pyenv/versions.
 */
export async function pyenvVersionsDir(): Promise<string> {
  const explicit = process.env.EGGSERVE_PYENV_VERSIONS
  if (explicit !== undefined && explicit !== '') return explicit
  const root = process.env.PYENV_ROOT
  if (root !== undefined && root !== '') return join(root, 'versions')
  const pyenv = findExecutable('pyenv')
  if (pyenv !== undefined) {
    const result = await runCommand(pyenv, ['root'], { env: process.env, cwd: '/', timeoutMs: 20_000 })
    const printed = result.stdout.trim()
    if (result.code === 0 && printed !== '') return join(printed, 'versions')
  }
  return '/root/.pyenv/versions'
}

/** The interpreter of the newest installed version starting with `prefix` ('3.6' matches 3.6.15, not 3.60). */
export function pyenvPython(versionsDir: string, prefix: string): { python: string; version: string } | undefined {
  let names: string[]
  try {
    names = readdirSync(versionsDir)
  } catch {
    return undefined
  }
  const matching = names
    .filter((name) => name === prefix || name.startsWith(`${prefix}.`))
    .filter((name) => /^\d+(\.\d+)*$/.test(name))
  matching.sort((a, b) => compareVersions(b, a))
  for (const name of matching) {
    const python = findExecutable(join(versionsDir, name, 'bin', 'python'))
    if (python !== undefined) return { python, version: name }
  }
  return undefined
}

/** Numeric comparison of dotted release numbers ('22.0.4' < '22.3'). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((part) => Number.parseInt(part, 10))
  const pb = b.split('.').map((part) => Number.parseInt(part, 10))
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0
    const y = pb[i] ?? 0
    if (Number.isNaN(x) || Number.isNaN(y)) return 0
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

/** True when `version` is at least `minimum`. */
export function atLeast(version: string, minimum: string): boolean {
  return compareVersions(version, minimum) >= 0
}
