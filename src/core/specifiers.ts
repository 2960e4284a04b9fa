// PEP 440 version specifiers ("Version specifiers" spec): `~=`, `==` (with `.*`), `!=`, `<=`,
// `>=`, `<`, `>` and `===`, and the choice of the highest version a specifier set allows.
// Mirrors packaging.specifiers.SpecifierSet on top of src/core/versions.ts, so the order is the
// one the pages are sorted in.
import { compareVersions, isPep440Version, isPrerelease, normalizeVersion, parsePep440 } from './versions.js'

/** One clause, e.g. `>=1.0` or `==2.*`. */
export interface Specifier {
  readonly operator: '~=' | '==' | '!=' | '<=' | '>=' | '<' | '>' | '==='
  readonly version: string
}

const CLAUSE = /^\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,;]+)\s*$/

/**
 * Parse a comma-separated specifier set; throws SyntaxError on a bad clause.
 * @example parseSpecifiers('>=1.0, !=1.3.*') // [{ operator: '>=', version: '1.0' }, { operator: '!=', version: '1.3.*' }]
 */
export function parseSpecifiers(text: string): Specifier[] {
  if (text.trim() === '') return []
  return text.split(',').map((clause) => {
    const match = CLAUSE.exec(clause)
    const operator = match?.[1] as Specifier['operator'] | undefined
    const version = match?.[2]
    if (operator === undefined || version === undefined)
      throw new SyntaxError(`"${clause.trim()}" is not a version specifier (e.g. >=1.0)`)
    const wildcard = version.endsWith('.*')
    const bare = wildcard ? version.slice(0, -2) : version
    // Spec "Version matching": a wildcard only after == and !=; ~= needs two release parts.
    const valid =
      operator === '===' ||
      (isPep440Version(bare) &&
        (!wildcard || operator === '==' || operator === '!=') &&
        (operator !== '~=' || (parsePep440(bare)?.release.length ?? 0) >= 2))
    if (!valid) throw new SyntaxError(`"${clause.trim()}" is not a valid PEP 440 specifier`)
    return { operator, version }
  })
}

/** The public version: without its local label. */
function publicOf(version: string): string {
  return normalizeVersion(version).replace(/\+.*$/, '')
}

/** epoch!release: the version without pre, post, dev and local segments. */
function baseOf(version: string): string {
  const parsed = parsePep440(version)
  return parsed === undefined ? version : `${String(parsed.epoch)}!${parsed.release.join('.')}`
}

// packaging's _version_split: release parts, with a pre-release glued to the last one split off.
function splitForPrefix(version: string): string[] {
  const parsed = parsePep440(version)
  if (parsed === undefined) return [version]
  const parts = [String(parsed.epoch), ...parsed.release.map(String)]
  const rest = normalizeVersion(version)
    .replace(/\+.*$/, '')
    .replace(/^(\d+!)?\d+(\.\d+)*/, '')
  for (const piece of rest.split('.')) if (piece !== '') parts.push(piece)
  return parts
}

function prefixMatch(candidate: string, prefix: string): boolean {
  const want = splitForPrefix(prefix)
  const have = splitForPrefix(publicOf(candidate))
  // Spec: the candidate's release is zero-padded to the prefix's length.
  while (have.length < want.length) have.push('0')
  return want.every((part, index) => have[index] === part)
}

function equal(candidate: string, version: string): boolean {
  if (version.endsWith('.*')) return prefixMatch(candidate, version.slice(0, -2))
  // Spec "Version matching": a specifier without a local label ignores the candidate's.
  const target = normalizeVersion(version)
  const compared = target.includes('+') ? normalizeVersion(candidate) : publicOf(candidate)
  return compareVersions(compared, target) === 0
}

/** True when `candidate` satisfies the one clause `spec` (pre-release policy aside). */
export function satisfies(candidate: string, spec: Specifier): boolean {
  const { operator, version } = spec
  if (operator === '===') return candidate.toLowerCase() === version.toLowerCase()
  if (!isPep440Version(candidate)) return false
  switch (operator) {
    case '==':
      return equal(candidate, version)
    case '!=':
      return !equal(candidate, version)
    case '<=':
      return compareVersions(publicOf(candidate), version) <= 0
    case '>=':
      return compareVersions(publicOf(candidate), version) >= 0
    case '~=': {
      // Spec "Compatible release": >= V and == V's release without its last part, .*
      const release = parsePep440(version)?.release ?? []
      const epoch = parsePep440(version)?.epoch ?? 0
      const prefix = `${epoch === 0 ? '' : `${String(epoch)}!`}${release.slice(0, -1).join('.')}`
      return compareVersions(publicOf(candidate), version) >= 0 && prefixMatch(candidate, prefix)
    }
    case '<':
      // Spec "Exclusive ordered comparison": <V never admits a pre-release of V itself, unless V is one.
      return (
        compareVersions(publicOf(candidate), version) < 0 &&
        (isPrerelease(version) || !isPrerelease(candidate) || baseOf(candidate) !== baseOf(version))
      )
    case '>': {
      // ... and >V never admits a post-release or a local version of V, unless V is a post-release.
      if (compareVersions(publicOf(candidate), version) <= 0) return false
      const postOfSame = parsePep440(candidate)?.post !== undefined && parsePep440(version)?.post === undefined
      return !(postOfSame && baseOf(candidate) === baseOf(version))
    }
  }
}

/**
 * The highest of `versions` that satisfies every clause, as packaging's SpecifierSet.filter
 * picks: pre-releases only when a clause names one or when nothing else satisfies the set.
 * @example bestVersion(['1.0', '1.1', '2.0rc1'], parseSpecifiers('<3')) // '1.1'
 */
export function bestVersion(versions: Iterable<string>, specs: readonly Specifier[]): string | undefined {
  const matching = [...new Set(versions)].filter((version) => specs.every((spec) => satisfies(version, spec)))
  const wantsPre = specs.some((spec) => spec.operator !== '!=' && isPrerelease(spec.version.replace(/\.\*$/, '')))
  const finals = matching.filter((version) => !isPrerelease(version))
  const pool = wantsPre || finals.length === 0 ? matching : finals
  return pool.sort(compareVersions).at(-1)
}
