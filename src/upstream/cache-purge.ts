// `eggserve cache purge NAME`: a project's cached upstream pages and files leave the cache
// directory, and a line in `upstream/purged.log` tells every server running on that directory
// to forget what it holds in memory about the project (PurgeWatcher), so its next request asks
// the upstream again instead of serving a page from memory or a file that is gone.
import { statSync, watch, type FSWatcher } from 'node:fs'
import { appendFile, mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** What was removed for one project. */
export interface PurgeReport {
  readonly project: string
  /** Cached pages removed (one per upstream that had the project). */
  readonly pages: number
  /** Cached files removed (distributions and their .metadata), not counting their pinned digests. */
  readonly files: number
  /** Bytes removed, digests and pages included. */
  readonly bytes: number
}

const PURGE_LOG = 'purged.log'

/** The log of purged names, beside the pages and files. */
export function purgeLogPath(cacheDir: string): string {
  return join(cacheDir, 'upstream', PURGE_LOG)
}

// A download in progress writes `.<random>.part`; it belongs to a running server and is left alone
// (removing it would fail that download for its clients; it becomes a file the next purge removes).
const PART_FILE = /^\..*\.part$/

/** Remove `project`'s (a normalized name) cached pages and files, then log its name for running servers. */
export async function purgeProject(cacheDir: string, project: string): Promise<PurgeReport> {
  let pages = 0
  let files = 0
  let bytes = 0
  const remove = async (path: string): Promise<boolean> => {
    try {
      const { size } = await stat(path)
      await unlink(path)
      bytes += size
      return true
    } catch {
      return false
    }
  }
  const pagesDir = join(cacheDir, 'upstream', 'pages')
  for (const upstream of await namesIn(pagesDir)) if (await remove(join(pagesDir, upstream, `${project}.json`))) pages++
  const filesDir = join(cacheDir, 'upstream', 'files', project)
  for (const name of await namesIn(filesDir)) {
    if (PART_FILE.test(name)) continue
    if ((await remove(join(filesDir, name))) && !name.endsWith('.sha256')) files++
  }
  await rmdir(filesDir).catch(() => undefined)
  // O_APPEND: lines from concurrent purges do not interleave (each is one small write).
  await mkdir(join(cacheDir, 'upstream'), { recursive: true })
  await appendFile(purgeLogPath(cacheDir), `${project}\n`)
  return { project, pages, files, bytes }
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch {
    return []
  }
}

/** With a working watcher, the log is not stat'ed again for this long when no event came (docs/upstream.md). */
export const PURGE_CHECK_INTERVAL_MS = 500

/** Options of a PurgeWatcher. */
export interface PurgeWatcherOptions {
  /** Milliseconds; Date.now unless a test drives the clock. */
  readonly now?: () => number
  /** Watch the log's folder (default true); false: one stat per check, as without a watcher. */
  readonly watch?: boolean
}

const NOTHING: Promise<readonly string[]> = Promise.resolve([])

/**
 * A running server's view of `upstream/purged.log`: `check()` answers the names purged since the
 * last check. Names purged before the server started do not matter (it held nothing then), so
 * reading starts at the log's size at construction.
 *
 * A stat on every upstream request was a quarter of a `statx` per request, so the log's
 * folder is watched (inotify): while the watcher lives and has reported nothing, the log is
 * stat'ed at most once per PURGE_CHECK_INTERVAL_MS; an event about the log makes the next
 * check read it. So a purge is seen by the next request once the event has arrived (it is
 * queued as the line is written), and by every request that starts PURGE_CHECK_INTERVAL_MS
 * after it in any case: also when a watcher misses writes (another host's, on NFS) or its
 * event is handled after a request that arrived at the same moment. Without a watcher (the
 * folder does not exist yet, fs.watch fails), every check stats the log, as before.
 */
export class PurgeWatcher {
  readonly #dir: string
  readonly #path: string
  readonly #now: () => number
  readonly #watch: boolean
  #offset: number
  #checking: Promise<readonly string[]> | undefined
  #watcher: FSWatcher | undefined
  /** An event since the last read: the next check reads. */
  #dirty = true
  /** When the log was last stat'ed (the clock's milliseconds). */
  #checkedAt = Number.NEGATIVE_INFINITY
  #closed = false

  constructor(cacheDir: string, options: PurgeWatcherOptions = {}) {
    this.#path = purgeLogPath(cacheDir)
    this.#dir = dirname(this.#path)
    this.#now = options.now ?? Date.now
    this.#watch = options.watch ?? true
    // Watching first: a line written between the stat and the watch is then not missed.
    this.#arm()
    try {
      this.#offset = statSync(this.#path).size
    } catch {
      this.#offset = 0
    }
  }

  /** Names purged since the last call (concurrent callers share one read). */
  check(): Promise<readonly string[]> {
    if (this.#checking !== undefined) return this.#checking
    if (this.quiet()) return NOTHING
    this.#checking = this.#read().finally(() => {
      this.#checking = undefined
    })
    return this.#checking
  }

  /**
   * True when check() would answer no names without reading the log (the watcher lives, has
   * reported nothing, and the log was read within PURGE_CHECK_INTERVAL_MS): a request may then
   * go on without waiting for check()'s promise.
   */
  quiet(): boolean {
    return (
      this.#checking === undefined &&
      this.#watcher !== undefined &&
      !this.#dirty &&
      this.#now() - this.#checkedAt < PURGE_CHECK_INTERVAL_MS
    )
  }

  /** Stop watching (the server is closing). */
  close(): void {
    this.#closed = true
    this.#disarm()
  }

  #arm(): void {
    if (!this.#watch || this.#closed || this.#watcher !== undefined) return
    try {
      // persistent: false: the watch never keeps a process alive on its own.
      const watcher = watch(this.#dir, { persistent: false }, (event, filename) => {
        if (filename === null || filename === PURGE_LOG) this.#dirty = true
        // A rename in the folder may be the folder itself going (or the log replaced): watch
        // the path again at the next check, which reads the log in any case.
        if (event === 'rename') this.#disarm()
      })
      watcher.on('error', () => {
        this.#disarm()
      })
      this.#watcher = watcher
    } catch {
      // No folder yet (nothing was ever cached) or no watcher here: stat on every check.
      this.#watcher = undefined
    }
  }

  #disarm(): void {
    this.#dirty = true
    this.#watcher?.close()
    this.#watcher = undefined
  }

  async #read(): Promise<string[]> {
    // Armed before the stat: a line written after the stat sends an event.
    this.#arm()
    this.#dirty = false
    this.#checkedAt = this.#now()
    let size: number
    try {
      size = (await stat(this.#path)).size
    } catch {
      return []
    }
    // A log truncated or replaced by hand: read it all again (forgetting too much only costs requests).
    if (size < this.#offset) this.#offset = 0
    if (size === this.#offset) return []
    const handle = await open(this.#path, 'r')
    try {
      const buffer = Buffer.alloc(size - this.#offset)
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.#offset)
      const text = buffer.subarray(0, bytesRead).toString('utf8')
      // Only whole lines: a line being appended right now is read next time.
      const end = text.lastIndexOf('\n') + 1
      this.#offset += Buffer.byteLength(text.slice(0, end))
      return text
        .slice(0, end)
        .split('\n')
        .filter((name) => name !== '')
    } finally {
      await handle.close()
    }
  }
}
