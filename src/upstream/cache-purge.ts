// `eggserve cache purge NAME`: a project's cached upstream pages and files leave the cache
// directory, and a line in `upstream/purged.log` tells every server running on that directory
// to forget what it holds in memory about the project (PurgeWatcher), so its next request asks
// the upstream again instead of serving a page from memory or a file that is gone.
import { statSync } from 'node:fs'
import { appendFile, mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'

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

/** The log of purged names, beside the pages and files. */
export function purgeLogPath(cacheDir: string): string {
  return join(cacheDir, 'upstream', 'purged.log')
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

/**
 * A running server's view of `upstream/purged.log`: `check()` answers the names purged since the
 * last check (one stat per call when nothing changed). Names purged before the server started do
 * not matter (it held nothing then), so reading starts at the log's size at construction.
 */
export class PurgeWatcher {
  readonly #path: string
  #offset: number
  #checking: Promise<string[]> | undefined

  constructor(cacheDir: string) {
    this.#path = purgeLogPath(cacheDir)
    try {
      this.#offset = statSync(this.#path).size
    } catch {
      this.#offset = 0
    }
  }

  /** Names purged since the last call (concurrent callers share one read). */
  check(): Promise<string[]> {
    this.#checking ??= this.#read().finally(() => {
      this.#checking = undefined
    })
    return this.#checking
  }

  async #read(): Promise<string[]> {
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
