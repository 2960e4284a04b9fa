// pip's requirements file format (pip's docs, "Requirements File Format"; the code is
// pip/_internal/req/req_file.py): one requirement per line, `\` continues a line, `#` after
// whitespace starts a comment, `--hash` options after a requirement, `-r`/`-c` name other
// files. Pure: the command reads the files this names. Requirements are PEP 508 (name,
// extras, PEP 440 specifiers, an environment marker) without the URL form.
import { isValidProjectName, normalizeProjectName } from './names.js'
import { parseSpecifiers, type Specifier } from './specifiers.js'

/** One requirement line. */
export interface Requirement {
  /** The first physical line it is on (1-based). */
  readonly line: number
  /** The name as written. */
  readonly name: string
  /** The PEP 503 normalized name. */
  readonly project: string
  readonly extras: readonly string[]
  readonly specifiers: readonly Specifier[]
  /** The PEP 508 environment marker after `;`, as written (not evaluated). */
  readonly marker: string | undefined
  /** `--hash=algorithm:hex` options: the files that may be installed. */
  readonly hashes: readonly { readonly algorithm: string; readonly hex: string }[]
}

/** What a requirements file says. */
export interface RequirementsFile {
  readonly requirements: Requirement[]
  /** `-r FILE` (requirements) and `-c FILE` (constraints), as written (relative to this file). */
  readonly includes: { readonly line: number; readonly path: string; readonly kind: 'requirements' | 'constraints' }[]
  /** Lines understood but not warmed (editables, URLs, index options), with why. */
  readonly skipped: { readonly line: number; readonly text: string; readonly reason: string }[]
  /** Lines that cannot be read. */
  readonly problems: { readonly line: number; readonly message: string }[]
}

// pip's req_file.COMMENT_RE: a `#` at the start or after whitespace.
const COMMENT = /(^|\s+)#.*$/
const HASH_ALGORITHMS = new Set(['sha256', 'sha384', 'sha512', 'sha224', 'sha1', 'md5'])
const HEX_LENGTH: Readonly<Record<string, number>> = {
  md5: 32,
  sha1: 40,
  sha224: 56,
  sha256: 64,
  sha384: 96,
  sha512: 128,
}
// PEP 508: name, [extras], then specifiers (optionally in parentheses), then `; marker`.
const REQUIREMENT = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*([^;]*?)\s*(?:;(.*))?$/
const INCLUDE_OPTIONS: Readonly<Record<string, 'requirements' | 'constraints'>> = {
  '-r': 'requirements',
  '--requirement': 'requirements',
  '-c': 'constraints',
  '--constraint': 'constraints',
}

/** Physical lines joined at a trailing backslash, comments removed, blank lines dropped. */
function logicalLines(text: string): { line: number; text: string }[] {
  const lines: { line: number; text: string }[] = []
  let pending: { line: number; text: string } | undefined
  text.split(/\r?\n/).forEach((physical, index) => {
    const current = pending ?? { line: index + 1, text: '' }
    // pip's join_lines: a comment line ends a continued line (and is then removed with it).
    const comment = /^\s*#/.test(physical)
    const continued = physical.endsWith('\\') && !comment
    current.text += continued ? physical.slice(0, -1) : comment ? ` ${physical}` : physical
    pending = continued ? current : undefined
    if (!continued) lines.push(current)
  })
  if (pending !== undefined) lines.push(pending)
  return lines
    .map((entry) => ({ line: entry.line, text: entry.text.replace(COMMENT, '').trim() }))
    .filter((entry) => entry.text !== '')
}

/**
 * Read a requirements file's text.
 * @example parseRequirements('requests==2.31.0 --hash=sha256:942c...\n').requirements[0].project // 'requests'
 */
export function parseRequirements(text: string): RequirementsFile {
  const result: RequirementsFile = { requirements: [], includes: [], skipped: [], problems: [] }
  for (const { line, text: content } of logicalLines(text)) {
    if (content.startsWith('-')) {
      readOption(result, line, content)
      continue
    }
    // pip's break_args_options: the requirement is every token up to the first option.
    const tokens = content.split(/\s+/)
    const firstOption = tokens.findIndex((token) => token.startsWith('-'))
    const spec = (firstOption === -1 ? tokens : tokens.slice(0, firstOption)).join(' ')
    const options = firstOption === -1 ? [] : tokens.slice(firstOption)
    try {
      const hashes = readHashes(options)
      const requirement = readRequirement(line, spec, hashes)
      if (requirement === undefined)
        result.skipped.push({ line, text: spec, reason: 'a URL or a path, not a name from an index' })
      else result.requirements.push(requirement)
    } catch (err) {
      result.problems.push({ line, message: err instanceof Error ? err.message : String(err) })
    }
  }
  return result
}

function readOption(result: RequirementsFile, line: number, content: string): void {
  const match = /^(-[a-z]|--[a-z-]+)(?:=|\s+|(?<=^-[a-z]))(.*)$/i.exec(content)
  const option = match?.[1] ?? content
  const kind = INCLUDE_OPTIONS[option]
  const value = (match?.[2] ?? '').trim()
  if (kind !== undefined && value !== '') result.includes.push({ line, path: value, kind })
  else if (option === '-e' || option === '--editable')
    result.skipped.push({ line, text: content, reason: 'an editable install, not from an index' })
  else result.skipped.push({ line, text: content, reason: 'an installer option, which warming does not use' })
}

function readHashes(options: readonly string[]): { algorithm: string; hex: string }[] {
  const hashes: { algorithm: string; hex: string }[] = []
  for (let index = 0; index < options.length; index++) {
    const option = options[index] ?? ''
    let value: string | undefined
    if (option.startsWith('--hash=')) value = option.slice('--hash='.length)
    else if (option === '--hash') value = options[++index]
    else continue
    const [algorithm = '', hex = ''] = (value ?? '').split(':')
    const lower = hex.toLowerCase()
    if (!HASH_ALGORITHMS.has(algorithm) || !/^[0-9a-f]+$/.test(lower) || lower.length !== HEX_LENGTH[algorithm])
      throw new SyntaxError(`"--hash=${value ?? ''}" is not a hash option (expected --hash=sha256:<64 hex digits>)`)
    hashes.push({ algorithm, hex: lower })
  }
  return hashes
}

function readRequirement(
  line: number,
  spec: string,
  hashes: { algorithm: string; hex: string }[],
): Requirement | undefined {
  // PEP 508's `name @ url`, a bare URL, a path or an archive file name: not from an index.
  if (/@|:\/\/|^[./~]|\.(whl|zip|tar\.gz|tgz|tar\.bz2)$/i.test(spec)) return undefined
  const match = REQUIREMENT.exec(spec)
  const name = match?.[1]
  if (match === null || name === undefined || !isValidProjectName(name))
    throw new SyntaxError(`"${spec}" is not a requirement (expected e.g. requests==2.31.0)`)
  let specifierText = (match[3] ?? '').trim()
  // PEP 508 allows the specifiers in parentheses: `name (>=1.0)`.
  if (specifierText.startsWith('(') && specifierText.endsWith(')')) specifierText = specifierText.slice(1, -1)
  const marker = match[4]?.trim()
  return {
    line,
    name,
    project: normalizeProjectName(name),
    extras: (match[2] ?? '')
      .split(',')
      .map((extra) => extra.trim())
      .filter((extra) => extra !== ''),
    specifiers: parseSpecifiers(specifierText),
    marker: marker === '' ? undefined : marker,
    hashes,
  }
}
