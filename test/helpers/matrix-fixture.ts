// The eggdir every client of the compatibility matrix installs from (test/e2e/client-matrix-*.test.ts).
// Built with the deterministic builders of distributions.ts, so every file's digest is known
// here, before any client or server sees it. Each import package records its version and how
// it was built (KIND = 'wheel' | 'sdist' | 'egg'), so a test can tell from an import alone
// which file a client really installed.
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildEgg, buildSdist, buildWheel, writeDist, type BuiltDist, type DistSpec } from './distributions.js'

/** How a fixture file was built. */
export type FixtureKind = 'wheel' | 'sdist' | 'egg'

/** One distribution of the fixture, with everything a check compares against. */
export interface FixtureFile {
  /** Folder under the eggdir (spelled as on disk, e.g. 'Mx.Mixed_Name'). */
  readonly folder: string
  readonly filename: string
  /** PEP 503 normalized project name. */
  readonly project: string
  readonly version: string
  readonly kind: FixtureKind
  readonly bytes: Buffer
  readonly sha256: string
  readonly md5: string
  /** For wheels: the exact METADATA bytes a PEP 658 `.metadata` URL must serve. */
  readonly metadata?: Buffer
  /** Content of the `.yanked` sidecar, when the file is yanked. */
  readonly yanked?: string
}

/** The built tree. */
export interface MatrixFixture {
  readonly eggdir: string
  readonly files: readonly FixtureFile[]
  /** The file called `filename`; throws for an unknown name (a typo in a test must not pass). */
  file(filename: string): FixtureFile
  /** Every file of one project release. */
  release(project: string, version: string): FixtureFile[]
}

/** Import package of `mx-core`, etc.: the names tests import to see what got installed. */
export const MODULES = {
  core: 'mx_core',
  mixed: 'mx_mixed_name',
  pyreq: 'mx_pyreq',
  yank: 'mx_yank',
  build: 'mx_build',
  legacyBuild: 'mx_legacy_build',
  egg: 'mx_egg',
  long: 'mx_long',
  tamper: 'mx_tamper',
} as const

/** The reason in the sidecar of the yanked wheel, with characters HTML must escape in `data-yanked="..."` (and every client must decode). */
export const YANK_REASON = 'Broken build <see #7> & "retry"'

/**
 * The long-named project. Its wheel's filename is at most 100 characters, but the filename
 * plus `.metadata` (the last URL segment of its PEP 658 file) is longer, and find-my-way,
 * Fastify's router, answers 404 to a parameter over 100 characters by default (`maxParamLength`).
 */
export const LONG_PROJECT = 'mx-long-name-whose-pep658-metadata-url-segment-exceeds-100-characters'

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8')

function source(version: string, kind: FixtureKind, extra = ''): string {
  return `__version__ = '${version}'\nKIND = '${kind}'\n${extra}`
}

// Mx.Mixed_Name imports mx_core at import time, so importing it proves the dependency is there.
const MIXED_EXTRA = 'import mx_core as _core\nCORE_VERSION = _core.__version__\n'

interface Planned {
  readonly folder: string
  readonly dist: BuiltDist & { metadata?: Buffer }
  readonly spec: DistSpec
  readonly kind: FixtureKind
  readonly yanked?: string
}

/** A wheel (universal, `py2.py3-none-any`, so every Python here installs it) and its module source. */
function wheel(folder: string, spec: DistSpec, options: { filenameName?: string; yanked?: string } = {}): Planned {
  const withSource = { ...spec, moduleSource: source(spec.version, 'wheel', spec.moduleSource) }
  const dist = buildWheel(withSource, {
    pythonTag: 'py2.py3',
    ...(options.filenameName === undefined ? {} : { filenameName: options.filenameName }),
  })
  return { folder, dist, spec, kind: 'wheel', ...(options.yanked === undefined ? {} : { yanked: options.yanked }) }
}

function sdist(
  folder: string,
  spec: DistSpec,
  options: { filenameName?: string; yanked?: string; legacy?: boolean } = {},
): Planned {
  const withSource = { ...spec, moduleSource: source(spec.version, 'sdist', spec.moduleSource) }
  const dist = buildSdist(withSource, {
    ...(options.filenameName === undefined ? {} : { filenameName: options.filenameName }),
    ...(options.legacy === undefined ? {} : { legacy: options.legacy }),
  })
  return { folder, dist, spec, kind: 'sdist', ...(options.yanked === undefined ? {} : { yanked: options.yanked }) }
}

function egg(folder: string, spec: DistSpec, pyVersion: string): Planned {
  const dist = buildEgg({ ...spec, moduleSource: source(spec.version, 'egg', spec.moduleSource) }, { pyVersion })
  return { folder, dist, spec, kind: 'egg' }
}

function plan(): Planned[] {
  const core = (version: string): DistSpec => ({ name: 'mx-core', version, summary: 'matrix core project' })
  const mixed = (version: string): DistSpec => ({
    name: 'Mx.Mixed_Name',
    version,
    summary: 'mixed-case dotted name',
    module: MODULES.mixed,
    // Spelled neither like the folder nor normalized: the client must normalize it (PEP 503).
    requiresDist: ['MX_Core>=1.0'],
    moduleSource: MIXED_EXTRA,
  })
  const pyreq = (version: string, requiresPython: string): DistSpec => ({ name: 'mx-pyreq', version, requiresPython })
  const yank = (version: string): DistSpec => ({ name: 'mx-yank', version })
  return [
    wheel('mx-core', core('1.0')),
    sdist('mx-core', core('1.0')),
    wheel('mx-core', core('1.1')),
    sdist('mx-core', core('1.1')),
    // 0.1 keeps pre-PEP 625/491 file names spelled like the project; 0.2 is normalized.
    wheel('Mx.Mixed_Name', mixed('0.1'), { filenameName: 'Mx.Mixed_Name' }),
    sdist('Mx.Mixed_Name', mixed('0.1'), { filenameName: 'Mx.Mixed_Name' }),
    wheel('Mx.Mixed_Name', mixed('0.2')),
    sdist('Mx.Mixed_Name', mixed('0.2')),
    wheel('mx-pyreq', pyreq('1.0', '>=2.7')),
    sdist('mx-pyreq', pyreq('1.0', '>=2.7')),
    // No Python here is 4 or later: a client that picks 2.0 ignored Requires-Python.
    wheel('mx-pyreq', pyreq('2.0', '>=4')),
    sdist('mx-pyreq', pyreq('2.0', '>=4')),
    wheel('mx-yank', yank('1.0')),
    sdist('mx-yank', yank('1.0')),
    // Both files of the newest release are yanked: one with a reason, one with an empty sidecar
    // (PEP 592: data-yanked=""). A client that misses either one installs 2.0 unpinned.
    wheel('mx-yank', yank('2.0'), { yanked: YANK_REASON }),
    sdist('mx-yank', yank('2.0'), { yanked: '' }),
    // Source-only releases, so a build from an sdist is really exercised: one with the in-tree
    // PEP 517 backend (pip >= 20, poetry, pdm, easy_install via setup.py), one setup.py-only
    // (pip 19.2.3 on Python 2.7, which lacks PEP 517 backend-path).
    sdist('mx-build', { name: 'mx-build', version: '1.0' }),
    sdist('mx-legacy-build', { name: 'mx-legacy-build', version: '1.0' }, { legacy: true }),
    // Eggs only, for easy_install (pip, poetry and pdm ignore eggs).
    egg('mx-egg', { name: 'mx-egg', version: '1.0' }, '2.7'),
    egg('mx-egg', { name: 'mx-egg', version: '1.0' }, '3.7'),
    // 2.0 depends on a release that does not exist, so a resolver reads its metadata, gives
    // up on it and installs 1.0: 2.0's wheel only ever has to be resolved, never downloaded
    // (the PEP 658 check). Both wheels' `.metadata` URL segments are over 100 characters.
    wheel(LONG_PROJECT, { name: LONG_PROJECT, version: '1.0', module: MODULES.long }),
    wheel(LONG_PROJECT, { name: LONG_PROJECT, version: '2.0', module: MODULES.long, requiresDist: ['mx-core>=99'] }),
    // Served through a proxy that changes one byte of the body: the hash-mismatch checks.
    wheel('mx-tamper', { name: 'mx-tamper', version: '1.0' }),
  ]
}

function normalize(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase()
}

const digest = (algorithm: string, bytes: Buffer): string => createHash(algorithm).update(bytes).digest('hex')

/** Write the fixture under `root/eggdir` and describe it. */
export async function buildMatrixFixture(root: string): Promise<MatrixFixture> {
  const eggdir = join(root, 'eggdir')
  const files: FixtureFile[] = []
  for (const item of plan()) {
    const path = await writeDist(join(eggdir, item.folder), item.dist)
    if (item.yanked !== undefined) await writeFile(`${path}.yanked`, utf8(item.yanked))
    files.push({
      folder: item.folder,
      filename: item.dist.filename,
      project: normalize(item.spec.name),
      version: item.spec.version,
      kind: item.kind,
      bytes: item.dist.bytes,
      sha256: digest('sha256', item.dist.bytes),
      md5: digest('md5', item.dist.bytes),
      ...(item.kind === 'wheel' && item.dist.metadata !== undefined ? { metadata: item.dist.metadata } : {}),
      ...(item.yanked === undefined ? {} : { yanked: item.yanked }),
    })
  }
  for (const long of files.filter((file) => file.project === LONG_PROJECT)) {
    if (long.filename.length > 100 || `${long.filename}.metadata`.length <= 100) {
      throw new Error(`the long wheel's name must be <= 100 characters and its .metadata name > 100: ${long.filename}`)
    }
  }
  const byName = new Map(files.map((file) => [file.filename, file]))
  return {
    eggdir,
    files,
    file(filename) {
      const found = byName.get(filename)
      if (found === undefined) throw new Error(`no fixture file ${filename}`)
      return found
    },
    release(project, version) {
      return files.filter((file) => file.project === normalize(project) && file.version === version)
    },
  }
}
