// Builds tiny but real, installable Python distributions (wheel, sdist, egg) for tests and for
// the shipped examples. Deterministic: the same spec gives the same bytes on every machine
// (fixed timestamps and permissions, sorted members, no owner names; see dist-archives.ts).
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzip, sortEntries, withParentDirs, writeTar, writeZip, type ArchiveEntry } from './dist-archives.js'
import { BACKEND_MODULE, BACKEND_SOURCE, PYPROJECT_TOML, pythonString, setupPy } from './dist-backend.js'

/** What to build: one project release with a single import package. */
export interface DistSpec {
  /** Project name as the author writes it, e.g. 'Hx.Mixed_Name' or 'eggdemo'. */
  name: string
  version: string
  summary?: string
  /** Becomes Requires-Python in METADATA / PKG-INFO. */
  requiresPython?: string
  /** Becomes Requires-Dist lines (and requires.txt in eggs). */
  requiresDist?: string[]
  /** Import package name; default: the name lowercased with `-` and `.` turned into `_`. */
  module?: string
  /** Body of `<module>/__init__.py`; default sets `__version__`. */
  moduleSource?: string
  /** More core metadata header lines, verbatim (e.g. 'Project-URL: Docs, https://example.org/'). */
  metadataLines?: string[]
  /** The long description, written as the metadata's body (Metadata-Version 2.1). */
  description?: string
}

/** A built distribution file. */
export interface BuiltDist {
  filename: string
  bytes: Buffer
}

/** A wheel plus the exact bytes of its `.dist-info/METADATA`. */
export interface BuiltWheel extends BuiltDist {
  metadata: Buffer
}

/** An sdist plus the exact bytes of its top-level PKG-INFO. */
export interface BuiltSdist extends BuiltDist {
  pkgInfo: Buffer
}

/** An egg plus the exact bytes of its EGG-INFO/PKG-INFO. */
export interface BuiltEgg extends BuiltDist {
  pkgInfo: Buffer
}

/** Options for {@link buildWheel}. */
export interface WheelOptions {
  /** Python tag of the filename and WHEEL `Tag:` lines, e.g. 'py2.py3'; default 'py3'. */
  pythonTag?: string
  /** Optional build tag (PEP 427: must start with a digit; not checked, so tests can break it). */
  buildTag?: string
  /** Verbatim name part of the filename, for odd spellings; the .dist-info name stays escaped. */
  filenameName?: string
  /** METADATA bytes instead of the spec's (to make one that disagrees with the filename). */
  metadata?: Buffer
}

/** Options for {@link buildSdist}. */
export interface SdistOptions {
  /** Archive format; default 'tar.gz' (the only one PEP 625 allows; zip is legacy). */
  format?: 'tar.gz' | 'zip'
  /** Verbatim name part of the filename and top-level directory, e.g. 'python-dateutil'. */
  filenameName?: string
  /**
   * Leave out pyproject.toml and the in-tree backend: a setup.py-only sdist, as built before
   * PEP 517/518. pip 19.x (the last pip on Python 2.7 here) cannot build the default sdist,
   * because it lacks PEP 517 `backend-path`; it builds this one with setup.py.
   */
  legacy?: boolean
}

/** Options for {@link buildEgg}. */
export interface EggOptions {
  /** Python version the egg is for, e.g. '3.7' (setuptools only installs matching eggs). */
  pyVersion: string
  /** Platform suffix for non-pure eggs, e.g. 'linux-x86_64'; omitted for pure ones. */
  platform?: string
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8')

/** Runs of `-`, `_` and `.` become `_`, lowercased: the wheel and PEP 625 sdist filename form (PEP 427, PEP 491). */
export function escapeWheelName(name: string): string {
  return name.replace(/[-_.]+/g, '_').toLowerCase()
}

/** The import package a spec builds: `module`, else the name lowercased with `-`/`.` as `_`. */
export function moduleName(spec: DistSpec): string {
  const module = spec.module ?? spec.name.toLowerCase().replace(/[-.]/g, '_')
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(module))
    throw new Error(`not a Python identifier: ${module}; set DistSpec.module`)
  return module
}

/**
 * Core metadata (PKG-INFO / METADATA). Version 2.1 (PEP 566) because every pip and
 * setuptools in use reads it, and it is the version that first defined the fields used here.
 */
export function coreMetadata(spec: DistSpec): Buffer {
  const lines = [
    'Metadata-Version: 2.1',
    `Name: ${spec.name}`,
    `Version: ${spec.version}`,
    ...(spec.summary === undefined ? [] : [`Summary: ${spec.summary}`]),
    ...(spec.requiresPython === undefined ? [] : [`Requires-Python: ${spec.requiresPython}`]),
    ...(spec.requiresDist ?? []).map((requirement) => `Requires-Dist: ${requirement}`),
    ...(spec.metadataLines ?? []),
  ]
  return utf8(spec.description === undefined ? `${lines.join('\n')}\n` : `${lines.join('\n')}\n\n${spec.description}`)
}

function moduleInit(spec: DistSpec): Buffer {
  return utf8(spec.moduleSource ?? `__version__ = ${pythonString(spec.version)}\n`)
}

/** RECORD hash form (PEP 376 as amended by PEP 427): urlsafe base64 of the sha256 digest, no padding. */
export function recordHash(data: Buffer): string {
  return `sha256=${createHash('sha256').update(data).digest('base64url')}`
}

/** Builds `{name}-{version}(-{build})?-{pythonTag}-none-any.whl` (binary distribution format, PEP 427). */
export function buildWheel(spec: DistSpec, opts: WheelOptions = {}): BuiltWheel {
  const pythonTag = opts.pythonTag ?? 'py3'
  // PEP 427: '-' in the version would split the filename, so it becomes '_'.
  const version = spec.version.replace(/-/g, '_')
  const distInfo = `${escapeWheelName(spec.name)}-${version}.dist-info`
  const metadata = opts.metadata ?? coreMetadata(spec)
  const wheelLines = [
    'Wheel-Version: 1.0',
    'Generator: eggserve-test-helpers',
    'Root-Is-Purelib: true',
    // A compressed tag set such as py2.py3 expands to one Tag line per combination.
    ...pythonTag.split('.').map((tag) => `Tag: ${tag}-none-any`),
    ...(opts.buildTag === undefined ? [] : [`Build: ${opts.buildTag}`]),
  ]
  // PEP 427 recommends the .dist-info files at the end of the archive, RECORD last.
  const payload = sortEntries([{ path: `${moduleName(spec)}/__init__.py`, data: moduleInit(spec) }])
  const distInfoEntries = [
    { path: `${distInfo}/METADATA`, data: metadata },
    { path: `${distInfo}/WHEEL`, data: utf8(`${wheelLines.join('\n')}\n`) },
  ]
  const hashed = [...payload, ...distInfoEntries]
  const record =
    hashed.map((entry) => `${entry.path},${recordHash(entry.data)},${entry.data.length}\n`).join('') +
    `${distInfo}/RECORD,,\n` // RECORD cannot hash itself
  const entries = [...hashed, { path: `${distInfo}/RECORD`, data: utf8(record) }]
  const build = opts.buildTag === undefined ? '' : `-${opts.buildTag}`
  const filename = `${opts.filenameName ?? escapeWheelName(spec.name)}-${version}${build}-${pythonTag}-none-any.whl`
  return { filename, bytes: writeZip(entries), metadata }
}

/**
 * Builds `{name}-{version}.tar.gz` (or `.zip`) holding one `{name}-{version}/` directory with
 * PKG-INFO, pyproject.toml, setup.py, the in-tree build backend and the package, so that pip
 * can build it offline: PEP 517 with `backend-path` on pip >= 20, setup.py on older pips.
 * With `legacy`, only PKG-INFO, setup.py and the package.
 */
export function buildSdist(spec: DistSpec, opts: SdistOptions = {}): BuiltSdist {
  const format = opts.format ?? 'tar.gz'
  // PEP 625: the name part is normalized with '_' like a wheel's; legacy sdists spelled it freely.
  const base = `${opts.filenameName ?? escapeWheelName(spec.name)}-${spec.version}`
  const pkgInfo = coreMetadata(spec)
  const module = moduleName(spec)
  const files: ArchiveEntry[] = [
    { path: 'PKG-INFO', data: pkgInfo },
    ...(opts.legacy === true
      ? []
      : [
          { path: 'pyproject.toml', data: utf8(PYPROJECT_TOML) },
          { path: `${BACKEND_MODULE}.py`, data: utf8(BACKEND_SOURCE) },
        ]),
    {
      path: 'setup.py',
      data: utf8(
        setupPy({
          name: spec.name,
          version: spec.version,
          module,
          ...(spec.summary === undefined ? {} : { summary: spec.summary }),
          ...(spec.requiresPython === undefined ? {} : { requiresPython: spec.requiresPython }),
          ...(spec.requiresDist === undefined ? {} : { requiresDist: spec.requiresDist }),
        }),
      ),
    },
    { path: `${module}/__init__.py`, data: moduleInit(spec) },
  ]
  const entries = withParentDirs(files.map((file) => ({ path: `${base}/${file.path}`, data: file.data })))
  const bytes = format === 'zip' ? writeZip(entries) : gzip(writeTar(entries))
  return { filename: `${base}.${format}`, bytes, pkgInfo }
}

/**
 * setuptools' requires.txt: unconditional requirements first, then one `[:marker]` section per
 * environment marker (how bdist_egg records PEP 508 markers). Extras are not modelled.
 */
function requiresTxt(requirements: readonly string[]): string {
  const plain: string[] = []
  const byMarker = new Map<string, string[]>()
  for (const requirement of requirements) {
    const semicolon = requirement.indexOf(';')
    if (semicolon === -1) {
      plain.push(requirement.trim())
      continue
    }
    const marker = requirement.slice(semicolon + 1).trim()
    const list = byMarker.get(marker) ?? []
    list.push(requirement.slice(0, semicolon).trim())
    byMarker.set(marker, list)
  }
  const sections = [...byMarker.keys()]
    .sort()
    .map((marker) => `\n[:${marker}]\n${(byMarker.get(marker) ?? []).join('\n')}\n`)
  return `${plain.map((line) => `${line}\n`).join('')}${sections.join('')}`
}

/**
 * Builds a setuptools bdist_egg zip, `{name}-{version}-py{pyVersion}(-{platform})?.egg`, with
 * `-` in name and version turned into `_` as setuptools' to_filename() does.
 */
export function buildEgg(spec: DistSpec, opts: EggOptions): BuiltEgg {
  const module = moduleName(spec)
  const pkgInfo = coreMetadata(spec)
  const requires = spec.requiresDist ?? []
  const eggInfo: ArchiveEntry[] = [
    { path: 'PKG-INFO', data: pkgInfo },
    { path: 'top_level.txt', data: utf8(`${module}\n`) },
    { path: 'dependency_links.txt', data: utf8('\n') },
    // The marker easy_install looks for before installing the egg as a zip file.
    { path: 'zip-safe', data: utf8('\n') },
    ...(requires.length === 0 ? [] : [{ path: 'requires.txt', data: utf8(requiresTxt(requires)) }]),
  ]
  const eggInfoDir = `${spec.name.replace(/-/g, '_')}.egg-info`
  const sources = [
    'setup.py',
    `${module}/__init__.py`,
    ...[...eggInfo.map((entry) => entry.path), 'SOURCES.txt']
      .filter((path) => path !== 'zip-safe')
      .map((path) => `${eggInfoDir}/${path}`),
  ].sort()
  const entries = sortEntries([
    { path: `${module}/__init__.py`, data: moduleInit(spec) },
    ...eggInfo.map((entry) => ({ path: `EGG-INFO/${entry.path}`, data: entry.data })),
    { path: 'EGG-INFO/SOURCES.txt', data: utf8(`${sources.join('\n')}\n`) },
  ])
  const platform = opts.platform === undefined ? '' : `-${opts.platform}`
  const filename = `${spec.name.replace(/-/g, '_')}-${spec.version.replace(/-/g, '_')}-py${opts.pyVersion}${platform}.egg`
  return { filename, bytes: writeZip(entries), pkgInfo }
}

/** Writes `dir/filename` (creating `dir`) and returns that path. */
export async function writeDist(dir: string, dist: BuiltDist): Promise<string> {
  await mkdir(dir, { recursive: true })
  const path = join(dir, dist.filename)
  await writeFile(path, dist.bytes)
  return path
}
