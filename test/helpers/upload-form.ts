// Multipart upload forms as twine, poetry and pdm send them (field names and parts as in
// twine's `package.py` and `repository.py`, poetry's `publishing/uploader.py` and pdm's
// `cli/commands/publish/`), and snapshots of the disk to prove that a refused upload changed
// nothing.
import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { blake2b } from 'hash-wasm'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { BuiltDist } from './distributions.js'

/** One part of a multipart form: a text field or a file. */
export type FormPart =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly filename: string; readonly data: Uint8Array; readonly contentType?: string }

/** A multipart/form-data body and its Content-Type. */
export interface MultipartBody {
  readonly body: Buffer
  readonly contentType: string
}

/** Encode parts as multipart/form-data (RFC 7578), with a CRLF preamble as distutils sends one. */
export function multipart(parts: readonly FormPart[]): MultipartBody {
  const boundary = `----eggserve-test-${randomBytes(8).toString('hex')}`
  const chunks: Buffer[] = [Buffer.from('\r\n')]
  for (const part of parts) {
    const disposition =
      'filename' in part
        ? `form-data; name="${part.name}"; filename="${part.filename.replace(/"/g, '%22')}"`
        : `form-data; name="${part.name}"`
    const type = 'filename' in part && part.contentType !== undefined ? `Content-Type: ${part.contentType}\r\n` : ''
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`))
    chunks.push('filename' in part ? Buffer.from(part.data) : Buffer.from(part.value, 'utf8'))
    chunks.push(Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}

/**
 * A form encoded byte for byte as setuptools' upload_docs encodes it (_build_multipart in
 * setuptools/command/upload_docs.py): bare LF line ends, a fixed boundary, parts in order.
 */
export function bareLfMultipart(parts: readonly FormPart[]): MultipartBody {
  const boundary = '--------------GHSKFJDLGDS7543FJKLFHRE75642756743254'
  const chunks: Buffer[] = []
  for (const part of parts) {
    const file = 'filename' in part ? `; filename="${part.filename}"` : ''
    chunks.push(Buffer.from(`\n--${boundary}\nContent-Disposition: form-data; name="${part.name}"${file}\n\n`))
    const value = 'filename' in part ? Buffer.from(part.data) : Buffer.from(part.value, 'utf8')
    chunks.push(value)
    // "write an extra newline (lurve Macs)"
    if (value.length > 0 && value[value.length - 1] === 0x0d) chunks.push(Buffer.from('\n'))
  }
  chunks.push(Buffer.from(`\n--${boundary}--\n`))
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}

/** The digests clients send, as hex. */
export async function clientDigests(data: Uint8Array): Promise<{ md5: string; sha256: string; blake2: string }> {
  return {
    md5: createHash('md5').update(data).digest('hex'),
    sha256: createHash('sha256').update(data).digest('hex'),
    blake2: await blake2b(data, 256),
  }
}

/** Options of {@link uploadParts}. */
export interface UploadPartsOptions {
  readonly name: string
  readonly version: string
  /** Replace or drop (undefined) fields; added when not in the default set. */
  readonly fields?: Readonly<Record<string, string | undefined>>
  /** Send the file under this filename instead of the dist's. */
  readonly filename?: string
  /** Send these bytes instead of the dist's (the digests still describe `data` unless overridden). */
  readonly data?: Uint8Array
  /** A gpg_signature part. */
  readonly signature?: { readonly filename: string; readonly data: Uint8Array }
  /** Put the file before the text fields (some clients could). */
  readonly contentFirst?: boolean
}

const FILETYPES: readonly (readonly [string, string])[] = [
  ['.whl', 'bdist_wheel'],
  ['.egg', 'bdist_egg'],
]

/** The parts of a file_upload form for `dist`, like twine's. */
export async function uploadParts(dist: BuiltDist, options: UploadPartsOptions): Promise<FormPart[]> {
  const data = options.data ?? dist.bytes
  const digests = await clientDigests(data)
  const filetype = FILETYPES.find(([suffix]) => dist.filename.endsWith(suffix))?.[1] ?? 'sdist'
  const defaults: Record<string, string> = {
    ':action': 'file_upload',
    protocol_version: '1',
    metadata_version: '2.1',
    name: options.name,
    version: options.version,
    filetype,
    pyversion: filetype === 'sdist' ? 'source' : 'py3',
    summary: 'A test project',
    description: 'A long description\n'.repeat(100),
    md5_digest: digests.md5,
    sha256_digest: digests.sha256,
    blake2_256_digest: digests.blake2,
  }
  const merged: Record<string, string | undefined> = { ...defaults, ...options.fields }
  const fields: FormPart[] = Object.entries(merged)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => ({ name, value }))
  const files: FormPart[] = [
    { name: 'content', filename: options.filename ?? dist.filename, data, contentType: 'application/octet-stream' },
  ]
  if (options.signature !== undefined)
    files.push({
      name: 'gpg_signature',
      filename: options.signature.filename,
      data: options.signature.data,
      contentType: 'application/octet-stream',
    })
  return options.contentFirst === true ? [...files, ...fields] : [...fields, ...files]
}

/** Every file under `root` (hidden ones included), relative path → sha256 of its bytes. */
export async function snapshot(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  // A file or folder removed between the listing and its read (a server deleting its temporary
  // upload files while this walks) is gone: left out, as a later walk would.
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(ifGone([]))) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      else {
        const bytes = await readFile(path).catch(ifGone(undefined))
        if (bytes !== undefined) files.set(relative(root, path), createHash('sha256').update(bytes).digest('hex'))
      }
    }
  }
  await walk(root)
  return files
}

// `value` for a path that does not exist (ENOENT); any other error is thrown on.
function ifGone<T>(value: T): (err: unknown) => T {
  return (err: unknown) => {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return value
    throw err
  }
}

/** Hidden temporary upload files under `root`. */
export async function tempFiles(root: string): Promise<string[]> {
  return [...(await snapshot(root)).keys()].filter((path) => /(^|\/)\.upload-/.test(path))
}

/** POST a multipart form to `url` (default `/`) through inject. */
export async function post(
  app: FastifyInstance,
  parts: readonly FormPart[],
  options: PostOptions = {},
): Promise<LightMyRequestResponse> {
  const { body, contentType } = multipart(parts)
  return app.inject({
    method: 'POST',
    url: options.url ?? '/',
    payload: body,
    headers: { 'content-type': contentType, ...options.headers },
    ...(options.remoteAddress === undefined ? {} : { remoteAddress: options.remoteAddress }),
  })
}

/** Where and how {@link post} sends. */
export interface PostOptions {
  readonly url?: string
  readonly headers?: Record<string, string>
  readonly remoteAddress?: string
}

/** Upload `dist` with twine's fields through inject. */
export async function upload(
  app: FastifyInstance,
  dist: BuiltDist,
  options: UploadPartsOptions & PostOptions,
): Promise<LightMyRequestResponse> {
  return post(app, await uploadParts(dist, options), options)
}
