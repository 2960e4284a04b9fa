// The snapshot of a bucket tree's listings as of a journal position: the top level (folders
// and stray files) and every project folder's objects (name, ETag, size, modification time),
// as gzip'd JSON. A replica that loads one answers its start-up listings from it instead of
// listing every folder, then replays the journal records written after it. Only what a
// listing would say is kept (no digests: those are in the facts beside the files), and a
// snapshot is trusted for nothing the journal says later.
import { promisify } from 'node:util'
import { gunzip, gzip } from 'node:zlib'
import { describeObject, plainEtag } from './s3-context.js'
import { isPlainName, makeKey, type FolderListing, type StoredFile } from './storage.js'

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)

/** What identifies the format; a snapshot of another format (or version) is ignored. */
export const SNAPSHOT_FORMAT = 'eggserve-s3-snapshot'
export const SNAPSHOT_VERSION = 1
// A snapshot of 100,000 objects is a few MB compressed; far more is not one of ours.
export const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024

/** The state a snapshot holds. */
export interface SnapshotState {
  /** Journal records covered: records 0..covered-1 are reflected, later ones are replayed. */
  readonly covered: number
  /** The top level's sub-folders and stray files. */
  readonly folders: readonly string[]
  readonly rootFiles: readonly string[]
  /** Every project folder's listing (folders of the top level without objects are absent). */
  readonly listings: ReadonlyMap<string, FolderListing>
}

/** What a snapshot is checked against: the tree it must describe. */
export interface SnapshotOwner {
  readonly bucket: string
  readonly prefix: string
}

/** Why a snapshot was refused (for the log line), or the state it holds. */
export type DecodedSnapshot =
  { readonly ok: true; readonly state: SnapshotState } | { readonly ok: false; readonly reason: string }

// One object: [name, ETag, size, modification time in whole seconds].
type Entry = [string, string, number, number]

/** The gzip'd JSON of `state`, written as made by `owner`. */
export async function encodeSnapshot(state: SnapshotState, owner: SnapshotOwner): Promise<Buffer> {
  // fromEntries defines own properties: a folder named "__proto__" stays a folder.
  const listings = Object.fromEntries(
    [...state.listings].map(([folder, listing]) => [
      folder,
      listing.files.map((file): Entry => [
        file.key.slice(folder.length + 1),
        etagOf(file),
        file.size,
        Math.floor(file.mtimeMs / 1000),
      ]),
    ]),
  )
  const body = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    bucket: owner.bucket,
    prefix: owner.prefix,
    covered: state.covered,
    time: new Date().toISOString(),
    folders: state.folders,
    rootFiles: state.rootFiles,
    listings,
  }
  return gzipAsync(JSON.stringify(body))
}

/**
 * The state in `bytes`, when they are a snapshot of this format and version, of `owner`'s
 * tree, and well formed throughout; else why not. Never throws.
 */
export async function decodeSnapshot(
  bytes: Uint8Array,
  owner: SnapshotOwner,
  digest: (files: readonly StoredFile[]) => string,
): Promise<DecodedSnapshot> {
  let value: unknown
  try {
    value = JSON.parse((await gunzipAsync(bytes, { maxOutputLength: MAX_SNAPSHOT_BYTES })).toString('utf8'))
  } catch {
    return { ok: false, reason: 'not gzip-compressed JSON (corrupt or truncated)' }
  }
  if (!isRecord(value) || value.format !== SNAPSHOT_FORMAT) return { ok: false, reason: 'not an eggserve snapshot' }
  if (value.version !== SNAPSHOT_VERSION) return { ok: false, reason: `format version ${String(value.version)}` }
  if (value.bucket !== owner.bucket || value.prefix !== owner.prefix)
    return { ok: false, reason: `made for s3://${String(value.bucket)}/${String(value.prefix)}` }
  const { covered, folders, rootFiles, listings } = value
  if (typeof covered !== 'number' || !Number.isSafeInteger(covered) || covered < 0)
    return { ok: false, reason: 'no journal position' }
  if (!isNameList(folders) || !isNameList(rootFiles) || !isRecord(listings))
    return { ok: false, reason: 'malformed top level' }
  const known = new Set(folders)
  const parsed = new Map<string, FolderListing>()
  for (const [folder, entries] of Object.entries(listings)) {
    const files = known.has(folder) ? parseEntries(folder, entries) : undefined
    if (files === undefined) return { ok: false, reason: `malformed listing of "${folder}"` }
    parsed.set(folder, { token: digest(files), files })
  }
  return { ok: true, state: { covered, folders, rootFiles, listings: parsed } }
}

function parseEntries(folder: string, entries: unknown): StoredFile[] | undefined {
  if (!Array.isArray(entries)) return undefined
  const list: readonly unknown[] = entries
  const files: StoredFile[] = []
  for (const entry of list) {
    if (!Array.isArray(entry) || entry.length !== 4) return undefined
    const fields: readonly unknown[] = entry
    const [name, etag, size, seconds] = fields
    if (typeof name !== 'string' || !isPlainName(name) || typeof etag !== 'string' || etag !== plainEtag(etag))
      return undefined
    if (!isCount(size) || !isCount(seconds)) return undefined
    files.push(describeObject(makeKey(folder, name), { etag, size, lastModified: new Date(seconds * 1000) }))
  }
  return files
}

// The identity is "<ETag>:<size>:<key>" (describeObject).
function etagOf(file: StoredFile): string {
  return file.identity.slice(0, file.identity.length - `:${String(file.size)}:${file.key}`.length)
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function isNameList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((name) => typeof name === 'string' && isPlainName(name))
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
