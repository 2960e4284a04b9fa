// Which source owns a project name: the local eggdir, the upstream indexes, or nobody. Pure:
// the callers find out whether the eggdir has the project and act on the answer.
//
// THE RULE (docs/upstream.md, "The name rule"). A name is first normalized (PEP 503: runs of
// "-", "_" and "." become "-", lowercase), and so is every pattern. If the eggdir has the
// project, the eggdir owns it and no upstream is asked anything about it, unless the name is
// on the merge list and matches no never-upstream pattern: then the page shows the local files
// and the upstream's, each marked with its origin, local files winning a filename both have.
// If the eggdir does not have it and the name matches a never-upstream pattern, the answer is
// 404 and no upstream is asked. Otherwise the upstreams are asked in the order given, and the
// first that has the project owns it (later ones are not asked); if none has it, 404; if one
// cannot be asked and has no usable cached page, 503 (never 404, so clients do not go on to
// another index, PEP 766 "Index priority" installers should error out on network failures).
import { normalizeProjectName } from './names.js'

/** What the name rule decides for one name. */
export type NameDecision =
  /** The eggdir's project alone: no upstream request. */
  | 'local'
  /** The eggdir's files and the upstreams' together (the merge list). */
  | 'merge'
  /** Not local, may be asked upstream (in order; the first that has it owns it). */
  | 'upstream'
  /** Not local and must never leave the server (or there is no upstream): 404. */
  | 'not-found'

/** The two explicit lists, compiled once. */
export interface NamePolicy {
  /** True when an upstream is configured at all. */
  readonly hasUpstreams: boolean
  /** Never-upstream patterns (fnmatch-like, matched against the normalized name). */
  readonly neverUpstream: readonly NamePattern[]
  /** Normalized names whose local and upstream files are shown together. */
  readonly merge: ReadonlySet<string>
}

/** A compiled never-upstream pattern. */
export interface NamePattern {
  /** The pattern as given. */
  readonly source: string
  /** The pattern normalized as names are. */
  readonly normalized: string
  readonly regex: RegExp
}

/** Apply the name rule to `name` (any spelling), knowing whether the eggdir has it. */
export function decide(policy: NamePolicy, name: string, local: boolean): NameDecision {
  const project = normalizeProjectName(name)
  const private_ = policy.neverUpstream.some((pattern) => pattern.regex.test(project))
  if (local) return policy.hasUpstreams && !private_ && policy.merge.has(project) ? 'merge' : 'local'
  if (private_ || !policy.hasUpstreams) return 'not-found'
  return 'upstream'
}

/** True when `name` must never be sent to an upstream. */
export function neverUpstream(policy: NamePolicy, name: string): boolean {
  const project = normalizeProjectName(name)
  return policy.neverUpstream.some((pattern) => pattern.regex.test(project))
}

/** Build the policy from the lists as configured. */
export function namePolicy(options: {
  readonly hasUpstreams: boolean
  readonly neverUpstream: readonly string[]
  readonly merge: readonly string[]
}): NamePolicy {
  return {
    hasUpstreams: options.hasUpstreams,
    neverUpstream: options.neverUpstream.map(compileNamePattern),
    merge: new Set(options.merge.map(normalizeProjectName)),
  }
}

/**
 * Compile an fnmatch-like pattern over normalized names: `*` any run of characters, `?` one
 * character, `[abc]`, `[a-z]` and `[!abc]` one character of (or not of) a set; everything else
 * literal. The pattern is normalized first, so `acme_*` and `Acme.*` both mean `acme-*`.
 * Throws a SyntaxError for an unclosed `[`.
 * @example compileNamePattern('acme-*').regex.test('acme-utils') // true
 */
export function compileNamePattern(source: string): NamePattern {
  // PEP 503 normalization, except that the wildcard characters stay as they are.
  const normalized = source
    .trim()
    .toLowerCase()
    .replace(/[-_.]+/g, '-')
  let regex = '^'
  for (let i = 0; i < normalized.length; i++) {
    const char = normalized.charAt(i)
    if (char === '*') regex += '.*'
    else if (char === '?') regex += '.'
    else if (char === '[') {
      const end = normalized.indexOf(']', i + 2)
      if (end === -1) throw new SyntaxError(`Invalid name pattern "${source}": "[" without a closing "]"`)
      let set = normalized.slice(i + 1, end)
      const negated = set.startsWith('!')
      if (negated) set = set.slice(1)
      // Inside a class only "\", "]" and "^" are special (the ranges a-z are meant).
      regex += `[${negated ? '^' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`
      i = end
    } else regex += char.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  if (normalized === '') throw new SyntaxError(`Invalid name pattern "${source}": empty`)
  return { source, normalized, regex: new RegExp(`${regex}$`) }
}
