// Storage over a local directory: one sub-folder per project.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  realpathSync,
  statSync,
  type Dirent,
  type Stats,
} from 'node:fs'
import { open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises'
import { join, sep } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { describeErrno, errnoCode, LayoutError, StorageError } from '../errors.js'
import type { ByteRange } from '../core/range.js'
import {
  createLocalUpload,
  removeLocalFile,
  removeLocalFolderIfEmpty,
  sweepLocalUploads,
  type UploadRoot,
} from './local-upload.js'
import { FolderPrefetch, PREFETCH_FROM_FOLDERS, RUN } from './folder-prefetch.js'
import { ABSENT, identityOf, tokenOf, toStoredFile } from './local-listing.js'
import { watchTree } from './local-watch.js'
import type { LocalStorageSpec } from './open-storage.js'
import { createRangeStream, readInto, readRange } from './range-stream.js'
import {
  isPlainName,
  makeKey,
  splitKey,
  type ChangeListener,
  type ConditionalWriteProbe,
  type FolderListing,
  type OpenFile,
  type OpenOptions,
  type PendingUpload,
  type RootListing,
  type StorageBackend,
  type StoredFile,
  type StreamSink,
  type Watch,
} from './storage.js'

/** Options of LocalStorage.create(). */
export interface LocalStorageOptions {
  readonly blocking?: boolean
  /** From how many folders a load is listed on two threads, in runs of how many (default 2,000 and 64). */
  readonly prefetch?: { readonly folders: number; readonly run: number }
}

/** Storage backed by a directory on a local (or network) filesystem. */
export class LocalStorage implements StorageBackend {
  readonly #root: string
  readonly #realRoot: string
  readonly #log: FastifyBaseLogger
  readonly #blocking: boolean
  readonly #uploads: UploadRoot
  readonly #prefetchFrom: { readonly folders: number; readonly run: number }
  /** The worker listing folders beside the main thread while the tree is loaded. */
  #prefetch: FolderPrefetch | undefined
  #prefetchedBefore = 0

  private constructor(root: string, realRoot: string, log: FastifyBaseLogger, options: LocalStorageOptions) {
    this.#root = root
    this.#realRoot = realRoot
    this.#log = log
    this.#blocking = options.blocking ?? false
    this.#prefetchFrom = options.prefetch ?? { folders: PREFETCH_FROM_FOLDERS, run: RUN }
    this.#uploads = { realRoot, log, describe: toStoredFile }
  }

  /**
   * Open a tree; fails with a LayoutError naming `root` as given when it is not a readable
   * directory. `blocking` makes reads synchronous: for worker threads, where blocking costs
   * nothing and libuv's thread pool round trips dominate the reading of small files.
   */
  static async create(root: string, log: FastifyBaseLogger, options: LocalStorageOptions = {}): Promise<LocalStorage> {
    let realRoot: string
    try {
      realRoot = await realpath(root)
      const info = await stat(realRoot)
      if (!info.isDirectory()) throw new LayoutError(`Cannot serve "${root}": not a directory`)
      await readdir(realRoot)
    } catch (err) {
      if (err instanceof LayoutError) throw err
      throw new LayoutError(`Cannot serve "${root}": ${describeErrno(err, 'directory')}`, { cause: err })
    }
    return new LocalStorage(root, realRoot, log.child({ component: 'storage' }), options)
  }

  // Listings are read with synchronous calls on purpose: at start-up there is nothing else to
  // do, and 110,000 stats through libuv's thread pool take seconds where direct calls take a
  // fraction of one; on the request path a folder is re-read only after it changed, and a
  // project folder's few stats cost microseconds (nginx, too, stats in its event loop).
  // `npm run bench` rows: "cold start: spawn → listening" and "warm restart (same cache dir):
  // spawn → `/health/ready` 200" at 10,000 × 10 (target < 3 s); measure with
  // `npm run bench -- --projects 10000 --only startup` against readdir/stat from fs/promises.
  listRoot(): Promise<RootListing> {
    const token = this.#token(this.#realRoot)
    if (token === undefined) return Promise.reject(new StorageError('The eggdir has disappeared'))
    const folders: string[] = []
    const files: string[] = []
    for (const entry of this.#readdir(this.#realRoot) ?? []) {
      const kind = this.#kindOf(this.#realRoot, entry)
      if (kind === 'folder') folders.push(entry.name)
      else if (kind !== undefined) files.push(entry.name)
    }
    return Promise.resolve({ token, folders, files })
  }

  listFolder(folder: string): Promise<FolderListing | undefined> {
    const prefetched = this.#prefetch?.take(folder)
    if (prefetched !== undefined)
      return prefetched.then((listing) => (listing === 'declined' ? this.#listFolder(folder) : listing))
    return Promise.resolve(this.#listFolder(folder))
  }

  /**
   * The tree's folders are about to be listed in this order (the start-up load): with
   * `prefetch.folders` of them or more, a worker thread lists every other run of them meanwhile
   * (folder-prefetch.ts), until close(). listFolder() answers the same either way.
   */
  prefetchFolders(folders: readonly string[]): { close(): void } {
    if (folders.length < this.#prefetchFrom.folders || this.#prefetch !== undefined) return { close: () => undefined }
    const prefetch = new FolderPrefetch(this.#realRoot, folders, this.#prefetchFrom.run)
    this.#prefetch = prefetch
    return {
      close: () => {
        prefetch.close()
        if (this.#prefetch !== prefetch) return
        this.#prefetch = undefined
        this.#prefetchedBefore += prefetch.taken
      },
    }
  }

  /** Folders a worker thread listed for listFolder() (see prefetchFolders()). */
  get prefetched(): number {
    return this.#prefetchedBefore + (this.#prefetch?.taken ?? 0)
  }

  #listFolder(folder: string): FolderListing | undefined {
    if (!isPlainName(folder)) return undefined
    // Paths are concatenated, not join()ed: both parts are plain names (see currentIdentity()),
    // and join()'s normalizing cost a tenth of the listing's time at 100,000 files.
    const dir = this.#realRoot + sep + folder
    const info = lstatSyncOrUndefined(dir)
    // A folder that is a symlink must lead somewhere inside the tree.
    if (info === undefined || (info.isSymbolicLink() && !this.#contained(dir))) return undefined
    // A real directory's lstat is its stat: one system call per folder fewer (10,000 at start-up).
    const token = info.isDirectory() ? tokenOf(info) : this.#token(dir)
    if (token === undefined) return undefined
    const files: StoredFile[] = []
    for (const entry of this.#readdir(dir) ?? []) {
      const kind = this.#kindOf(dir, entry)
      if (kind === undefined || kind === 'folder') continue
      const stats = kind === 'file' ? statSyncOrUndefined(dir + sep + entry.name) : kind
      if (stats?.isFile() === true) files.push(toStoredFile(makeKey(folder, entry.name), stats))
    }
    return { token, files }
  }

  changeToken(folder?: string): Promise<string | undefined> {
    if (folder !== undefined && !isPlainName(folder)) return Promise.resolve(undefined)
    return Promise.resolve(this.#token(folder === undefined ? this.#realRoot : join(this.#realRoot, folder)))
  }

  // Synchronous on purpose: it runs on every request, and a stat of a cached directory takes
  // about a microsecond, much less than a round trip through libuv's thread pool, which the
  // hashing workers keep busy during warm-up. `npm run bench` rows: "`/simple/<p>/` (HTML)",
  // "`/simple/<p>/` (JSON)" and "`/<folder>/` (HTML)" (req/s and p99); measure with
  // `npm run bench -- --projects 1000 --only simple-html,simple-json,legacy` against
  // `await stat()` here.
  #token(dir: string): string | undefined {
    const info = statSyncOrUndefined(dir)
    return info?.isDirectory() === true ? tokenOf(info) : undefined
  }

  async open(key: string, options: OpenOptions = {}): Promise<OpenFile | undefined> {
    const parts = splitKey(key)
    if (parts === undefined) return undefined
    // Fast path: the very inode a listing found inside the tree (same device and inode) is
    // inside the tree; anything else (a folder swapped for a symlink, a symlinked file,
    // ELOOP from O_NOFOLLOW) takes the realpath check below.
    if (options.expected !== undefined) {
      const opened = await this.#openAt(join(this.#realRoot, parts.folder, parts.filename), key, true)
      if (opened !== undefined && options.expected.startsWith(`${opened.info.dev}:${opened.info.ino}:`))
        return this.#describe(key, opened)
      await opened?.close()
    }
    let real: string
    try {
      real = await realpath(join(this.#realRoot, parts.folder, parts.filename))
    } catch (err) {
      if (ABSENT.has(errnoCode(err) ?? '')) return undefined
      throw storageFailure('resolve', key, err)
    }
    if (!real.startsWith(this.#realRoot + sep)) {
      this.#log.warn({ key }, 'Refusing a file whose real path is outside the eggdir')
      return undefined
    }
    const opened = await this.#openAt(real, key, false)
    return opened === undefined ? undefined : this.#describe(key, opened)
  }

  // Synchronous on purpose, as #token: it runs on every download of a cached small file, and
  // one stat of a cached directory entry costs far less than a trip through libuv's thread pool.
  // The path is concatenated, not join()ed: splitKey() leaves two plain names, which join()
  // would not change, and its normalizing cost more than the rest of this method but the stat.
  currentIdentity(key: string): string | undefined {
    const parts = splitKey(key)
    if (parts === undefined) return undefined
    let info: Stats | undefined
    try {
      info = statSync(this.#realRoot + sep + parts.folder + sep + parts.filename, { throwIfNoEntry: false })
    } catch {
      // Only a hint: the caller opens the file, which reports what went wrong.
      return undefined
    }
    return info?.isFile() === true ? identityOf(info) : undefined
  }

  // Open once, then describe the opened descriptor: the headers and the bytes come from the
  // same file even if the name is replaced meanwhile. @fastify/static stats and then opens
  // by name again, which can pair one file's headers with another's bytes. O_NOFOLLOW stops
  // a symlink swapped in after realpath(); O_NONBLOCK keeps a FIFO swapped in from hanging open().
  async #openAt(path: string, key: string, quiet: boolean): Promise<OpenedFd | undefined> {
    let opened: OpenedFd
    const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK
    try {
      if (this.#blocking) {
        const fd = openSync(path, flags)
        opened = {
          fd,
          info: fstatSyncOrClose(fd),
          close: () => {
            closeSync(fd)
            return Promise.resolve()
          },
        }
      } else {
        const handle = await open(path, flags)
        opened = { fd: handle.fd, info: await statOrClose(handle), close: () => handle.close() }
      }
    } catch (err) {
      // Quiet: the fast path's miss; the realpath path after it reports any real error.
      if (quiet || ABSENT.has(errnoCode(err) ?? '')) return undefined
      throw storageFailure('open', key, err)
    }
    if (opened.info.isFile()) return opened
    await opened.close()
    return undefined
  }

  #describe(key: string, opened: OpenedFd): OpenFile {
    const file = toStoredFile(key, opened.info)
    let closing: Promise<void> | undefined
    return {
      file,
      createReadStream: (range?: ByteRange, sink?: StreamSink) =>
        createRangeStream(opened.fd, range?.start ?? 0, range?.end ?? file.size - 1, this.#blocking, sink),
      read: (range: ByteRange) => readRange(opened.fd, range.start, range.end),
      readInto: (buffer: Buffer, position: number) => readInto(opened.fd, buffer, position, this.#blocking),
      close: () => (closing ??= opened.close()),
    }
  }

  watch(listener: ChangeListener, onError: (err: Error) => void): Watch {
    return watchTree(this.#realRoot, listener, onError)
  }

  createUpload(folder: string): Promise<PendingUpload> {
    return createLocalUpload(this.#uploads, folder)
  }

  remove(key: string): Promise<boolean> {
    return removeLocalFile(this.#uploads, key)
  }

  removeFolderIfEmpty(folder: string): Promise<boolean> {
    return removeLocalFolderIfEmpty(this.#uploads, folder)
  }

  /** Delete temporary upload files older than `olderThanMs` (left by a crash); returns how many. */
  sweepUploads(olderThanMs: number): Promise<number> {
    return sweepLocalUploads(this.#uploads, olderThanMs)
  }

  /**
   * Create-only publishing is link(), which fails with EEXIST whatever the filesystem
   * (POSIX link(2)), NFS included: nothing to probe.
   */
  probeConditionalWrites(): Promise<ConditionalWriteProbe> {
    return Promise.resolve({
      enforced: true,
      detail: 'a local tree publishes with link(), which never replaces a file',
    })
  }

  /** The tree as given, for messages to the operator (never to HTTP clients). */
  get root(): string {
    return this.#root
  }

  get location(): string {
    return this.#root
  }

  get cacheNamespace(): string {
    return this.#realRoot
  }

  get spec(): LocalStorageSpec {
    return { kind: 'local', root: this.#realRoot }
  }

  /** The tree's real path: what worker threads open again, and what identifies its cache. */
  get realRoot(): string {
    return this.#realRoot
  }

  #readdir(dir: string): Dirent[] | undefined {
    return absentAsUndefined(() => readdirSync(dir, { withFileTypes: true }).filter((entry) => isPlainName(entry.name)))
  }

  // Regular files and folders count; symlinks count as what they point to, if that stays
  // inside the tree. For a symlink to a file, its stat comes back (the caller needs it).
  #kindOf(dir: string, entry: Dirent): 'file' | 'folder' | Stats | undefined {
    if (entry.isFile()) return 'file'
    if (entry.isDirectory()) return 'folder'
    if (!entry.isSymbolicLink()) return undefined
    const path = join(dir, entry.name)
    if (!this.#contained(path)) return undefined
    const info = statSyncOrUndefined(path)
    if (info === undefined) return undefined
    return info.isFile() ? info : info.isDirectory() ? 'folder' : undefined
  }

  // A link that leads nowhere (or loops) is skipped like a missing file; one that cannot be
  // resolved (EACCES on a folder on its way, EIO) is an error: where it leads is unknown.
  #contained(path: string): boolean {
    const relative = path.slice(this.#realRoot.length + 1)
    let real: string
    try {
      real = realpathSync(path)
    } catch (err) {
      if (ABSENT.has(errnoCode(err) ?? '')) return false
      throw new StorageError(`Cannot resolve "${relative}": ${describeErrno(err)}`, { cause: err })
    }
    if (real.startsWith(this.#realRoot + sep)) return true
    this.#log.warn({ path: relative }, 'Skipping a symlink that leads outside the eggdir')
    return false
  }
}

// Number stats, not BigInt ones: 100,000 files would make 1.4 million BigInts for the
// collector. mtimeMs and ctimeMs keep a fraction of a microsecond, plenty to tell versions apart.
/** An open descriptor with its stat. */
interface OpenedFd {
  readonly fd: number
  readonly info: Stats
  close(): Promise<void>
}

function fstatSyncOrClose(fd: number): Stats {
  try {
    return fstatSync(fd)
  } catch (err) {
    closeSync(fd)
    throw err
  }
}

async function statOrClose(handle: FileHandle): Promise<Stats> {
  try {
    return await handle.stat()
  } catch (err) {
    await handle.close()
    throw err
  }
}

// Not logged here: whoever handles the failure logs it, once (for a request, the error handler).
function storageFailure(action: string, key: string, err: unknown): StorageError {
  return new StorageError(`Cannot ${action} "${key}": ${describeErrno(err)}`, { cause: err })
}

function statSyncOrUndefined(path: string): Stats | undefined {
  return absentAsUndefined(() => statSync(path))
}

function lstatSyncOrUndefined(path: string): Stats | undefined {
  return absentAsUndefined(() => lstatSync(path))
}

// "Not there (any more)" is undefined; anything else is an error for the caller.
function absentAsUndefined<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch (err) {
    if (ABSENT.has(errnoCode(err) ?? '')) return undefined
    throw err
  }
}
