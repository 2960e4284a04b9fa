// Listing the tree on two cores at start-up. A warm start's main thread spent about 2 s of CPU
// listing 10,000 folders (100,000 `stat`s, their Stats objects and that garbage) before it could
// answer; here a worker thread lists every other run of folders while the main thread lists the
// others and classifies them all, in order. The worker lists only folders of plain files
// (local-listing.ts); anything else it declines, and the main thread lists that folder itself.
// Every file is still `stat`ed (its identity is what the cache is trusted by); a listing made by
// the worker is as fresh as one the main thread would make LIST_AHEAD folders early.
import type { Worker } from 'node:worker_threads'
import { startWorker } from '../platform/worker-thread.js'
import type { FolderListing } from './storage.js'

/** What the worker is started with. */
export interface PrefetchRequest {
  readonly realRoot: string
  /** The worker's runs of folders, in the order the main thread takes them. */
  readonly runs: readonly (readonly string[])[]
  /** Runs sent and not acknowledged at most. */
  readonly window: number
}

/** One run, listed: null for a folder that is not there, 'declined' for one the main thread lists. */
export interface PrefetchReply {
  readonly index: number
  readonly listings: readonly (FolderListing | 'declined' | null)[]
}

/** Folders per run: the main thread's work between two messages. */
export const RUN = 64
/** Runs the worker lists ahead of the main thread at most. */
const WINDOW = 4
/** Fewer folders than this are listed by the main thread alone (a thread costs ~30 ms to start). */
export const PREFETCH_FROM_FOLDERS = 2000

interface Run {
  readonly folders: readonly string[]
  readonly listed: Promise<PrefetchReply | undefined>
  settle(reply: PrefetchReply | undefined): void
  /** Folders of this run not taken yet. */
  left: number
}

/**
 * The worker's side of listing `folders` (in the order they will be asked for): take() answers
 * for the folders it lists. A failed or stopped worker answers 'declined' for what is left.
 */
export class FolderPrefetch {
  readonly #worker: Worker | undefined
  readonly #runs: Run[] = []
  readonly #runOf = new Map<string, { run: Run; at: number }>()
  #closed = false
  /** Folders the worker listed and take() handed out (what the tests check). */
  taken = 0

  constructor(realRoot: string, folders: readonly string[], run = RUN) {
    const runs: string[][] = []
    // Runs 1, 3, 5… go to the worker; 0, 2, 4… stay with the main thread, which also classifies
    // every folder and takes the worker's listings in (two of three runs to the worker saved no
    // more of the main thread's CPU time).
    for (let start = run; start < folders.length; start += 2 * run) runs.push(folders.slice(start, start + run))
    for (const runFolders of runs) {
      let settle: (reply: PrefetchReply | undefined) => void = () => undefined
      const listed = new Promise<PrefetchReply | undefined>((resolve) => {
        settle = resolve
      })
      const run: Run = { folders: runFolders, listed, settle, left: runFolders.length }
      this.#runs.push(run)
      runFolders.forEach((folder, at) => this.#runOf.set(folder, { run, at }))
    }
    const request: PrefetchRequest = { realRoot, runs, window: WINDOW }
    try {
      this.#worker = startWorker(import.meta.url, 'folder-list-worker', { workerData: request })
    } catch {
      this.#stop()
      return
    }
    this.#worker.on('message', (reply: PrefetchReply) => {
      this.#runs[reply.index]?.settle(reply)
    })
    this.#worker.once('error', () => {
      this.#stop()
    })
    this.#worker.once('exit', () => {
      this.#stop()
    })
  }

  /**
   * The listing of `folder` when the worker lists it (undefined: list it yourself), resolving
   * to 'declined' when it did not; each folder is handed out once.
   */
  take(folder: string): Promise<FolderListing | 'declined' | undefined> | undefined {
    const place = this.#runOf.get(folder)
    if (place === undefined) return undefined
    this.#runOf.delete(folder)
    const { run, at } = place
    return run.listed.then((reply) => {
      if (--run.left === 0) this.#worker?.postMessage('taken')
      const listing = reply?.listings[at]
      if (listing === undefined) return 'declined'
      if (listing !== 'declined') this.taken++
      return listing ?? undefined
    })
  }

  /** Stop the worker: folders not taken yet are the caller's to list. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    void this.#worker?.terminate()
    this.#stop()
  }

  #stop(): void {
    for (const run of this.#runs) run.settle(undefined)
  }
}
