// PEP 440 versions (the "Version specifiers" spec): validity, parsing, normalization and ordering.
// Mirrors packaging.version.Version and packaging.utils.canonicalize_version. Unlike them, the
// surrounding whitespace the spec tolerates is not accepted: these versions come from filenames.

// The spec's canonical regular expression (appendix "Parsing version strings"). JavaScript's `i`
// flag without `u` never folds a non-ASCII character onto ASCII, which matches packaging's `(?a:)`.
const PEP440 = new RegExp(
  '^v?' +
    '(?:(?<epoch>[0-9]+)!)?' +
    '(?<release>[0-9]+(?:\\.[0-9]+)*)' +
    '(?:[-_.]?(?<preL>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<preN>[0-9]+)?)?' +
    '(?:-(?<postN1>[0-9]+)|[-_.]?(?<postL>post|rev|r)[-_.]?(?<postN2>[0-9]+)?)?' +
    '(?:[-_.]?(?<devL>dev)[-_.]?(?<devN>[0-9]+)?)?' +
    '(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?' +
    '$',
  'i',
)

/** True when `version` is a valid PEP 440 version string (no surrounding whitespace). */
export function isPep440Version(version: string): boolean {
  return PEP440.test(version)
}

/** A parsed PEP 440 version; numbers past 2^53 lose precision here but not in the other functions. */
export interface Pep440Version {
  readonly epoch: number
  readonly release: readonly number[]
  readonly pre?: readonly ['a' | 'b' | 'rc', number]
  readonly post?: number
  readonly dev?: number
  /** Local label segments, lowercased; all-digit segments are numbers. */
  readonly local?: readonly (string | number)[]
}

type PreLetter = 'a' | 'b' | 'rc'

// Numbers are kept as digit strings without leading zeros, so that normalization and ordering
// stay exact however long they are (Python ints are unbounded).
interface Parts {
  readonly epoch: string
  readonly release: readonly string[]
  readonly pre: readonly [PreLetter, string] | undefined
  readonly post: string | undefined
  readonly dev: string | undefined
  /** Digit strings for all-digit segments (flagged `numeric`), lowercase text otherwise. */
  readonly local: readonly LocalSegment[] | undefined
}

interface LocalSegment {
  readonly numeric: boolean
  readonly value: string
}

// Spec "Pre-release spelling": alpha, beta, c, pre and preview are alternate spellings.
const PRE_LETTERS: Readonly<Record<string, PreLetter>> = {
  a: 'a',
  alpha: 'a',
  b: 'b',
  beta: 'b',
  c: 'rc',
  rc: 'rc',
  pre: 'rc',
  preview: 'rc',
}

function digits(value: string): string {
  return value.replace(/^0+(?=[0-9])/, '')
}

function parseParts(version: string): Parts | undefined {
  const groups = PEP440.exec(version)?.groups
  if (groups === undefined) return undefined
  const { epoch, release, preL, preN, postN1, postL, postN2, devL, devN, local } = groups
  if (release === undefined) return undefined
  // Spec "Implicit pre-release number", "Implicit post release number", "Implicit development
  // release number": a missing number is 0; "Implicit post releases": `1.0-1` is `1.0.post1`.
  const preLetter = preL === undefined ? undefined : PRE_LETTERS[preL.toLowerCase()]
  const hasPost = postN1 !== undefined || postL !== undefined
  return {
    epoch: digits(epoch ?? '0'),
    release: release.split('.').map(digits),
    pre: preLetter === undefined ? undefined : [preLetter, digits(preN ?? '0')],
    post: hasPost ? digits(postN1 ?? postN2 ?? '0') : undefined,
    dev: devL === undefined ? undefined : digits(devN ?? '0'),
    // Spec "Local version segments": lowercase, and `-`/`_` separators become `.`.
    local: local
      ?.split(/[-_.]/)
      .map((segment) =>
        /^[0-9]+$/.test(segment)
          ? { numeric: true, value: digits(segment) }
          : { numeric: false, value: segment.toLowerCase() },
      ),
  }
}

/**
 * Parse a PEP 440 version, accepting every spelling variant the spec normalizes; undefined when invalid.
 * @example parsePep440('V1.0-Alpha.2') // { epoch: 0, release: [1, 0], pre: ['a', 2] }
 */
export function parsePep440(version: string): Pep440Version | undefined {
  const parts = parseParts(version)
  if (parts === undefined) return undefined
  const { pre, post, dev, local } = parts
  return {
    epoch: Number(parts.epoch),
    release: parts.release.map(Number),
    ...(pre === undefined ? {} : { pre: [pre[0], Number(pre[1])] as const }),
    ...(post === undefined ? {} : { post: Number(post) }),
    ...(dev === undefined ? {} : { dev: Number(dev) }),
    ...(local === undefined ? {} : { local: local.map((s) => (s.numeric ? Number(s.value) : s.value)) }),
  }
}

// str(Version): `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, the spec's "Normalization" section.
function format(parts: Parts, release: readonly string[]): string {
  let text = parts.epoch === '0' ? '' : `${parts.epoch}!`
  text += release.join('.')
  if (parts.pre !== undefined) text += parts.pre[0] + parts.pre[1]
  if (parts.post !== undefined) text += `.post${parts.post}`
  if (parts.dev !== undefined) text += `.dev${parts.dev}`
  if (parts.local !== undefined) text += `+${parts.local.map((s) => s.value).join('.')}`
  return text
}

/**
 * The PEP 440 normal form of `version` (`str(Version(v))`), or `version` unchanged when invalid.
 * @example normalizeVersion('1.0-ALPHA_1') // '1.0a1'
 */
export function normalizeVersion(version: string): string {
  const parts = parseParts(version)
  return parts === undefined ? version : format(parts, parts.release)
}

/** The release without trailing zero parts; `keepOne` leaves at least one part. */
function trimRelease(release: readonly string[], keepOne: boolean): readonly string[] {
  let end = release.length
  while (end > (keepOne ? 1 : 0) && release[end - 1] === '0') end--
  return release.slice(0, end)
}

/**
 * The normal form with trailing `.0`s of the release dropped (packaging's `canonicalize_version`,
 * as PEP 625 sdist names use it); `version` unchanged when invalid.
 * @example canonicalizeVersion('1.0.0a1') // '1a1'
 */
export function canonicalizeVersion(version: string): string {
  const parts = parseParts(version)
  return parts === undefined ? version : format(parts, trimRelease(parts.release, true))
}

/** True for a valid version with a pre-release or development release segment. */
export function isPrerelease(version: string): boolean {
  const parts = parseParts(version)
  return parts !== undefined && (parts.pre !== undefined || parts.dev !== undefined)
}

function sign(value: number): number {
  return value < 0 ? -1 : value > 0 ? 1 : 0
}

/** Compare two digit strings without leading zeros, numerically. */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return sign(a.length - b.length)
  return a < b ? -1 : a > b ? 1 : 0
}

/** Compare strings by code point, as Python compares str (JavaScript's `<` uses UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  const left = Array.from(a)
  const right = Array.from(b)
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = (left[i]?.codePointAt(0) ?? 0) - (right[i]?.codePointAt(0) ?? 0)
    if (difference !== 0) return sign(difference)
  }
  return sign(left.length - right.length)
}

/** Lexicographic comparison of sequences, a proper prefix sorting first (Python tuples). */
function compareSequences<T>(a: readonly T[], b: readonly T[], compare: (x: T, y: T) => number): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const result = compare(a[i] as T, b[i] as T)
    if (result !== 0) return result
  }
  return sign(a.length - b.length)
}

// Suffix ranks of packaging's _cmpkey, spec "Summary of permitted suffixes and relative ordering":
// a dev release without pre or post sorts before any pre-release, a final after every rc.
const DEV_ONLY = -1
const PRE_RANK: Readonly<Record<PreLetter, number>> = { a: 0, b: 1, rc: 2 }
const FINAL = 3

interface SuffixKey {
  readonly preRank: number
  readonly pre: string
  readonly postRank: number
  readonly post: string
  readonly devRank: number
  readonly dev: string
}

function suffixKey(parts: Parts): SuffixKey {
  const { pre, post, dev } = parts
  const preRank = pre !== undefined ? PRE_RANK[pre[0]] : post === undefined && dev !== undefined ? DEV_ONLY : FINAL
  return {
    preRank,
    pre: pre?.[1] ?? '0',
    // No post release sorts before any post release; no dev release sorts after any dev release.
    postRank: post === undefined ? 0 : 1,
    post: post ?? '0',
    devRank: dev === undefined ? 1 : 0,
    dev: dev ?? '0',
  }
}

function compareSuffixes(a: SuffixKey, b: SuffixKey): number {
  return (
    sign(a.preRank - b.preRank) ||
    compareDigits(a.pre, b.pre) ||
    sign(a.postRank - b.postRank) ||
    compareDigits(a.post, b.post) ||
    sign(a.devRank - b.devRank) ||
    compareDigits(a.dev, b.dev)
  )
}

// Spec "Local version identifiers": alphanumeric segments sort before numeric ones, numeric
// segments compare as numbers, alphanumeric ones lexicographically, and a longer label wins a tie.
function compareLocalSegments(a: LocalSegment, b: LocalSegment): number {
  if (a.numeric !== b.numeric) return a.numeric ? 1 : -1
  if (a.numeric) return compareDigits(a.value, b.value)
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0
}

function compareParts(a: Parts, b: Parts): number {
  return (
    compareDigits(a.epoch, b.epoch) ||
    // Spec "Final releases": trailing zeros of the release segment are insignificant.
    compareSequences(trimRelease(a.release, false), trimRelease(b.release, false), compareDigits) ||
    compareSuffixes(suffixKey(a), suffixKey(b)) ||
    // Spec "Local version identifiers": a public version sorts before all its local versions.
    (a.local === undefined
      ? b.local === undefined
        ? 0
        : -1
      : b.local === undefined
        ? 1
        : compareSequences(a.local, b.local, compareLocalSegments))
  )
}

/**
 * Order two versions as PEP 440 does: negative, zero or positive. Invalid ("legacy") versions sort
 * before all valid ones, and among themselves by code point, so the order is total (packaging's LegacyVersion sorted before all).
 * @example ['1.0', '1.0rc1', 'foo', '1.0.post1'].sort(compareVersions) // ['foo', '1.0rc1', '1.0', '1.0.post1']
 */
export function compareVersions(a: string, b: string): number {
  return compareParsed({ version: a, parts: parseParts(a) }, { version: b, parts: parseParts(b) })
}

interface Parsed {
  readonly version: string
  readonly parts: Parts | undefined
}

function compareParsed(a: Parsed, b: Parsed): number {
  if (a.parts === undefined || b.parts === undefined) {
    if (a.parts !== undefined) return 1
    if (b.parts !== undefined) return -1
    return compareCodePoints(a.version, b.version)
  }
  return compareParts(a.parts, b.parts)
}

/**
 * `items` sorted by `versionOf` in compareVersions' order (stable), each version parsed once:
 * a sort compares about n log n times, and parsing is most of a comparison's cost (a project
 * page of 100 releases made 700 comparisons, 1,400 parses).
 */
export function sortByVersion<T>(items: Iterable<T>, versionOf: (item: T) => string): T[] {
  const keyed = [...items].map((item) => {
    const version = versionOf(item)
    return { item, version, parts: parseParts(version) }
  })
  return keyed.sort(compareParsed).map((entry) => entry.item)
}

/**
 * The latest of releases as PyPI's JSON API picks it: the highest final release not entirely
 * yanked, else the highest non-yanked pre-release, else the highest; undefined for none.
 * `yanked` is per file: a release is yanked when all of its files are.
 * @example latestVersionOf([{ version: '2.0b1', yanked: false }, { version: '1.0', yanked: false }]) // '1.0'
 */
export function latestVersionOf(
  files: Iterable<{ readonly version: string; readonly yanked: boolean }>,
): string | undefined {
  const versions = new Map<string, boolean>()
  for (const file of files) {
    const version = normalizeVersion(file.version)
    versions.set(version, (versions.get(version) ?? true) && file.yanked)
  }
  const sorted = [...versions].sort(([a], [b]) => compareVersions(b, a))
  return (sorted.find(([version, yanked]) => !yanked && !isPrerelease(version)) ??
    sorted.find(([, yanked]) => !yanked) ??
    sorted[0])?.[0]
}
