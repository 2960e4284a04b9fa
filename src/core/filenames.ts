// Distribution filenames: wheels, sdists (PEP 625 and legacy) and eggs (PEP 427, PEP 625, the egg format).
import { normalizeProjectName } from './names.js'
import { canonicalizeVersion, isPep440Version } from './versions.js'

/** The three kinds of distribution eggserve serves. */
export type DistKind = 'wheel' | 'sdist' | 'egg'

/** What a distribution's filename says about it. */
export interface ParsedDistFilename {
  readonly kind: DistKind
  /** The project name as written in the filename. */
  readonly name: string
  /** PEP 503-normalized project name. */
  readonly project: string
  readonly version: string
  /** Wheel build tag (PEP 427), when present. */
  readonly buildTag?: string
  /** Wheel python tag (`py3`, `cp312`) or egg python version (`2.7`). */
  readonly pythonTag?: string
  /** Egg or wheel platform tag, when present. */
  readonly platform?: string
}

// Order matters: longer suffixes first, so `.egg.zip` is not taken for a `.zip` sdist.
const EXTENSIONS: readonly (readonly [string, DistKind])[] = [
  ['.whl', 'wheel'],
  ['.egg.zip', 'egg'],
  ['.egg', 'egg'],
  ['.tar.gz', 'sdist'],
  ['.tar.bz2', 'sdist'],
  ['.tar.xz', 'sdist'],
  ['.tgz', 'sdist'],
  ['.tar', 'sdist'],
  ['.zip', 'sdist'],
]

/** The distribution extension and kind of `filename`, or undefined for anything else (README, .asc, .part, ...). */
export function distributionExtension(filename: string): { extension: string; kind: DistKind } | undefined {
  for (const [extension, kind] of EXTENSIONS) {
    if (filename.endsWith(extension) && filename.length > extension.length) return { extension, kind }
  }
  return undefined
}

/** True when `filename` is a plain name (not hidden, no separator) with a distribution extension. */
export function isDistributionFilename(filename: string): boolean {
  return !filename.startsWith('.') && !/[/\\]/.test(filename) && distributionExtension(filename) !== undefined
}

/**
 * Parse a distribution filename. `project` (a normalized name, usually the folder's)
 * resolves legacy sdist names with hyphens the way pip does.
 * @example parseDistFilename('python-dateutil-2.8.2.tar.gz', 'python-dateutil') // version '2.8.2'
 * @example parseDistFilename('foo_bar-1.0-1-py3-none-any.whl') // project 'foo-bar', buildTag '1'
 */
export function parseDistFilename(filename: string, project?: string): ParsedDistFilename | undefined {
  const ext = distributionExtension(filename)
  if (ext === undefined || filename.includes('/') || filename.includes('\\')) return undefined
  const stem = filename.slice(0, -ext.extension.length)
  switch (ext.kind) {
    case 'wheel':
      return parseWheelStem(stem)
    case 'egg':
      return parseEggStem(stem)
    case 'sdist':
      return parseSdistStem(stem, project)
  }
}

// Binary distribution format, "File name convention": {name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl
function parseWheelStem(stem: string): ParsedDistFilename | undefined {
  const parts = stem.split('-')
  if (parts.length !== 5 && parts.length !== 6) return undefined
  const [name = '', version = ''] = parts
  // packaging.utils.parse_wheel_filename: the name is word characters and dots, never "__".
  if (!/^[\w.]+$/u.test(name) || name.includes('__') || !isPep440Version(version)) return undefined
  const buildTag = parts.length === 6 ? parts[2] : undefined
  // PEP 427: the build tag must start with a digit.
  if (buildTag !== undefined && !/^\d/.test(buildTag)) return undefined
  const [pythonTag = '', abiTag = '', platform = ''] = parts.slice(-3)
  if (pythonTag === '' || abiTag === '' || platform === '') return undefined
  return {
    kind: 'wheel',
    name,
    project: normalizeProjectName(name),
    version,
    ...(buildTag === undefined ? {} : { buildTag }),
    pythonTag,
    platform,
  }
}

// pkg_resources EGG_NAME: name-version(-pyX.Y(-platform)?)? with "-" escaped to "_" in name and version.
const EGG_NAME = /^([^-]+)-([^-]+)(?:-py([^-]+)(?:-(.+))?)?$/i

function parseEggStem(stem: string): ParsedDistFilename | undefined {
  const match = EGG_NAME.exec(stem)
  if (match === null) return undefined
  const [, name = '', version = '', pythonTag, platform] = match
  // setuptools writes safe_name/safe_version with "-" escaped to "_" (to_filename): nothing else.
  if (!/^[A-Za-z0-9._]+$/.test(name) || !/^[A-Za-z0-9._!+]+$/.test(version)) return undefined
  return {
    kind: 'egg',
    name,
    project: normalizeProjectName(name),
    version,
    ...(pythonTag === undefined ? {} : { pythonTag }),
    ...(platform === undefined ? {} : { platform }),
  }
}

// With a known project, split at the first "-" whose prefix normalizes
// to it (pip's _find_name_version_sep); otherwise at the first "-" followed by a digit
// (setuptools interpret_distro_name). PEP 625 names contain no "-" and take the first branch.
function parseSdistStem(stem: string, project: string | undefined): ParsedDistFilename | undefined {
  let index = project === undefined ? -1 : hyphenAfterProject(stem, project)
  if (index < 0) index = stem.search(/-\d/)
  if (index <= 0) return undefined
  const name = stem.slice(0, index)
  const version = stem.slice(index + 1)
  if (version === '' || !/^[\w.!+-]+$/.test(version) || !/^[\w.-]+$/.test(name)) return undefined
  return { kind: 'sdist', name, project: normalizeProjectName(name), version }
}

function hyphenAfterProject(stem: string, project: string): number {
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    // A version starts with a digit: "foo-bar-1.0" is not version "bar-1.0" of "foo".
    if (/\d/.test(stem.charAt(i + 1)) && normalizeProjectName(stem.slice(0, i)) === project) return i
  }
  return -1
}

/**
 * What makes two filenames the same distribution file, whatever their spelling: the kind, the
 * normalized project (PEP 503) and version (PEP 440), then for wheels the build tag and the
 * expanded set of compatibility tags (binary distribution format; packaging's
 * parse_wheel_filename compares the same), for eggs the Python version and platform, for
 * sdists the archive format. `FOO_BAR-2.0-py3-none-any.whl` and `foo_bar-2.0-py3-none-any.whl`
 * get one key; `…-py2.py3-none-any.whl` and `…-py3.py2-none-any.whl` too.
 * @example distributionKey('Foo.Bar-1.0.tar.gz', 'foo-bar') === distributionKey('foo_bar-1.0.0.tar.gz', 'foo-bar') // true
 */
export function distributionKey(filename: string, parsed: ParsedDistFilename): string {
  const version = isPep440Version(parsed.version)
    ? canonicalizeVersion(parsed.version)
    : parsed.version.toLowerCase().replace(/-/g, '_')
  const head = `${parsed.kind} ${parsed.project} ${version}`
  switch (parsed.kind) {
    case 'wheel': {
      const parts = filename.slice(0, -'.whl'.length).split('-')
      const [python = [], abi = [], platform = []] = parts.slice(-3).map((part) => part.toLowerCase().split('.'))
      const tags = python.flatMap((py) => abi.flatMap((a) => platform.map((plat) => `${py}-${a}-${plat}`)))
      // packaging compares build tags as (number, rest): "01" and "1" are one build.
      const build =
        parsed.buildTag === undefined ? '' : parsed.buildTag.replace(/^(\d+)/, (digits) => String(Number(digits)))
      return `${head} ${build} ${[...new Set(tags)].sort().join(' ')}`
    }
    case 'egg':
      return `${head} ${parsed.pythonTag ?? ''} ${(parsed.platform ?? '').toLowerCase()}`
    case 'sdist':
      return `${head} ${distributionExtension(filename)?.extension ?? ''}`
  }
}
