// The storage seam: everything above it speaks keys ("<folder>/<filename>"), never paths.
import type { Readable } from 'node:stream'
import type { ByteRange } from '../core/range.js'

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

/** A file opened for reading; `file` describes the opened file itself, not an earlier stat. */
export interface OpenFile {
  readonly file: StoredFile
  /**
   * Stream [start, end] inclusive, or everything. May be called several times (random access,
   * e.g. a zip's central directory); the streams never close the file: call close().
   */
  createReadStream (range?: ByteRange): Readable
  /** Release the file. Safe to call more than once; streams still open are cut short. */
  close (): Promise<void>
}

/** Something that reports changes: `folder` is the folder whose files changed, undefined for the top level. */
export type ChangeListener = (folder: string | undefined) => void

/** A running watch; close() stops it. */
export interface Watch {
  close (): void
}

/** Where distributions live. Absent things are `undefined`, never an exception. */
export interface Storage {
  listRoot (): Promise<RootListing>
  /** undefined when the folder does not exist (or is not a folder inside the tree). */
  listFolder (folder: string): Promise<FolderListing | undefined>
  /** Cheap current token of the top level (folder undefined) or of a folder; undefined when gone. */
  changeToken (folder?: string): Promise<string | undefined>
  /** Open a file by key; undefined when it does not exist or is not a regular file inside the tree. */
  open (key: string): Promise<OpenFile | undefined>
  /** Report changes as they happen, where the backend can. */
  watch (listener: ChangeListener, onError: (err: Error) => void): Watch
}

/** Split a key into its folder and filename, or undefined when it is not a valid key. */
export function splitKey (key: string): { folder: string; filename: string } | undefined {
  const slash = key.indexOf('/')
  if (slash <= 0) return undefined
  const folder = key.slice(0, slash)
  const filename = key.slice(slash + 1)
  if (!isPlainName(folder) || !isPlainName(filename)) return undefined
  return { folder, filename }
}

/** Make a key from a folder and a filename. */
export function makeKey (folder: string, filename: string): string {
  return `${folder}/${filename}`
}

/**
 * A single path segment that cannot escape its folder: not empty, not hidden (which also
 * excludes "." and ".."), no "/", "\\" or control characters.
 */
export function isPlainName (name: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return name !== '' && !name.startsWith('.') && !/[/\\\u0000-\u001f\u007f]/.test(name)
}
