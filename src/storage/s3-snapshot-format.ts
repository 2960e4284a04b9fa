// The snapshot of a bucket tree's listings as of a journal position: the top level (folders
// and stray files) and every project folder's objects (name, ETag, size, modification time),
// as gzip'd JSON. A replica that loads one answers its start-up listings from it instead of
// listing every folder, then replays the journal records written after it. Beside what a
// listing would say, each object carries the facts stored beside it when they were known
// (digests, metadata facts: s3-facts.ts), so a replica starting from the snapshot does not
// read them one GET per file. A snapshot is trusted for nothing the journal says later.
// Version 2 added the facts and the revision; a version 1 snapshot is ignored (and replaced
// by the next one written).
import { promisify } from 'node:util'
import { gunzip, gzip } from 'node:zlib'
import type { FileFacts } from '../core/index-model.js'
import { describeObject, plainEtag } from './s3-context.js'
import { parseFileFacts } from './s3-facts.js'
import { isPlainName, makeKey, type FolderListing, type StoredFile } from './storage.js'

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)

/** What identifies the format; a snapshot of another format (or version) is ignored. */
export const SNAPSHOT_FORMAT = 'eggserve-s3-snapshot'
export const SNAPSHOT_VERSION = 2
// A snapshot of 100,000 objects is a few MB compressed; far more is not one of ours.
export const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024

/** The state a snapshot holds. */
export interface SnapshotState {
  /** Journal records covered: records 0..covered-1 are reflected, later ones are replayed. */
  readonly covered: number
  /**
   * Snapshots at one journal position are numbered from 0: a later one carries more facts
   * (those learnt once the files were hashed), the listings being the same.
   */
  readonly revision: number
  /** The top level's sub-folders and stray files. */
  readonly folders: readonly string[]
  readonly rootFiles: readonly string[]
  /** Every project folder's listing (folders of the top level without objects are absent). */
  readonly listings: ReadonlyMap<string, FolderListing>
  /** The facts of the listed files, by key, for those known (of the identity listed). */
  readonly facts: ReadonlyMap<string, FileFacts>
}

/** What a snapshot is checked against: the tree it must describe. */
export interface SnapshotOwner {
  readonly bucket: string
  readonly prefix: string
}

/** Why a snapshot was refused (for the log line), or the state it holds. */
export type DecodedSnapshot =
  { readonly ok: true; readonly state: SnapshotState } | { readonly ok: false; readonly reason: string }

// One object: [name, ETag, size, modification time in whole seconds, its facts when known].
type Entry = [string, string, number, number] | [string, string, number, number, FileFacts]

/** The gzip'd JSON of `state`, written as made by `owner`. */
export async function encodeSnapshot(state: SnapshotState, owner: SnapshotOwner): Promise<Buffer> {
  // fromEntries defines own properties: a folder named "__proto__" stays a folder.
  const listings = Object.fromEntries(
    [...state.listings].map(([folder, listing]) => [
      folder,
      listing.files.map((file): Entry => {
        const entry: Entry = [
          file.key.slice(folder.length + 1),
          etagOf(file),
          file.size,
          Math.floor(file.mtimeMs / 1000),
        ]
        const facts = state.facts.get(file.key)
        return facts === undefined ? entry : [...entry, facts]
      }),
    ]),
  )
  const body = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    bucket: owner.bucket,
    prefix: owner.prefix,
    covered: state.covered,
    revision: state.revision,
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
  const { covered, revision, folders, rootFiles, listings } = value
  if (!isCount(covered) || !isCount(revision)) return { ok: false, reason: 'no journal position' }
  if (!isNameList(folders) || !isNameList(rootFiles) || !isRecord(listings))
    return { ok: false, reason: 'malformed top level' }
  const known = new Set(folders)
  const parsed = new Map<string, FolderListing>()
  const facts = new Map<string, FileFacts>()
  for (const [folder, entries] of Object.entries(listings)) {
    const files = known.has(folder) ? parseEntries(folder, entries, facts) : undefined
    if (files === undefined) return { ok: false, reason: `malformed listing of "${folder}"` }
    parsed.set(folder, { token: digest(files), files })
  }
  return { ok: true, state: { covered, revision, folders, rootFiles, listings: parsed, facts } }
}

// The facts of the entries go into `facts`, by key.
function parseEntries(folder: string, entries: unknown, facts: Map<string, FileFacts>): StoredFile[] | undefined {
  if (!Array.isArray(entries)) return undefined
  const list: readonly unknown[] = entries
  const files: StoredFile[] = []
  for (const entry of list) {
    if (!Array.isArray(entry) || (entry.length !== 4 && entry.length !== 5)) return undefined
    const fields: readonly unknown[] = entry
    const [name, etag, size, seconds, stored] = fields
    if (typeof name !== 'string' || !isPlainName(name) || typeof etag !== 'string' || etag !== plainEtag(etag))
      return undefined
    if (!isCount(size) || !isCount(seconds)) return undefined
    const file = describeObject(makeKey(folder, name), { etag, size, lastModified: new Date(seconds * 1000) })
    if (stored !== undefined) {
      const parsed = parseFileFacts(stored)
      if (parsed === undefined) return undefined
      facts.set(file.key, parsed)
    }
    files.push(file)
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
