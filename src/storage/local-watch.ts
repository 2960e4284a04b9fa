// Change notification for a local tree: one fs.watch per directory (inotify on Linux).
// fs.watch on a directory reports changes of its direct entries only, so the top level and
// every project folder get their own watcher. Missed events are covered by change tokens.
import { watch, type FSWatcher } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { join } from 'node:path'
import { errnoCode } from '../errors.js'
import type { ChangeListener, Watch } from './storage.js'
import { isPlainName } from './storage.js'

const GONE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP'])

// Folders watched per turn of the event loop. One fs.watch costs some 25 µs of CPU (more on a
// loaded machine): 10,000 folders in one go held every request, /health/ready's included, for
// a quarter of a second or more right after a warm start was ready (docs/benchmarks.md, "Warm
// restart"). Until a folder is watched its changes are still seen through its token.
export const WATCH_BATCH = 500

/** A running watch of a local tree. */
export interface TreeWatch extends Watch {
  /** How many folders are watched now (the top level not counted). */
  readonly watchedFolders: number
}

/** Watch `root` and its folders; report the folder that changed, or undefined for the top level. */
export function watchTree(
  root: string,
  listener: ChangeListener,
  onError: (err: Error) => void,
  batch = WATCH_BATCH,
): TreeWatch {
  const folders = new Map<string, FSWatcher>()
  let closed = false
  let failed = false

  const fail = (err: unknown): void => {
    // Typically ENOSPC (inotify watch limit) or EMFILE; report once and keep what works.
    if (failed) return
    failed = true
    onError(err instanceof Error ? err : new Error(String(err)))
  }

  const unwatch = (name: string): void => {
    folders.get(name)?.close()
    folders.delete(name)
  }

  const watchFolder = (name: string): void => {
    if (closed || failed || folders.has(name)) return
    try {
      const watcher = watch(join(root, name), { persistent: false }, () => {
        listener(name)
      })
      watcher.on('error', () => {
        unwatch(name)
        listener(name)
      })
      folders.set(name, watcher)
    } catch (err) {
      // Gone since it was seen: nothing to watch (the top level's watcher reports the removal).
      if (!GONE.has(errnoCode(err) ?? '')) fail(err)
    }
  }

  // A top-level entry appeared, vanished or was replaced: re-check whether it is a folder to watch.
  const sync = async (name: string): Promise<void> => {
    unwatch(name)
    try {
      if ((await stat(join(root, name))).isDirectory()) watchFolder(name)
    } catch (err) {
      // Gone, a file in the way or a link loop: nothing to watch. Anything else is a watch failure.
      if (!GONE.has(errnoCode(err) ?? '')) fail(err)
    }
  }

  let top: FSWatcher
  try {
    top = watch(root, { persistent: false }, (_event, filename) => {
      listener(undefined)
      if (typeof filename === 'string' && isPlainName(filename)) {
        listener(filename)
        void sync(filename)
      }
    })
    top.on('error', fail)
  } catch (err) {
    fail(err)
    return {
      watchedFolders: 0,
      close: () => {
        closed = true
      },
    }
  }

  // A folder is watched at once; only a symlink is stat'ed, to see whether it leads to one. A
  // stat per folder, all of them at once (10,000 at 10,000 projects), left garbage in the old
  // generation, which V8 collects late (docs/benchmarks.md, "Memory").
  // `batch` folders at a time, with a turn of the event loop between (WATCH_BATCH).
  void readdir(root, { withFileTypes: true })
    .then(async (entries) => {
      let done = 0
      for (const entry of entries) {
        if (closed) return
        if (!isPlainName(entry.name)) continue
        if (entry.isDirectory()) watchFolder(entry.name)
        else if (entry.isSymbolicLink()) void sync(entry.name)
        if (++done % batch === 0) await nextTurn()
      }
    }, fail)
    .catch(fail)

  return {
    get watchedFolders() {
      return folders.size
    },
    close: () => {
      closed = true
      top.close()
      for (const watcher of folders.values()) watcher.close()
      folders.clear()
    },
  }
}
