// Writing uploads into a local tree: a hidden temporary file next to its destination, fsync,
// then link() (never replaces: exactly one of several racing uploads wins) or rename() (replaces
// atomically). Either way the final name never exists half-written.
import { randomBytes } from 'node:crypto'
import { constants, type Stats } from 'node:fs'
import { link, mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { ByteRange } from '../core/range.js'
import { describeErrno, errnoCode, isAbsent, StorageError, WriteFailure } from '../errors.js'
import { createRangeStream } from './range-stream.js'
import { isPlainName, splitKey, type CommitResult, type PendingUpload, type StoredFile } from './storage.js'

/** Temporary upload files: hidden (never listed), recognisable (swept at start-up). */
export const UPLOAD_TEMP = /^\.upload-[0-9a-f]{16}\.tmp$/

/** What the upload functions need to know of their LocalStorage. */
export interface UploadRoot {
  readonly realRoot: string
  readonly log: FastifyBaseLogger
  /** Describe a stat as the StoredFile of `key` (the same identity listings use). */
  readonly describe: (key: string, info: Stats) => StoredFile
}

/** Start an upload into `folder` (see Storage.createUpload). */
export async function createLocalUpload(root: UploadRoot, folder: string): Promise<PendingUpload> {
  if (!isPlainName(folder)) throw new TypeError(`not a folder name: ${folder}`)
  const folderPath = join(root.realRoot, folder)
  let dir: string
  try {
    dir = (await isDirectory(folderPath)) ? folderPath : root.realRoot
  } catch (err) {
    throw writeFailure('look for the project folder', err)
  }
  const tempPath = join(dir, `.upload-${randomBytes(8).toString('hex')}.tmp`)
  let handle: FileHandle
  try {
    handle = await open(tempPath, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644)
  } catch (err) {
    throw writeFailure('create a temporary upload file', err)
  }
  return new LocalUpload(root, handle, tempPath)
}

class LocalUpload implements PendingUpload {
  readonly writable: Writable
  readonly #root: UploadRoot
  readonly #handle: FileHandle
  readonly #tempPath: string
  #size = 0
  #finished = false
  #settled = false
  #aborting: Promise<void> | undefined

  constructor(root: UploadRoot, handle: FileHandle, tempPath: string) {
    this.#root = root
    this.#handle = handle
    this.#tempPath = tempPath
    this.writable = new Writable({
      highWaterMark: 1024 * 1024,
      writev: (chunks, callback) => {
        this.#writeAll(chunks.map(({ chunk }) => chunk as Buffer)).then(
          () => {
            callback()
          },
          (err: unknown) => {
            callback(writeFailure('write an upload', err))
          },
        )
      },
      final: (callback) => {
        this.#finished = true
        callback()
      },
    })
  }

  // A nearly full disk takes part of a write: the rest is written again, and fails with ENOSPC.
  async #writeAll(buffers: Buffer[]): Promise<void> {
    let pending = buffers
    while (pending.length > 0) {
      const { bytesWritten } = await this.#handle.writev(pending, this.#size)
      if (bytesWritten === 0) throw new StorageError('A write to a temporary upload file wrote nothing')
      this.#size += bytesWritten
      pending = skipBytes(pending, bytesWritten)
    }
  }

  get size(): number {
    return this.#size
  }

  createReadStream(range: ByteRange): ReturnType<PendingUpload['createReadStream']> {
    return createRangeStream(this.#handle.fd, range.start, range.end)
  }

  async commit(key: string, options: { readonly replace: boolean }): Promise<CommitResult> {
    const parts = splitKey(key)
    if (parts === undefined) throw new TypeError(`not a key: ${key}`)
    if (!this.#finished || this.#settled) throw new Error('commit() needs a finished, unsettled upload')
    const folderPath = join(this.#root.realRoot, parts.folder)
    const finalPath = join(folderPath, parts.filename)
    try {
      await this.#handle.sync()
      const before = await this.#handle.stat()
      const outcome = await publish({
        tempPath: this.#tempPath,
        folderPath,
        finalPath,
        replace: options.replace,
        root: this.#root.realRoot,
      })
      if (outcome === 'exists') return { outcome }
      this.#settled = true
      if (outcome === 'created') await unlinkQuietly(this.#tempPath)
      await syncDirectory(folderPath)
      // The identity listings will see: after link/unlink/rename, which change the ctime.
      const after = await this.#handle.stat()
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
        this.#root.log.warn({ key }, 'A just-published upload was changed by someone else')
      }
      await this.#handle.close()
      return { outcome, file: this.#root.describe(key, after) }
    } catch (err) {
      if (err instanceof WriteFailure || err instanceof StorageError) throw err
      throw writeFailure('publish an upload', err)
    }
  }

  abort(): Promise<void> {
    this.#aborting ??= this.#abort()
    return this.#aborting
  }

  async #abort(): Promise<void> {
    this.writable.destroy()
    await this.#handle.close().catch(() => undefined)
    if (this.#settled) return
    this.#settled = true
    try {
      await unlinkQuietly(this.#tempPath)
    } catch (err) {
      this.#root.log.error({ err }, 'Cannot remove a temporary upload file')
    }
  }
}

function skipBytes(buffers: readonly Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = []
  let skip = count
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length
      continue
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer)
    skip = 0
  }
  return rest
}

type Published = 'created' | 'replaced' | 'exists'

// link() fails with EEXIST instead of replacing: the one atomic "create if absent" for a
// complete file. rename() replaces atomically. A folder removed meanwhile (remove_pkg of its
// last release) is created again.
async function publish(paths: {
  tempPath: string
  folderPath: string
  finalPath: string
  replace: boolean
  root: string
}): Promise<Published> {
  for (let attempt = 0; ; attempt++) {
    const created = await ensureFolder(paths.folderPath)
    if (created) await syncDirectory(paths.root)
    try {
      await link(paths.tempPath, paths.finalPath)
      return 'created'
    } catch (err) {
      const code = errnoCode(err)
      if (code === 'EEXIST') {
        if (!paths.replace) return 'exists'
        await rename(paths.tempPath, paths.finalPath)
        return 'replaced'
      }
      if (code !== 'ENOENT' || attempt >= 2) throw err
    }
  }
}

async function ensureFolder(folderPath: string): Promise<boolean> {
  try {
    await mkdir(folderPath)
    return true
  } catch (err) {
    if (errnoCode(err) === 'EEXIST' && (await isDirectory(folderPath))) return false
    throw err
  }
}

// A missing folder (or a file in its place) is "no"; a failure to look (EACCES, EIO) is an error.
async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch (err) {
    if (isAbsent(err)) return false
    throw err
  }
}

async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err
  }
}

/** Remove a stored file (see Storage.remove). */
export async function removeLocalFile(root: UploadRoot, key: string): Promise<boolean> {
  const parts = splitKey(key)
  if (parts === undefined) return false
  try {
    await unlink(join(root.realRoot, parts.folder, parts.filename))
    return true
  } catch (err) {
    if (isAbsent(err)) return false
    throw writeFailure('remove a file', err)
  }
}

/** Remove a folder when it is empty (see Storage.removeFolderIfEmpty). */
export async function removeLocalFolderIfEmpty(root: UploadRoot, folder: string): Promise<boolean> {
  if (!isPlainName(folder)) return false
  try {
    await rmdir(join(root.realRoot, folder))
    return true
  } catch (err) {
    const code = errnoCode(err)
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT' || code === 'ENOTDIR') return false
    throw writeFailure('remove an empty folder', err)
  }
}

/** Delete temporary upload files older than `olderThanMs` left by a crash; returns how many. */
export async function sweepLocalUploads(root: UploadRoot, olderThanMs: number): Promise<number> {
  const folders = ['']
  for (const entry of await readdir(root.realRoot, { withFileTypes: true })) {
    if (entry.isDirectory() && isPlainName(entry.name)) folders.push(entry.name)
  }
  let removed = 0
  const limit = Date.now() - olderThanMs
  for (const folder of folders) {
    const dir = join(root.realRoot, folder)
    const names = await readdir(dir).catch((err: unknown) => {
      // Removed meanwhile: nothing to sweep. Unreadable: worth a warning; the others are swept.
      if (!isAbsent(err)) root.log.warn({ err, folder }, 'Cannot look for temporary upload files in a folder')
      return []
    })
    for (const name of names.filter((candidate) => UPLOAD_TEMP.test(candidate))) {
      try {
        if ((await stat(join(dir, name))).mtimeMs > limit) continue
        await unlink(join(dir, name))
        removed++
      } catch (err) {
        root.log.warn({ err, name }, 'Cannot remove a stale temporary upload file')
      }
    }
  }
  return removed
}

/**
 * A write error as the operator and the uploader should see it: a full disk (507), a read-only
 * filesystem or missing permissions (500, with a message naming no path), or a masked StorageError.
 * The system error is its cause. Not logged here: whoever handles the failure logs it, once
 * (for a request, the error handler).
 */
export function writeFailure(action: string, err: unknown): WriteFailure | StorageError {
  switch (errnoCode(err)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new WriteFailure(
        'EGGSERVE_DISK_FULL',
        'Insufficient Storage: the disk holding the package folder is full',
        { cause: err },
      )
    case 'EROFS':
      return new WriteFailure(
        'EGGSERVE_READ_ONLY',
        'Cannot store the upload: the package folder is on a read-only filesystem',
        { cause: err },
      )
    case 'EACCES':
    case 'EPERM':
      return new WriteFailure(
        'EGGSERVE_WRITE_DENIED',
        'Cannot store the upload: the server may not write to the package folder',
        { cause: err },
      )
    default:
      return new StorageError(`Cannot ${action}: ${describeErrno(err)}`, { cause: err })
  }
}
