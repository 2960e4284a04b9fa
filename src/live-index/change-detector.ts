// Change detection: deciding when to read the tree again (watch events, change tokens, the
// check interval, reconciles) and bringing the tree state up to date when it does.
import type { FastifyBaseLogger } from 'fastify'
import { NO_METRICS, type Metrics } from '../core/metrics.js'
import type { DistFile } from '../core/index-model.js'
import { classifyFolder, compareNames, LayoutScan, type LayoutReport } from '../core/layout.js'
import { InternTable } from '../core/intern.js'
import { isValidProjectName, normalizeProjectName } from '../core/names.js'
import type { FolderListing, Storage, Watch } from '../storage/storage.js'
import { listedNames, readProjectFiles } from './folder-reader.js'
import type { ProjectSnapshot, ProjectTree } from './project-tree.js'

/**
 * With a working watcher, a folder (or the top level) found unchanged is not stat'ed again for
 * this long: events report changes, and the token is the safety net. Bench rows "`/simple/<p>/`
 * (HTML) req/s" and "a cached upstream page" (a name that is not local asks the top level on
 * every request): one stat fewer per request; "drop-in (temp name, rename) → listed" stays far
 * below 1 s because a drop-in also sends an event. Changes made through eggserve (uploads,
 * removals, a peer's announcements) mark what they touched at once and never wait for this.
 */
export const CHECK_INTERVAL_MS = 500

// Folder listings under way at once while the tree is loaded (an S3 store sends 16 LISTs at once).
const LIST_AHEAD = 32

/** What is known of one project folder besides its files (those are in the tree). */
interface FolderState {
  readonly folder: string
  readonly project: string
  /** The folder's change token when it was last read (undefined until then). */
  token: string | undefined
  /** Set by events and by readers that saw changed bytes: read the folder again, whatever its token. */
  dirty: boolean
  /** When the folder was last read or found unchanged (the clock's milliseconds). */
  checkedAt: number
  /** The read under way, which every caller shares. */
  reading: Promise<void> | undefined
  /** Problem paths already logged, so a read again does not repeat its warnings. */
  readonly warned: Set<string>
}

/** Dependencies of the change detector. */
export interface ChangeDetectorOptions {
  readonly storage: Storage
  /** The tree state this detector alone writes. */
  readonly tree: ProjectTree
  readonly log: FastifyBaseLogger
  /** Files no longer in the tree (by identity): their remembered facts can go. */
  readonly forget: (files: readonly DistFile[]) => void
  /** Milliseconds; Date.now unless a test drives the clock. */
  readonly now?: () => number
  /** Counts watch events (default: none kept). */
  readonly metrics?: Metrics
}

/**
 * Keeps the tree state as fresh as a caller needs, reading storage only when something may
 * have changed.
 *
 * Invariants (pinned by test/unit/change-detector.test.ts):
 * - one read at a time per folder (and for the top level): concurrent callers share it;
 * - freshProject() and freshRoot() return what a read of the folder (or the top level) found,
 *   and that read started after the last event or changed() before the call; when none came,
 *   the folder's token is compared with the one read (one stat), except that a folder (or the
 *   top level) found unchanged is trusted for CHECK_INTERVAL_MS while every folder is watched;
 * - a change reported while a read is under way makes the callers that joined it read again
 *   (an explicit loop, never recursion); the caller that started it returns its result;
 * - a folder that is gone leaves the tree, and the files it held are forgotten.
 */
export class ChangeDetector {
  readonly #storage: Storage
  readonly #tree: ProjectTree
  readonly #log: FastifyBaseLogger
  readonly #forget: (files: readonly DistFile[]) => void
  readonly #now: () => number
  readonly #metrics: Metrics
  readonly #folders = new Map<string, FolderState>()
  /** The short strings every file's parse repeats (versions, tags), held once for the tree. */
  readonly #strings = new InternTable()
  readonly #root: {
    token: string | undefined
    dirty: boolean
    /** When the top level was last read or found unchanged (the clock's milliseconds). */
    checkedAt: number
    reading: Promise<void> | undefined
  } = {
    token: undefined,
    dirty: true,
    checkedAt: 0,
    reading: undefined,
  }
  /** Top-level paths whose problems were already logged. */
  readonly #warnedFolders = new Set<string>()
  #watch: Watch | undefined
  /** True while every folder is watched. */
  #watching = false

  constructor(options: ChangeDetectorOptions) {
    this.#storage = options.storage
    this.#tree = options.tree
    this.#log = options.log
    this.#forget = options.forget
    this.#now = options.now ?? Date.now
    this.#metrics = options.metrics ?? NO_METRICS
  }

  /** True when the tree holds a project of this normalized name (no I/O). */
  knows(project: string): boolean {
    return this.#folders.has(project)
  }

  /**
   * Read the whole tree and validate its layout, replacing what the tree held. Every problem
   * is returned (and counts as logged); the files concerned are left out.
   */
  async load(): Promise<LayoutReport> {
    // Taken before the listing: a folder made during it is caught by the next token check.
    const checkedAt = this.#now()
    const root = await this.#storage.listRoot()
    const scan = new LayoutScan(root.files, this.#strings)
    for (const project of [...this.#folders.keys()]) this.#tree.remove(project)
    this.#folders.clear()
    // Folder by folder, each installed before the next is read, with LIST_AHEAD listings under
    // way: the listing of a whole tree held at once (100,000 stats and names at 10,000 × 10)
    // outlived the young generation and became garbage in the old one, which V8 collects late
    // (docs/benchmarks.md, "Memory").
    const folders = LayoutScan.order(root.folders)
    const unlisted = folders.values()
    const ahead: Promise<FolderListing | undefined>[] = []
    const listMore = (): void => {
      for (let item = unlisted.next(); item.done !== true; item = unlisted.next()) {
        const listing = this.#storage.listFolder(item.value)
        // Awaited in turn below; a failure that comes first must not count as unhandled.
        listing.catch(() => undefined)
        if (ahead.push(listing) >= LIST_AHEAD) return
      }
    }
    // The local tree lists every other run of folders in a worker thread meanwhile (start-up).
    const prefetch = this.#storage.prefetchFolders?.(folders)
    try {
      for (const folder of folders) {
        listMore()
        const listing = await ahead.shift()
        if (listing === undefined) continue
        const classified = scan.add(folder, listedNames(listing))
        if (classified === undefined) continue
        const state = this.#add(classified.folder, classified.project)
        for (const problem of classified.problems) state.warned.add(problem.path)
        this.#install(state, listing, await readProjectFiles(this.#storage, classified, listing))
        state.dirty = false
      }
    } finally {
      prefetch?.close()
    }
    const report = scan.report()
    for (const problem of report.problems) this.#warnedFolders.add(problem.path)
    this.#root.token = root.token
    this.#root.dirty = false
    this.#root.checkedAt = checkedAt
    return report
  }

  /** Start reacting to watch events; failures to watch are logged, and tokens still catch changes. */
  watch(): void {
    this.#watching = true
    const events = this.#metrics.counter({
      name: 'eggserve_watch_events_total',
      help: 'Change events the storage watcher reported (each marks a folder, or the project list, for a rescan)',
      labelNames: [],
    })
    this.#watch ??= this.#storage.watch(
      (folder) => {
        events.inc({})
        this.#onChange(folder)
      },
      (err) => {
        // Some folders go unwatched: back to checking tokens on every request.
        this.#watching = false
        this.#log.warn({ err }, 'Cannot watch every folder; changes are still seen through folder timestamps')
      },
    )
  }

  /** Stop watching. */
  close(): void {
    this.#watching = false
    this.#watch?.close()
    this.#watch = undefined
  }

  /** Something in `folder` changed through eggserve itself (an upload, a removal): read it again when next asked. */
  changed(folder: string): void {
    this.#onChange(folder)
    this.#root.dirty = true
  }

  /** The bytes of a file of `project` differ from the tree's: read its folder again when next asked. */
  stale(project: string): void {
    const state = this.#folders.get(project)
    if (state !== undefined) state.dirty = true
  }

  /**
   * Bring the project list up to date: one stat when nothing changed, none within
   * CHECK_INTERVAL_MS of the last check while every folder is watched.
   */
  async freshRoot(): Promise<void> {
    const root = this.#root
    for (;;) {
      if (root.reading !== undefined) {
        await root.reading
        // Changed while that read was under way (an upload published meanwhile): look again.
        if (root.dirty) continue
        return
      }
      if (root.dirty) {
        root.reading = this.#readRoot().finally(() => {
          root.reading = undefined
        })
        await root.reading
        return
      }
      const now = this.#now()
      if (this.#watching && now - root.checkedAt < CHECK_INTERVAL_MS) return
      const token = await this.#storage.changeToken()
      // Read through this.#root: an event may have marked it while the token was fetched.
      if (!this.#root.dirty && token === root.token) {
        root.checkedAt = now
        return
      }
      // A read may have started while the token was fetched: share it.
      root.reading ??= this.#readRoot().finally(() => {
        root.reading = undefined
      })
      await root.reading
      return
    }
  }

  /**
   * The project's snapshot when freshProject() would give it without reading storage or
   * waiting: known, not marked changed, not being read, and checked within CHECK_INTERVAL_MS
   * while the watch is alive. Else undefined: ask freshProject().
   */
  trustedProject(project: string): ProjectSnapshot | undefined {
    const state = this.#folders.get(project)
    if (state === undefined || state.dirty || state.reading !== undefined || !this.#watching) return undefined
    return this.#now() - state.checkedAt < CHECK_INTERVAL_MS ? this.#tree.get(project) : undefined
  }

  /**
   * True when freshRoot() and freshProject() would find no such project without reading
   * storage or waiting: the tree does not hold it, and the top level is trusted as
   * trustedProject() trusts a folder (not marked changed, not being read, checked within
   * CHECK_INTERVAL_MS while the watch is alive). False: ask them.
   */
  trustedAbsent(project: string): boolean {
    const root = this.#root
    return (
      !this.#folders.has(project) &&
      !root.dirty &&
      root.reading === undefined &&
      this.#watching &&
      this.#now() - root.checkedAt < CHECK_INTERVAL_MS
    )
  }

  /**
   * The snapshot of a project (by normalized name), brought up to date: one stat when nothing
   * changed, none within CHECK_INTERVAL_MS while watched, a read of this folder only when it
   * changed. undefined when the tree holds no such project (or its folder is gone).
   */
  async freshProject(project: string): Promise<ProjectSnapshot | undefined> {
    for (;;) {
      const state = this.#folders.get(project)
      if (state === undefined) return undefined
      if (state.reading !== undefined) {
        await state.reading
        // Changed while that read was under way (an upload published meanwhile): look again.
        if (state.dirty && this.#folders.get(project) === state) continue
        return this.#snapshotOf(state)
      }
      if (!state.dirty) {
        const now = this.#now()
        const trusted = this.trustedProject(project)
        if (trusted !== undefined) return trusted
        const token = await this.#storage.changeToken(state.folder)
        if (token !== undefined && token === state.token) {
          state.checkedAt = now
          return this.#snapshotOf(state)
        }
      }
      // A read may have started while the token was fetched: share it.
      state.reading ??= this.#readFolder(state).finally(() => {
        state.reading = undefined
      })
      await state.reading
      return this.#snapshotOf(state)
    }
  }

  /**
   * The safety net for missed watch events and filesystems without them (NFS): read the top
   * level and every folder again, at most `concurrency` at once. Snapshots change only where files did.
   */
  async reconcile(concurrency = 4): Promise<void> {
    await this.#storage.refreshListings?.()
    this.#root.dirty = true
    await this.freshRoot()
    const states = [...this.#folders.values()]
    const next = async (): Promise<void> => {
      for (let state = states.pop(); state !== undefined; state = states.pop()) {
        state.dirty = true
        await this.freshProject(state.project)
        // A local folder is listed with synchronous calls, so without this the whole pass (10,000
        // folders, 100,000 stats: seconds) would run as one chain of microtasks, and no request
        // would be answered until it ended (a small-file round of the bench had a p99 of 1.8 s:
        // docs/benchmarks.md, "Memory"). One turn of the event loop per folder lets requests in.
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    await Promise.all(Array.from({ length: concurrency }, next))
  }

  #snapshotOf(state: FolderState): ProjectSnapshot | undefined {
    return this.#folders.get(state.project) === state ? this.#tree.get(state.project) : undefined
  }

  #onChange(folder: string | undefined): void {
    const state = folder === undefined ? undefined : this.#folders.get(normalizeProjectName(folder))
    if (state !== undefined && state.folder === folder) state.dirty = true
    else this.#root.dirty = true
  }

  // Top level: folders that came get a project (read when first asked for), folders that went lose theirs.
  async #readRoot(): Promise<void> {
    this.#root.dirty = false
    // Taken before the listing: a change during it is newer than the check, and sends its own event.
    const checkedAt = this.#now()
    const root = await this.#storage.listRoot()
    const folders = root.folders.filter(isValidProjectName).sort(compareNames)
    const present = new Set(folders)
    for (const state of [...this.#folders.values()]) {
      if (present.has(state.folder)) continue
      this.#remove(state)
      this.#log.info({ folder: state.folder, project: state.project }, 'Project folder removed')
    }
    for (const folder of folders) {
      const project = normalizeProjectName(folder)
      const existing = this.#folders.get(project)
      if (existing === undefined) {
        this.#add(folder, project)
        this.#log.info({ folder, project }, 'New project folder')
      } else if (existing.folder !== folder && !this.#warnedFolders.has(`${folder}/`)) {
        this.#warnedFolders.add(`${folder}/`)
        this.#log.warn(
          { folder, project },
          `Ignoring folder "${folder}/": "${existing.folder}/" already holds project "${project}"`,
        )
      }
    }
    this.#root.token = root.token
    this.#root.checkedAt = checkedAt
  }

  async #readFolder(state: FolderState): Promise<void> {
    state.dirty = false
    const listing = await this.#storage.listFolder(state.folder)
    if (listing === undefined) {
      if (this.#folders.get(state.project) === state) this.#remove(state)
      this.#root.dirty = true
      return
    }
    const classified = classifyFolder(state.folder, listedNames(listing), this.#strings)
    for (const problem of classified.problems) {
      if (state.warned.has(problem.path)) continue
      state.warned.add(problem.path)
      this.#log.warn({ path: problem.path, code: problem.code }, `Skipping ${problem.message}`)
    }
    this.#install(state, listing, await readProjectFiles(this.#storage, classified, listing))
  }

  #install(state: FolderState, listing: FolderListing, files: readonly DistFile[]): void {
    state.token = listing.token
    state.checkedAt = this.#now()
    // A read that raced the folder's removal (and maybe its return) never writes the tree.
    const current = this.#snapshotOf(state)
    if (current === undefined) return
    const updated = this.#tree.update(current, files)
    if (updated !== undefined) this.#forget(updated.dropped)
  }

  #add(folder: string, project: string): FolderState {
    this.#tree.add(folder, project)
    const state: FolderState = {
      folder,
      project,
      token: undefined,
      dirty: true,
      checkedAt: 0,
      reading: undefined,
      warned: new Set(),
    }
    this.#folders.set(project, state)
    return state
  }

  #remove(state: FolderState): void {
    this.#folders.delete(state.project)
    const last = this.#tree.remove(state.project)
    if (last !== undefined) this.#forget(last.files)
  }
}
