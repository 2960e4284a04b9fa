// The storage seam: everything above it speaks keys ("<folder>/<filename>"), never paths.
import type { SigningWindow } from '../core/download-redirect.js'
import type { Readable, Writable } from 'node:stream'
import type { FileFacts } from '../core/index-model.js'
import type { ByteRange } from '../core/range.js'
import type { StorageSpec } from './open-storage.js'

/** A stored file as seen by one stat. */
export interface StoredFile {
  /** "<folder>/<filename>", both plain names. */
  readonly key: string
  readonly size: number
  readonly mtimeMs: number
  /**
   * Changes whenever the bytes may have changed: device, inode, size, mtime and ctime for
   * local files. Used as the hash cache key and the download ETag.
   */
  readonly identity: string
}

/** The top level of the tree. */
export interface RootListing {
  /** Changes when folders or files are added to or removed from the top level. */
  readonly token: string
  readonly folders: readonly string[]
  readonly files: readonly string[]
}

/** One folder's regular files. */
export interface FolderListing {
  /** Changes when files are added to, removed from or renamed in the folder. */
  readonly token: string
  readonly files: readonly StoredFile[]
}

/**
 * What a read stream is piped to (a download's ServerResponse): the bytes it has taken and not
 * sent yet. A backend may then read into buffers it reuses once the sink holds nothing, instead
 * of a new buffer per read (createRangeStream).
 */
export interface StreamSink {
  readonly writableLength: number
  /** 'finish': everything written to it has been sent. */
  once(event: 'finish', listener: () => void): unknown
}

/** A file opened for reading; `file` describes the opened file itself, not an earlier stat. */
export interface OpenFile {
  readonly file: StoredFile
  /**
   * Stream [start, end] inclusive, or everything. May be called several times (random access,
   * e.g. a zip's central directory); the streams never close the file: call close().
   */
  createReadStream(range?: ByteRange, sink?: StreamSink): Readable
  /** Read [start, end] inclusive into memory in one go: for small ranges only (a small download). */
  read(range: ByteRange): Promise<Buffer>
  /**
   * Read up to `buffer.length` bytes from `position` into the caller's `buffer`: the count read,
   * 0 at the end. For a reader done with each chunk before the next (hashing), so no buffer is
   * allocated per read. Optional: a backend that only streams (S3) leaves it out.
   */
  readonly readInto?: (buffer: Buffer, position: number) => Promise<number>
  /**
   * Present when `file` was taken from a listing (OpenOptions.listed) without asking the store:
   * a stream of [start, end] (or everything) returned once the store has answered for that
   * very version, or rejected with FileChangedError when the file is another version now or
   * gone; nothing was sent then, so the caller opens it again without `listed`. read() fails
   * the same way.
   */
  readonly startReadStream?: (range: ByteRange | undefined, sink?: StreamSink) => Promise<Readable>
  /** Release the file. Safe to call more than once; streams still open are cut short. */
  close(): Promise<void>
}

/** Options of Storage.open(). */
export interface OpenOptions {
  /**
   * The identity a listing gave for this key: lets a backend skip re-checking where the file
   * lives when it finds that very file. The opened file is described as it is, whatever it is.
   */
  readonly expected?: string
  /**
   * The file as the listing the index holds describes it. A backend whose look-up of a file
   * costs a round trip (S3's HEAD) may describe the opened file from it instead, provided its
   * reads only ever return bytes of that version (OpenFile.startReadStream).
   */
  readonly listed?: StoredFile
}

/** Something that reports changes: `folder` is the folder whose files changed, undefined for the top level. */
export type ChangeListener = (folder: string | undefined) => void

/** A running watch; close() stops it. */
export interface Watch {
  close(): void
}

/** What publishing a finished upload did. */
export type CommitResult =
  | { readonly outcome: 'created' | 'replaced'; readonly file: StoredFile }
  /** A file of that name exists and `replace` was false: nothing changed (abort() the upload). */
  | { readonly outcome: 'exists' }

/** Options of PendingUpload.commit(). */
export interface CommitOptions {
  /** Swap an existing file of that name (--overwrite) instead of leaving it. */
  readonly replace: boolean
  /**
   * The facts computed while the bytes streamed in: a backend with stored facts keeps them
   * beside the file before the change is announced, so no reader ever hashes it.
   */
  readonly facts?: FileFacts
}

/**
 * Facts of files kept in the store beside them (a bucket shared by several replicas), so a
 * file is hashed once, by whichever replica meets it first, and never again by the others.
 */
export interface StoredFacts {
  /** The facts stored for this very file (the same identity), or undefined. */
  read(file: Pick<StoredFile, 'key' | 'identity'>): Promise<FileFacts | undefined>
  /** Keep the facts of `file` beside it. */
  write(file: Pick<StoredFile, 'key' | 'identity'>, facts: FileFacts): Promise<void>
}

/**
 * A file being written under a hidden temporary name, never listed and never served, until
 * commit() publishes it atomically under its key: nobody ever sees it half-written.
 */
export interface PendingUpload {
  /** The bytes go here; it must have finished before commit(). Write errors carry stable codes (WriteFailure). */
  readonly writable: Writable
  /** Bytes written so far. */
  readonly size: number
  /** Stream bytes [start, end] of what was written: random access, e.g. to read a wheel's metadata before publishing. */
  createReadStream(range: ByteRange): Readable
  /**
   * Flush the bytes to stable storage, then publish them as `key` (creating its folder when
   * needed). Without `replace`, an existing file is never touched: of several uploads of one
   * key exactly one is created, the others get `exists`. With `replace`, the file is swapped
   * atomically.
   */
  commit(key: string, options: CommitOptions): Promise<CommitResult>
  /** Drop the temporary file. Safe to call more than once, and after commit(). */
  abort(): Promise<void>
}

/** Where distributions live. Absent things are `undefined`, never an exception. */
export interface Storage {
  listRoot(): Promise<RootListing>
  /** undefined when the folder does not exist (or is not a folder inside the tree). */
  listFolder(folder: string): Promise<FolderListing | undefined>
  /**
   * The whole tree's folders are about to be listed, in this order (optional: a backend that
   * lists them faster knowing it, until close()).
   */
  prefetchFolders?(folders: readonly string[]): { close(): void }
  /** Cheap current token of the top level (folder undefined) or of a folder; undefined when gone. */
  changeToken(folder?: string): Promise<string | undefined>
  /** Open a file by key; undefined when it does not exist or is not a regular file inside the tree. */
  open(key: string, options?: OpenOptions): Promise<OpenFile | undefined>
  /**
   * The identity `key` has right now (as StoredFile.identity), from one synchronous stat of its
   * name: only for backends where that costs microseconds (local files), so that a cached copy
   * of a file can be checked on every request. A hint: undefined when absent or unreadable.
   * It does not check where the name leads: compare it with the identity of a file open() gave.
   */
  currentIdentity?(key: string): string | undefined
  /**
   * Before a reconcile reads the top level and every folder again: bring the listings up to
   * date in fewer requests than one per folder, where the backend can (S3: one flat listing).
   */
  refreshListings?(): Promise<void>
  /** Report changes as they happen, where the backend can. */
  watch(listener: ChangeListener, onError: (err: Error) => void): Watch
  /**
   * Start writing a file that is to become a key in `folder`. The temporary file is hidden
   * and lives next to its destination (in the top level while the folder does not exist yet).
   */
  createUpload(folder: string): Promise<PendingUpload>
  /** Delete a stored file; false when it was not there. */
  remove(key: string): Promise<boolean>
  /** Delete a folder if nothing at all is left in it; false otherwise. */
  removeFolderIfEmpty(folder: string): Promise<boolean>
  /** Where the backend keeps facts beside the files; absent when it keeps none (a local folder). */
  readonly storedFacts?: StoredFacts
  /**
   * A URL that GETs `key` straight from the store, signed at `window.signingDate` and valid for
   * `window.expiresInSeconds` (--download-redirect presigned); absent where the backend has
   * no such URLs (a local folder).
   */
  presign?(key: string, window: SigningWindow): Promise<string>
}

/** Split a key into its folder and filename, or undefined when it is not a valid key. */
export function splitKey(key: string): { folder: string; filename: string } | undefined {
  const slash = key.indexOf('/')
  if (slash <= 0) return undefined
  const folder = key.slice(0, slash)
  const filename = key.slice(slash + 1)
  if (!isPlainName(folder) || !isPlainName(filename)) return undefined
  return { folder, filename }
}

/** Make a key from a folder and a filename. */
export function makeKey(folder: string, filename: string): string {
  // join() builds a flat string; a template literal builds a V8 cons string, which becomes
  // two objects once hashed. Keys live as long as their files are indexed: 100,000 of them.
  // What it buys: the `npm run bench` row "peak RSS (VmHWM) of the instance that was loaded"
  // at 10,000 × 10 (target < 300 MB). 100,000 keys of the bench tree's shape held in a Map
  // take 9.6 MiB of heap built with join() and 15.0 MiB with a template literal (node 20,
  // heapUsed after gc). Keep it unless that row says otherwise.
  return [folder, filename].join('/')
}

/**
 * A single path segment that cannot escape its folder: not empty, not hidden (which also
 * excludes "." and ".."), no "/", "\\" or control characters.
 */
export function isPlainName(name: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return name !== '' && !name.startsWith('.') && !/[/\\\u0000-\u001f\u007f]/.test(name)
}

/** What a start-up probe found out about create-only writes. */
export interface ConditionalWriteProbe {
  /** True when a second create-only write of an existing key was refused, as it must be. */
  readonly enforced: boolean
  /** One line for the log: what was tried and what happened. */
  readonly detail: string
}

/**
 * A storage as the daemon runs it: the seam, plus what start-up, the persistent cache and
 * worker threads need. LocalStorage and S3Storage implement it.
 */
export interface StorageBackend extends Storage {
  /** Where the files are, for the operator's messages: the eggdir as given, or s3://bucket/prefix. */
  readonly location: string
  /** Names the tree in the persistent cache, so two trees never share entries. */
  readonly cacheNamespace: string
  /** How a worker thread opens this storage again. */
  readonly spec: StorageSpec
  /** Delete what interrupted uploads left behind, older than `olderThanMs`; returns how many. */
  sweepUploads(olderThanMs: number): Promise<number>
  /** Check that a second create-only write of one key is refused (several writers rely on it). */
  probeConditionalWrites(): Promise<ConditionalWriteProbe>
}
