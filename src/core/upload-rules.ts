// The legacy upload API's rules (Warehouse's warehouse/forklift/legacy.py), as pure functions over
// the form: which action, which file, and whether the form, the filename and the digests agree.
import { distributionExtension, parseDistFilename, type DistKind, type ParsedDistFilename } from './filenames.js'
import { isValidProjectName, normalizeProjectName } from './names.js'
import { canonicalizeVersion, isPep440Version } from './versions.js'

/** The form's text fields: every value of every field eggserve reads, in order. */
export type FormFields = ReadonlyMap<string, readonly string[]>

/** The actions of the legacy API that eggserve answers. */
export type UploadAction = 'file_upload' | 'remove_pkg' | 'submit' | 'verify' | 'doc_upload'

/** The fields the upload and remove actions read; every other field is ignored. */
export const READ_FIELDS: readonly string[] = [
  ':action',
  'protocol_version',
  'name',
  'version',
  'filetype',
  'pyversion',
  'md5_digest',
  'sha256_digest',
  'blake2_256_digest',
]

/** A refusal: the HTTP status and a one-line reason for the body and the reason phrase. */
export interface Rejection {
  readonly ok: false
  readonly status: 400 | 410
  readonly reason: string
}

/** Either what a check found, or why the request is refused. */
export type Checked<T> = ({ readonly ok: true } & T) | Rejection

/** Digests a client sent, as lowercase hex. */
export interface ExpectedDigests {
  readonly md5?: string
  readonly sha256?: string
  readonly blake2b256?: string
}

/** What an accepted upload form says about its file. */
export interface AcceptedUpload {
  readonly parsed: ParsedDistFilename
  readonly expected: ExpectedDigests
}

const ACTIONS: readonly UploadAction[] = ['file_upload', 'remove_pkg', 'submit', 'verify', 'doc_upload']

const refuse = (reason: string, status: 400 | 410 = 400): Rejection => ({ ok: false, status, reason })

/** The first non-empty value of a field. */
export function field(fields: FormFields, name: string): string | undefined {
  return fields.get(name)?.find((value) => value !== '')
}

/**
 * The action of a request: the form's `:action`, else the query string's (Warehouse routes on
 * both), and `protocol_version` absent or 1.
 * @example chooseAction(new Map([[':action', ['file_upload']]]), undefined) // { ok: true, action: 'file_upload' }
 */
export function chooseAction(fields: FormFields, queryAction: string | undefined): Checked<{ action: UploadAction }> {
  const raw = field(fields, ':action') ?? queryAction
  if (raw === undefined || raw === '') return refuse('Missing :action field')
  const action = ACTIONS.find((candidate) => candidate === raw)
  if (action === undefined) return refuse(`Unknown :action "${printable(raw)}"`)
  const protocol = field(fields, 'protocol_version')
  if (protocol !== undefined && protocol !== '1') return refuse('Unknown protocol version.')
  if (action === 'doc_upload') return refuse('Uploading documentation is no longer supported', 410)
  return { ok: true, action }
}

/**
 * Syntax of an uploaded filename: one plain path segment with a distribution extension.
 * Checked as soon as the file part starts, before a byte is written.
 * @example checkFilenameSyntax('../foo-1.0.tar.gz')?.reason // 'Invalid filename "../foo-1.0.tar.gz": it contains a path separator'
 */
export function checkFilenameSyntax(filename: string): Rejection | undefined {
  const shown = `Invalid filename "${printable(filename)}"`
  if (filename === '') return refuse('Invalid filename: it is empty')
  if (/[/\\]/.test(filename)) return refuse(`${shown}: it contains a path separator`)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(filename)) return refuse(`${shown}: it contains a control character`)
  if (filename.startsWith('.')) return refuse(`${shown}: it starts with "."`)
  if (filename.length > 255) return refuse('Invalid filename: it is longer than 255 characters')
  if (distributionExtension(filename) === undefined) {
    return refuse(
      `Invalid file extension of "${printable(filename)}": expected .whl, .tar.gz, .zip, .tar.bz2, .tar.xz, .tgz, .tar or .egg`,
    )
  }
  return undefined
}

/**
 * Parse an uploaded filename; `name` (the form's, when already seen) splits legacy sdist names
 * with hyphens the way pip does.
 */
export function parseUploadFilename(
  filename: string,
  name: string | undefined,
): Checked<{ parsed: ParsedDistFilename }> {
  const syntax = checkFilenameSyntax(filename)
  if (syntax !== undefined) return syntax
  const parsed = parseDistFilename(filename, name === undefined ? undefined : normalizeProjectName(name))
  if (parsed === undefined)
    return refuse(`Invalid distribution filename "${printable(filename)}": its project name and version cannot be read`)
  return { ok: true, parsed }
}

const FILETYPES: Readonly<Record<string, DistKind>> = { bdist_wheel: 'wheel', sdist: 'sdist', bdist_egg: 'egg' }

/**
 * Check a file_upload form: the filename, the form's name and version
 * against it, `filetype` and `pyversion` against the extension, the digests' syntax, and the
 * signature's filename. The digests themselves are compared once the file has been read.
 */
export function checkUploadForm(input: {
  fields: FormFields
  filename: string | undefined
  signatureFilename?: string | undefined
}): Checked<AcceptedUpload> {
  const { fields, filename } = input
  if (filename === undefined) return refuse('Upload payload does not have a file.')
  const name = field(fields, 'name')
  const version = field(fields, 'version')
  if (name === undefined) return refuse('Missing name field')
  if (version === undefined) return refuse('Missing version field')
  if (!isValidProjectName(name)) return refuse(`Invalid project name "${printable(name)}"`)
  const read = parseUploadFilename(filename, name)
  if (!read.ok) return read
  const { parsed } = read
  const project = normalizeProjectName(name)
  if (parsed.project !== project)
    return refuse(`The filename "${filename}" is for project "${parsed.project}", not "${project}"`)
  if (!sameVersion(parsed.version, version))
    return refuse(`The filename "${filename}" is for version "${parsed.version}", not "${printable(version)}"`)
  const kind = checkKind(fields, parsed.kind)
  if (kind !== undefined) return kind
  const expected = expectedDigests(fields)
  if (!expected.ok) return expected
  if (input.signatureFilename !== undefined && input.signatureFilename !== `${filename}.asc`) {
    return refuse(`Unrelated signature: "${printable(input.signatureFilename)}" is not named "${filename}.asc"`)
  }
  return { ok: true, parsed, expected: withoutOk(expected) }
}

/** The release a remove_pkg form names (pypiserver's extension). */
export function checkRemoveForm(fields: FormFields): Checked<{ name: string; version: string }> {
  const name = field(fields, 'name')
  const version = field(fields, 'version')
  if (name === undefined) return refuse('Missing name field')
  if (version === undefined) return refuse('Missing version field')
  if (!isValidProjectName(name)) return refuse(`Invalid project name "${printable(name)}"`)
  return { ok: true, name, version }
}

/**
 * The core metadata of an uploaded file against its filename. Name and Version are required
 * fields (core metadata specifications); Name must normalize to the filename's project
 * (PEP 503) and Version must equal the filename's (PEP 440): Warehouse refuses other files,
 * and pip refuses to install them ("inconsistent version").
 * @example checkUploadedMetadata({ name: 'upl', version: '9.9' }, parsed)?.reason // 'Invalid distribution file: its metadata says version "9.9", the filename "1.6"'
 */
export function checkUploadedMetadata(
  metadata: { name: string | undefined; version: string | undefined },
  parsed: ParsedDistFilename,
): Rejection | undefined {
  const name = metadata.name?.trim() ?? ''
  const version = metadata.version?.trim() ?? ''
  if (name === '') return refuse('Invalid distribution file: its metadata has no Name field')
  if (normalizeProjectName(name) !== parsed.project) {
    return refuse(
      `Invalid distribution file: its metadata names project "${printable(normalizeProjectName(name))}", not "${parsed.project}"`,
    )
  }
  if (version === '') return refuse('Invalid distribution file: its metadata has no Version field')
  if (!sameVersion(version, parsed.version)) {
    return refuse(
      `Invalid distribution file: its metadata says version "${printable(version)}", the filename "${parsed.version}"`,
    )
  }
  return undefined
}

/** True when two version strings name the same version (PEP 440 canonical forms, else the same text). */
export function sameVersion(a: string, b: string): boolean {
  if (isPep440Version(a) && isPep440Version(b)) return canonicalizeVersion(a) === canonicalizeVersion(b)
  // Legacy versions: filenames escape "-" as "_" (wheels, eggs).
  const plain = (version: string): string => version.toLowerCase().replace(/-/g, '_')
  return plain(a) === plain(b)
}

function checkKind(fields: FormFields, kind: DistKind): Rejection | undefined {
  const filetype = field(fields, 'filetype')
  if (filetype !== undefined) {
    const declared = FILETYPES[filetype]
    if (declared === undefined)
      return refuse(`Unsupported filetype "${printable(filetype)}": expected bdist_wheel, sdist or bdist_egg`)
    if (declared !== kind) return refuse(`filetype "${filetype}" does not match the file, which is a ${kind}`)
  }
  const pyversion = field(fields, 'pyversion')
  if (kind === 'sdist' && pyversion !== undefined && pyversion.toLowerCase() !== 'source') {
    return refuse(`pyversion of an sdist must be "source", not "${printable(pyversion)}"`)
  }
  return undefined
}

const DIGEST_FIELDS = [
  ['md5_digest', 'md5', 16],
  ['sha256_digest', 'sha256', 32],
  ['blake2_256_digest', 'blake2b256', 32],
] as const

/**
 * The digests a form carries, as lowercase hex. Every client sends hex; PyPI's docs
 * describe md5 as url-safe base64, so unpadded base64url of the right length is accepted too.
 */
export function expectedDigests(fields: FormFields): Checked<ExpectedDigests> {
  const digests: Record<string, string> = {}
  for (const [name, key, bytes] of DIGEST_FIELDS) {
    const value = field(fields, name)?.trim()
    if (value === undefined) continue
    const hex = digestHex(value, bytes)
    if (hex === undefined) return refuse(`Invalid ${name}: expected ${bytes * 2} hexadecimal digits`)
    digests[key] = hex
  }
  return { ok: true, ...digests }
}

function withoutOk(checked: { readonly ok: true } & ExpectedDigests): ExpectedDigests {
  return {
    ...(checked.md5 === undefined ? {} : { md5: checked.md5 }),
    ...(checked.sha256 === undefined ? {} : { sha256: checked.sha256 }),
    ...(checked.blake2b256 === undefined ? {} : { blake2b256: checked.blake2b256 }),
  }
}

function digestHex(value: string, bytes: number): string | undefined {
  if (value.length === bytes * 2 && /^[0-9a-f]+$/i.test(value)) return value.toLowerCase()
  if (value.length === Math.ceil((bytes * 4) / 3) && /^[A-Za-z0-9_-]+$/.test(value))
    return Buffer.from(value, 'base64url').toString('hex')
  return undefined
}

/** The first digest field whose value differs from what was computed, or undefined when all agree. */
export function digestMismatch(expected: ExpectedDigests, actual: Required<ExpectedDigests>): string | undefined {
  for (const [name, key] of DIGEST_FIELDS) {
    const wanted = expected[key]
    if (wanted !== undefined && wanted !== actual[key]) return name
  }
  return undefined
}

/** The message Warehouse gives for a digest mismatch. */
export const DIGEST_MISMATCH = 'The digest supplied does not match a digest calculated from the uploaded file.'

// Client-supplied text in a one-line reason: no control characters, bounded length.
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is replaced
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?')
  return clean.length > 100 ? `${clean.slice(0, 97)}...` : clean
}
