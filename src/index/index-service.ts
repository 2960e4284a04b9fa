// The application layer: the live index of projects and files, kept fresh by change
// tokens (one stat per request) and watch events, and joined with what the analyzer knows.
import type { FastifyBaseLogger } from 'fastify'
import type { AnalysisResult, Analyzer } from '../analysis/analyzer.js'
import { latestMtimeMs, type DistFile, type FileFacts, type PageFile, type ProjectPage, type ProjectSummary } from '../core/index-model.js'
import { classifyFolder, compareNames, validateLayout, type ClassifiedFolder, type LayoutReport } from '../core/layout.js'
import { isValidProjectName, normalizeProjectName } from '../core/names.js'
import { readSmallFile } from '../storage/read-small.js'
import type { FolderListing, Storage, StoredFile, Watch } from '../storage/storage.js'
import { makeKey } from '../storage/storage.js'
import { YANK_SUFFIX, yankReason } from '../core/yanking.js'
import { StoreFailure } from '../errors.js'

interface ProjectEntry {
  readonly folder: string
  readonly project: string
  token: string | undefined
  files: readonly DistFile[]
  byName: ReadonlyMap<string, DistFile>
  /** Bumped whenever the files (or their yank state) change: pages are cached by it. */
  generation: number
  /** Newest file modification time, for Last-Modified. */
  lastModifiedMs: number
  /** Set by watch events; forces a rescan even when the folder's token is unchanged. */
  dirty: boolean
  /** When the folder was last found unchanged (or read). */
  checkedAt: number
  refreshing: Promise<boolean> | undefined
  /** Problem paths already logged, so a rescan does not repeat its warnings. */
  readonly warned: Set<string>
}

/** A project as found by a request: fresh, with what page caching needs. */
export interface ProjectState extends ProjectSummary {
  readonly generation: number
  readonly lastModifiedMs: number
}

/** The list of projects with what page caching needs. */
export interface RootState {
  readonly projects: readonly ProjectSummary[]
  readonly generation: number
  readonly lastModifiedMs: number
}

/** Dependencies of the index. */
export interface IndexServiceOptions {
  readonly storage: Storage
  readonly analyzer: Analyzer
  readonly log: FastifyBaseLogger
}

// How long a folder checked against its timestamp counts as fresh when a watcher reports changes.
const TOKEN_TTL_MS = 500

// Sidecars hold a one-line reason; anything longer is cut.
const MAX_SIDECAR_BYTES = 4096

/** The live index of the eggdir. Routes never touch storage listings themselves. */
export class IndexService {
  readonly #storage: Storage
  readonly #analyzer: Analyzer
  readonly #log: FastifyBaseLogger
  readonly #projects = new Map<string, ProjectEntry>()
  #rootToken: string | undefined
  #rootDirty = false
  #rootRefreshing: Promise<void> | undefined
  #rootGeneration = 0
  /** The sorted project list of #rootGeneration. */
  #root: RootState | undefined
  /** Folder paths whose problems were already logged. */
  readonly #warnedFolders = new Set<string>()
  #watch: Watch | undefined
  /** True while every folder is watched (see #fresh). */
  #watching = false
  #loaded = false
  /** Shared across entries so a generation never repeats, even for a project removed and re-added. */
  #nextGeneration = 1

  constructor (options: IndexServiceOptions) {
    this.#storage = options.storage
    this.#analyzer = options.analyzer
    this.#log = options.log.child({ component: 'index' })
  }

  /** True once load() has read the whole tree. */
  get loaded (): boolean {
    return this.#loaded
  }

  /**
   * Read the whole tree and validate its layout. Every problem is returned; the files
   * concerned are left out of the index (the daemon decides whether that is fatal).
   */
  async load (): Promise<LayoutReport> {
    const root = await this.#storage.listRoot()
    const listings = new Map<string, FolderListing>()
    await Promise.all(root.folders.map(async (folder) => {
      const listing = await this.#storage.listFolder(folder)
      if (listing !== undefined) listings.set(folder, listing)
    }))
    const report = validateLayout({
      rootFiles: root.files,
      folders: [...listings].map(([name, listing]) => ({ name, files: listing.files.map(fileName) })),
    })
    this.#projects.clear()
    await Promise.all(report.projects.map(async (classified) => {
      const listing = listings.get(classified.folder)
      if (listing === undefined) return
      const entry = this.#newEntry(classified.folder, classified.project)
      await this.#install(entry, classified, listing)
      entry.dirty = false
      for (const problem of classified.problems) entry.warned.add(problem.path)
      this.#projects.set(entry.project, entry)
    }))
    for (const problem of report.problems) this.#warnedFolders.add(problem.path)
    this.#rootToken = root.token
    this.#rootGeneration = this.#nextGeneration++
    this.#loaded = true
    return report
  }

  /** Start reacting to watch events; failures to watch are logged, and tokens still catch changes. */
  watch (): void {
    this.#watching = true
    this.#watch ??= this.#storage.watch((folder) => { this.#onChange(folder) }, (err) => {
      // Some folders go unwatched: back to checking timestamps on every request.
      this.#watching = false
      this.#log.warn({ err }, 'Cannot watch every folder; changes are still seen through folder timestamps')
    })
  }

  /** Stop watching. */
  close (): void {
    this.#watching = false
    this.#watch?.close()
    this.#watch = undefined
  }

  /** Every project, sorted case-insensitively by folder name, after a freshness check. */
  async root (): Promise<RootState> {
    await this.#freshRoot()
    // Sorting thousands of projects per request would dominate /simple/: keep the list until it changes.
    if (this.#root?.generation !== this.#rootGeneration) {
      const entries = [...this.#projects.values()]
      this.#root = {
        projects: entries.map(({ folder, project }) => ({ folder, project })).sort((a, b) => compareNames(a.folder, b.folder)),
        generation: this.#rootGeneration,
        lastModifiedMs: entries.reduce((latest, entry) => Math.max(latest, entry.lastModifiedMs), 0),
      }
    }
    return this.#root
  }

  /** Every project (see root()). */
  async projects (): Promise<readonly ProjectSummary[]> {
    return (await this.root()).projects
  }

  /**
   * The project a URL segment names (its exact folder name or any spelling that normalizes
   * to it), after a freshness check: one stat when nothing changed.
   */
  async find (name: string): Promise<ProjectState | undefined> {
    const project = normalizeProjectName(name)
    let entry = this.#projects.get(project)
    if (entry === undefined) {
      await this.#freshRoot()
      entry = this.#projects.get(project)
    }
    if (entry === undefined || !(await this.#fresh(entry))) return undefined
    return { folder: entry.folder, project: entry.project, generation: entry.generation, lastModifiedMs: entry.lastModifiedMs }
  }

  /** A file of a project, by exact filename, as last found by find(). */
  file (project: string, filename: string): DistFile | undefined {
    return this.#projects.get(project)?.byName.get(filename)
  }

  /** The files of a project as last found by find(), without their facts. */
  files (project: string): readonly DistFile[] | undefined {
    return this.#projects.get(project)?.files
  }

  /** Every project's files as currently indexed (for background hashing). */
  * fileLists (): Iterable<{ readonly project: string; readonly files: readonly DistFile[] }> {
    for (const entry of this.#projects.values()) yield { project: entry.project, files: entry.files }
  }

  /**
   * The safety net for missed watch events and filesystems without them (NFS): re-read the
   * top level and every folder, at most `concurrency` at once. Pages change only where files did.
   */
  async reconcile (concurrency = 4): Promise<void> {
    this.#rootDirty = true
    await this.#freshRoot()
    const entries = [...this.#projects.values()]
    const next = async (): Promise<void> => {
      for (let entry = entries.pop(); entry !== undefined; entry = entries.pop()) {
        entry.dirty = true
        await this.#fresh(entry)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, next))
  }

  /** A project's page with every file analyzed; waits only for this project's own files. */
  async page (project: string): Promise<ProjectPage | undefined> {
    const entry = this.#projects.get(project)
    if (entry === undefined) return undefined
    const analyzed = await Promise.all(entry.files.map((file) => this.#analyzed(entry, file)))
    return {
      folder: entry.folder,
      project: entry.project,
      files: analyzed.filter((item): item is PageFile => item !== undefined),
    }
  }

  /** The facts of a file (remembered, or read now): e.g. the digests of the file an upload collides with. */
  facts (file: DistFile): Promise<AnalysisResult> {
    return this.#analyzer.analyze(file, { group: file.parsed.project, urgent: true })
  }

  /**
   * A file was just written under `folder` with facts computed while it was written: remember
   * them for its identity (so it is never read again to list it) and rescan the folder on the
   * next request, so the file shows at once.
   */
  published (folder: string, identity: string, facts: FileFacts): void {
    this.#analyzer.remember(identity, facts)
    this.changed(folder)
  }

  /** Something in `folder` changed through eggserve itself (an upload, a removal): rescan it on the next request. */
  changed (folder: string): void {
    this.#onChange(folder)
    this.#rootDirty = true
  }

  async #analyzed (entry: ProjectEntry, file: DistFile): Promise<PageFile | undefined> {
    try {
      const result = await this.#analyzer.analyze(file, { group: entry.project, urgent: true })
      if (result.file.identity === file.identity) return { file, facts: result.facts }
      // The file changed after the folder was read: describe the bytes that were read, and rescan next time.
      entry.dirty = true
      return { file: { ...file, size: result.file.size, mtimeMs: result.file.mtimeMs, identity: result.file.identity }, facts: result.facts }
    } catch (err) {
      entry.dirty = true
      // The store is down or throttling: the page fails (503) rather than leave out files
      // that are there, which a client could take for the whole truth.
      if (err instanceof StoreFailure) throw err
      this.#log.error({ err, key: file.key }, 'Leaving a file out of the listing: it cannot be read')
      return undefined
    }
  }

  #onChange (folder: string | undefined): void {
    if (folder === undefined) {
      this.#rootDirty = true
      return
    }
    const entry = this.#projects.get(normalizeProjectName(folder))
    if (entry?.folder === folder) entry.dirty = true
    else this.#rootDirty = true
  }

  // Root freshness: one stat; a changed token means folders came or went.
  async #freshRoot (): Promise<void> {
    if (this.#rootRefreshing !== undefined) {
      await this.#rootRefreshing
      // Changed while that refresh was reading (an upload published meanwhile): look again.
      if (this.#rootDirty) await this.#freshRoot()
      return
    }
    const token = await this.#storage.changeToken()
    if (!this.#rootDirty && token === this.#rootToken) return
    this.#rootRefreshing ??= this.#refreshRoot().finally(() => { this.#rootRefreshing = undefined })
    return this.#rootRefreshing
  }

  async #refreshRoot (): Promise<void> {
    this.#rootDirty = false
    const root = await this.#storage.listRoot()
    const folders = root.folders.filter(isValidProjectName).sort(compareNames)
    const present = new Set(folders)
    let changed = false
    for (const [project, entry] of this.#projects) {
      if (present.has(entry.folder)) continue
      this.#forgetFiles(entry.files)
      this.#projects.delete(project)
      changed = true
      this.#log.info({ folder: entry.folder, project }, 'Project folder removed')
    }
    for (const folder of folders) {
      const project = normalizeProjectName(folder)
      const existing = this.#projects.get(project)
      if (existing === undefined) {
        this.#projects.set(project, this.#newEntry(folder, project))
        changed = true
        this.#log.info({ folder, project }, 'New project folder')
      } else if (existing.folder !== folder && !this.#warnedFolders.has(`${folder}/`)) {
        this.#warnedFolders.add(`${folder}/`)
        this.#log.warn({ folder, project }, `Ignoring folder "${folder}/": "${existing.folder}/" already holds project "${project}"`)
      }
    }
    if (changed) this.#rootGeneration = this.#nextGeneration++
    this.#rootToken = root.token
  }

  // Project freshness: one stat when nothing changed; a rescan of this folder only when it did.
  async #fresh (entry: ProjectEntry): Promise<boolean> {
    if (entry.refreshing !== undefined) {
      const found = await entry.refreshing
      // Changed while that rescan was reading (an upload published meanwhile): look again.
      return found && entry.dirty ? this.#fresh(entry) : found
    }
    if (!entry.dirty) {
      const now = Date.now()
      // With a working watcher, events report changes; the folder's timestamp is then checked
      // at most every TOKEN_TTL_MS, as a safety net, instead of on every request.
      if (this.#watching && now - entry.checkedAt < TOKEN_TTL_MS) return true
      const token = await this.#storage.changeToken(entry.folder)
      if (token !== undefined && token === entry.token) {
        entry.checkedAt = now
        return true
      }
    }
    entry.refreshing ??= this.#rescan(entry).finally(() => { entry.refreshing = undefined })
    return entry.refreshing
  }

  async #rescan (entry: ProjectEntry): Promise<boolean> {
    entry.dirty = false
    const listing = await this.#storage.listFolder(entry.folder)
    if (listing === undefined) {
      if (this.#projects.get(entry.project) === entry) {
        this.#projects.delete(entry.project)
        this.#rootGeneration = this.#nextGeneration++
      }
      this.#forgetFiles(entry.files)
      this.#rootDirty = true
      return false
    }
    const classified = classifyFolder(entry.folder, listing.files.map(fileName))
    for (const problem of classified.problems) {
      if (entry.warned.has(problem.path)) continue
      entry.warned.add(problem.path)
      this.#log.warn({ path: problem.path, code: problem.code }, `Skipping ${problem.message}`)
    }
    await this.#install(entry, classified, listing)
    return true
  }

  async #install (entry: ProjectEntry, classified: ClassifiedFolder, listing: FolderListing): Promise<void> {
    const stats = new Map(listing.files.map((file) => [file.key, file]))
    const files: DistFile[] = []
    for (const { filename, parsed } of classified.files) {
      const stat = stats.get(makeKey(entry.folder, filename))
      if (stat === undefined) continue
      // The listing's key string is kept: the filename is a slice of it (fileName()), so a key
      // built anew would hold the same text twice, for every file of the tree.
      const key = stat.key
      const sidecar = stats.has(key + YANK_SUFFIX) ? await readSmallFile(this.#storage, key + YANK_SUFFIX, MAX_SIDECAR_BYTES) : undefined
      const base = { folder: entry.folder, filename, key, parsed, size: stat.size, mtimeMs: stat.mtimeMs, identity: stat.identity }
      files.push(sidecar === undefined ? base : { ...base, yanked: yankReason(sidecar) })
    }
    const kept = new Set(files.map((file) => file.identity))
    this.#forgetFiles(entry.files.filter((file) => !kept.has(file.identity)))
    if (!sameFiles(entry.files, files)) entry.generation = this.#nextGeneration++
    entry.files = files
    entry.byName = new Map(files.map((file) => [file.filename, file]))
    entry.lastModifiedMs = latestMtimeMs(files)
    entry.token = listing.token
    entry.checkedAt = Date.now()
  }

  #forgetFiles (files: readonly DistFile[]): void {
    for (const file of files) this.#analyzer.forget(file.identity)
  }

  #newEntry (folder: string, project: string): ProjectEntry {
    return {
      folder,
      project,
      token: undefined,
      files: [],
      byName: new Map(),
      generation: this.#nextGeneration++,
      lastModifiedMs: 0,
      dirty: true,
      checkedAt: 0,
      refreshing: undefined,
      warned: new Set(),
    }
  }
}

function sameFiles (a: readonly DistFile[], b: readonly DistFile[]): boolean {
  return a.length === b.length && a.every((file, i) => file.identity === b[i]?.identity && file.filename === b[i].filename && file.yanked === b[i].yanked)
}

function fileName (file: StoredFile): string {
  return file.key.slice(file.key.indexOf('/') + 1)
}
