// Storage over a local directory: one sub-folder per project.
import { constants, statSync, type BigIntStats, type Dirent } from 'node:fs'
import { open, readdir, realpath, stat } from 'node:fs/promises'
import { join, sep } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { errnoCode, LayoutError, StorageError } from '../errors.js'
import type { ByteRange } from '../core/range.js'
import { createLocalUpload, removeLocalFile, removeLocalFolderIfEmpty, sweepLocalUploads, type UploadRoot } from './local-upload.js'
import { watchTree } from './local-watch.js'
import { createRangeStream } from './range-stream.js'
import {
  isPlainName, makeKey, splitKey,
  type ChangeListener, type FolderListing, type OpenFile, type PendingUpload, type RootListing, type Storage, type StoredFile, type Watch,
} from './storage.js'

// Errors meaning "not there (any more)": the caller gets undefined, as the Storage contract says.
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ELOOP'])

/** Storage backed by a directory on a local (or network) filesystem. */
export class LocalStorage implements Storage {
  readonly #root: string
  readonly #realRoot: string
  readonly #log: FastifyBaseLogger
  readonly #uploads: UploadRoot

  private constructor (root: string, realRoot: string, log: FastifyBaseLogger) {
    this.#root = root
    this.#realRoot = realRoot
    this.#log = log
    this.#uploads = { realRoot, log, describe: toStoredFile }
  }

  /** Open a tree; fails with a LayoutError naming `root` as given when it is not a readable directory. */
  static async create (root: string, log: FastifyBaseLogger): Promise<LocalStorage> {
    let realRoot: string
    try {
      realRoot = await realpath(root)
      const info = await stat(realRoot)
      if (!info.isDirectory()) throw new LayoutError(`Cannot serve "${root}": not a directory`)
      await readdir(realRoot)
    } catch (err) {
      if (err instanceof LayoutError) throw err
      throw new LayoutError(`Cannot serve "${root}": ${describeErrno(err)}`, { cause: err })
    }
    return new LocalStorage(root, realRoot, log.child({ component: 'storage' }))
  }

  async listRoot (): Promise<RootListing> {
    const token = await this.changeToken()
    if (token === undefined) throw new StorageError('The eggdir has disappeared')
    const entries = await this.#readdir(this.#realRoot)
    const folders: string[] = []
    const files: string[] = []
    await Promise.all(entries.map(async (entry) => {
      const kind = await this.#kindOf(this.#realRoot, entry)
      if (kind === 'folder') folders.push(entry.name)
      else if (kind === 'file') files.push(entry.name)
    }))
    return { token, folders, files }
  }

  async listFolder (folder: string): Promise<FolderListing | undefined> {
    if (!isPlainName(folder)) return undefined
    const token = await this.changeToken(folder)
    if (token === undefined) return undefined
    const dir = join(this.#realRoot, folder)
    if (!(await this.#contained(dir))) return undefined
    let entries: Dirent[]
    try {
      entries = await this.#readdir(dir)
    } catch (err) {
      if (ABSENT.has(errnoCode(err) ?? '')) return undefined
      throw err
    }
    const files: StoredFile[] = []
    await Promise.all(entries.map(async (entry) => {
      if ((await this.#kindOf(dir, entry)) !== 'file') return
      const info = await statOrUndefined(join(dir, entry.name))
      if (info?.isFile() === true) files.push(toStoredFile(makeKey(folder, entry.name), info))
    }))
    return { token, files }
  }

  changeToken (folder?: string): Promise<string | undefined> {
    if (folder !== undefined && !isPlainName(folder)) return Promise.resolve(undefined)
    // Synchronous on purpose: it runs on every request, and a stat of a cached directory takes
    // about a microsecond, much less than a round trip through libuv's thread pool, which the
    // hashing workers keep busy during warm-up (nginx, too, stats in its event loop).
    const info = statSyncOrUndefined(folder === undefined ? this.#realRoot : join(this.#realRoot, folder))
    if (info?.isDirectory() !== true) return Promise.resolve(undefined)
    // A directory's mtime and ctime change whenever an entry is added, removed or renamed.
    return Promise.resolve(`${info.ino}:${info.mtimeNs}:${info.ctimeNs}`)
  }

  async open (key: string): Promise<OpenFile | undefined> {
    const parts = splitKey(key)
    if (parts === undefined) return undefined
    let real: string
    try {
      real = await realpath(join(this.#realRoot, parts.folder, parts.filename))
    } catch (err) {
      if (ABSENT.has(errnoCode(err) ?? '')) return undefined
      throw this.#failure('resolve', key, err)
    }
    if (!real.startsWith(this.#realRoot + sep)) {
      this.#log.warn({ key }, 'Refusing a file whose real path is outside the eggdir')
      return undefined
    }
    // Open once, then describe the opened descriptor: the headers and the bytes come from the
    // same file even if the name is replaced meanwhile. @fastify/static stats and then opens
    // by name again, which can pair one file's headers with another's bytes. O_NOFOLLOW stops
    // a symlink swapped in after realpath().
    let handle
    try {
      // O_NONBLOCK: if a FIFO was swapped in, open() must not hang waiting for a writer.
      handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    } catch (err) {
      if (ABSENT.has(errnoCode(err) ?? '')) return undefined
      throw this.#failure('open', key, err)
    }
    try {
      const info = await handle.stat({ bigint: true })
      if (!info.isFile()) {
        await handle.close()
        return undefined
      }
      const file = toStoredFile(key, info)
      let closing: Promise<void> | undefined
      return {
        file,
        createReadStream: (range?: ByteRange) => createRangeStream(handle, range?.start ?? 0, range?.end ?? file.size - 1),
        close: () => (closing ??= handle.close()),
      }
    } catch (err) {
      await handle.close()
      throw this.#failure('stat', key, err)
    }
  }

  watch (listener: ChangeListener, onError: (err: Error) => void): Watch {
    return watchTree(this.#realRoot, listener, onError)
  }

  createUpload (folder: string): Promise<PendingUpload> {
    return createLocalUpload(this.#uploads, folder)
  }

  remove (key: string): Promise<boolean> {
    return removeLocalFile(this.#uploads, key)
  }

  removeFolderIfEmpty (folder: string): Promise<boolean> {
    return removeLocalFolderIfEmpty(this.#uploads, folder)
  }

  /** Delete temporary upload files older than `olderThanMs` (left by a crash); returns how many. */
  sweepUploads (olderThanMs: number): Promise<number> {
    return sweepLocalUploads(this.#uploads, olderThanMs)
  }

  /** The tree as given, for messages to the operator (never to HTTP clients). */
  get root (): string {
    return this.#root
  }

  /** The tree's real path: what worker threads open again, and what identifies its cache. */
  get realRoot (): string {
    return this.#realRoot
  }

  async #readdir (dir: string): Promise<Dirent[]> {
    const entries = await readdir(dir, { withFileTypes: true })
    return entries.filter((entry) => isPlainName(entry.name))
  }

  // Regular files and folders count; symlinks count as what they point to, if that stays inside the tree.
  async #kindOf (dir: string, entry: Dirent): Promise<'file' | 'folder' | undefined> {
    if (entry.isFile()) return 'file'
    if (entry.isDirectory()) return 'folder'
    if (!entry.isSymbolicLink()) return undefined
    const path = join(dir, entry.name)
    if (!(await this.#contained(path))) return undefined
    const info = await statOrUndefined(path)
    if (info === undefined) return undefined
    return info.isFile() ? 'file' : info.isDirectory() ? 'folder' : undefined
  }

  async #contained (path: string): Promise<boolean> {
    try {
      const real = await realpath(path)
      if (real.startsWith(this.#realRoot + sep)) return true
      this.#log.warn({ path: path.slice(this.#realRoot.length + 1) }, 'Skipping a symlink that leads outside the eggdir')
      return false
    } catch {
      return false
    }
  }

  #failure (action: string, key: string, err: unknown): StorageError {
    this.#log.error({ err, key }, `Cannot ${action} a stored file`)
    return new StorageError(`Cannot ${action} "${key}": ${describeErrno(err)}`, { cause: err })
  }
}

function toStoredFile (key: string, info: BigIntStats): StoredFile {
  return {
    key,
    size: Number(info.size),
    mtimeMs: Number(info.mtimeNs / 1_000_000n),
    identity: `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`,
  }
}

function statSyncOrUndefined (path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true })
  } catch (err) {
    if (ABSENT.has(errnoCode(err) ?? '')) return undefined
    throw err
  }
}

async function statOrUndefined (path: string): Promise<BigIntStats | undefined> {
  try {
    return await stat(path, { bigint: true })
  } catch (err) {
    if (ABSENT.has(errnoCode(err) ?? '')) return undefined
    throw err
  }
}

function describeErrno (err: unknown): string {
  switch (errnoCode(err)) {
    case 'ENOENT': return 'no such directory'
    case 'ENOTDIR': return 'not a directory'
    case 'EACCES':
    case 'EPERM': return 'permission denied'
    case 'ELOOP': return 'too many symbolic links'
    case 'EMFILE':
    case 'ENFILE': return 'too many open files'
    default: return 'unexpected filesystem error'
  }
}
