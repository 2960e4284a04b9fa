// The browse UI's catalog: every project's latest version, summary and last upload, for the
// home page and search. Summaries are read from one file's core metadata per project, in the
// background and a few at a time, and kept as one short string per project (no search engine:
// a scan of names and summaries in memory, which is enough for tens of thousands of projects).
// With upstreams, the projects their cached pages know are listed too, each with its upstream
// (src/upstream/cached-projects.ts: never an upstream's list of every name).
import type { FastifyBaseLogger } from 'fastify'
import { latestMtimeMs, type DistFile } from '../../core/index-model.js'
import { compareNames } from '../../core/layout.js'
import { parseCoreMetadata } from '../../core/metadata.js'
import { normalizeProjectName } from '../../core/names.js'
import { shorten } from '../../core/project-details.js'
import { latestVersionOf, normalizeVersion } from '../../core/versions.js'
import type { IndexService } from '../../live-index/index-service.js'
import type { CoreMetadataStore } from '../../live-index/metadata-store.js'
import type { ProjectRow, RecentUpload } from '../../render/ui/home.js'
import type { CachedProject } from '../../upstream/cached-projects.js'

interface Entry {
  readonly project: string
  readonly folder: string
  /** The index's file list this entry was made from (a new list whenever the folder changed). */
  readonly files: readonly DistFile[]
  readonly version: string | undefined
  /** The file whose metadata gives the summary. */
  readonly source: DistFile | undefined
  summary: string | undefined
  /** The summary in lower case, for search. */
  summaryLower: string | undefined
  /** The folder name in lower case, for search. */
  readonly folderLower: string
  /** True once the summary was looked for (found or not). */
  summaryRead: boolean
  readonly lastUploadMs: number
  /** The label of the upstream whose cached page lists it; absent for the eggdir's projects. */
  readonly origin?: string
}

/** What a search found. */
export interface SearchResult {
  readonly total: number
  readonly rows: readonly ProjectRow[]
}

// Summaries longer than this are cut: they are shown in one table cell and searched.
const MAX_SUMMARY = 160
const RECENT = 10
const SUMMARY_CONCURRENCY = 4
// Folders checked at once by the periodic freshness pass.
const CHECK_CONCURRENCY = 16

/** Options of the catalog. */
export interface CatalogOptions {
  readonly index: IndexService
  readonly metadata: CoreMetadataStore
  readonly log: FastifyBaseLogger
  /** How long the catalog is used before a request looks at the index again; default 1 s. */
  readonly ttlMs?: number
  /** How often, at most, every project folder is checked for changes on disk (in the background); default 10 s. */
  readonly checkIntervalMs?: number
  /** The upstreams' cached projects (src/upstream/upstream-index.ts), listed after the name rule; absent without upstreams. */
  readonly upstream?: {
    cachedProjects(): Promise<{ readonly version: string; readonly projects: readonly CachedProject[] }>
  }
}

/** Projects with their latest version, summary and last upload, kept current with the index. */
export class Catalog {
  readonly #index: IndexService
  readonly #metadata: CoreMetadataStore
  readonly #log: FastifyBaseLogger
  readonly #ttlMs: number
  readonly #checkIntervalMs: number
  readonly #upstream: CatalogOptions['upstream']
  /** The version of the upstreams' list the entries were made from. */
  #upstreamVersion: string | undefined
  /** How many of the projects listed come from upstreams. */
  #fromUpstreams = 0
  #checkedAt = -Infinity
  #checking: Promise<void> | undefined
  #entries = new Map<string, Entry>()
  #sorted: Entry[] = []
  #byUpdate: Entry[] | undefined
  #refreshedAt = -Infinity
  #refreshing: Promise<void> | undefined
  #version = 0
  #summaryQueue: Entry[] = []
  #summaryWorkers = 0

  constructor(options: CatalogOptions) {
    this.#index = options.index
    this.#metadata = options.metadata
    this.#log = options.log.child({ component: 'ui-catalog' })
    this.#ttlMs = options.ttlMs ?? 1000
    this.#checkIntervalMs = options.checkIntervalMs ?? 10_000
    this.#upstream = options.upstream
  }

  /** How many of the projects listed come from upstreams' cached pages. */
  get fromUpstreams(): number {
    return this.#fromUpstreams
  }

  /** Changes whenever anything the catalog shows changes (a page cache version). */
  get version(): number {
    return this.#version
  }

  /** True while summaries are still being read. */
  get loading(): boolean {
    return this.#summaryQueue.length > 0 || this.#summaryWorkers > 0
  }

  /**
   * Bring the catalog up to date with the index, at most once per TTL (concurrent callers share
   * it). This reads the index's current lists, which costs no I/O; the folders themselves are
   * checked for changes on disk (one stat each) at most every check interval, in the background.
   */
  async refresh(): Promise<void> {
    if (performance.now() - this.#refreshedAt < this.#ttlMs) return
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshedAt = performance.now()
      this.#refreshing = undefined
    })
    return this.#refreshing
  }

  /** Projects sorted by name (case-insensitive, as the index lists them) or by last upload, newest first. */
  list(sort: 'name' | 'updated', offset: number, limit: number): { total: number; rows: ProjectRow[] } {
    const entries = sort === 'name' ? this.#sorted : this.#updated()
    return { total: entries.length, rows: entries.slice(offset, offset + limit).map(row) }
  }

  /**
   * Projects whose name or summary contains `query` (case-insensitive): exact name first, then
   * names starting with it, names containing it, summaries containing it; by name within each.
   */
  search(query: string, limit: number): SearchResult {
    const wanted = query.trim().toLowerCase()
    if (wanted === '') return { total: 0, rows: [] }
    const normalized = normalizeProjectName(wanted)
    const ranked: { entry: Entry; rank: number }[] = []
    for (const entry of this.#sorted) {
      const rank =
        entry.project === normalized
          ? 0
          : entry.project.startsWith(normalized) || entry.folderLower.startsWith(wanted)
            ? 1
            : entry.project.includes(normalized) || entry.folderLower.includes(wanted)
              ? 2
              : entry.summaryLower?.includes(wanted) === true
                ? 3
                : -1
      if (rank >= 0) ranked.push({ entry, rank })
    }
    // A stable sort keeps the name order within a rank.
    ranked.sort((a, b) => a.rank - b.rank)
    return { total: ranked.length, rows: ranked.slice(0, limit).map(({ entry }) => row(entry)) }
  }

  /** The most recently uploaded files of the whole index. */
  recent(): RecentUpload[] {
    // The newest files all belong to the projects with the newest last uploads (the eggdir's:
    // an upstream project's files are not this index's uploads).
    const candidates = this.#updated()
      .filter((entry) => entry.origin === undefined)
      .slice(0, RECENT)
    const files: RecentUpload[] = []
    for (const entry of candidates) {
      for (const file of entry.files) {
        files.push({
          project: entry.project,
          filename: file.filename,
          version: normalizeVersion(file.parsed.version),
          mtimeMs: file.mtimeMs,
        })
      }
    }
    return files.sort((a, b) => b.mtimeMs - a.mtimeMs || a.filename.localeCompare(b.filename)).slice(0, RECENT)
  }

  async #refresh(): Promise<void> {
    if (performance.now() - this.#checkedAt >= this.#checkIntervalMs) {
      this.#checkedAt = performance.now()
      // Never waited for: the index's lists are fresh from its own load, watcher and requests,
      // and at 10,000 folders a check takes a second or two.
      const checking = (this.#checking ??= this.#checkFolders().finally(() => {
        this.#checking = undefined
      }))
      void checking
        .then(() => this.#update())
        .catch((err: unknown) => {
          this.#log.warn({ err }, 'Cannot bring the project list up to date')
        })
    }
    await this.#update()
  }

  // One freshness check per project folder (findProject() rescans a folder that changed).
  async #checkFolders(): Promise<void> {
    const projects = [...(await this.#index.listProjects()).projects]
    const next = async (): Promise<void> => {
      for (let project = projects.pop(); project !== undefined; project = projects.pop())
        await this.#index.findProject(project.project)
    }
    await Promise.all(Array.from({ length: CHECK_CONCURRENCY }, next))
  }

  // Rebuild the entries whose file list the index replaced since; keep the others as they are.
  async #update(): Promise<void> {
    // Fresh top level; each folder is as fresh as the index holds it (see #checkFolders).
    await this.#index.listProjects()
    const held = this.#index.heldProjects()
    const next = new Map<string, Entry>()
    let changed = held.length !== this.#entries.size
    for (const { project, folder, files } of held) {
      const old = this.#entries.get(project)
      if (old?.files === files && old.folder === folder) {
        next.set(project, old)
        continue
      }
      changed = true
      const entry = this.#entry(project, folder, files)
      // The same file as before keeps its summary.
      if (old !== undefined && old.source?.identity === entry.source?.identity && old.summaryRead) {
        entry.summary = old.summary
        entry.summaryLower = old.summaryLower
        entry.summaryRead = true
      } else {
        this.#summaryQueue.push(entry)
      }
      next.set(project, entry)
    }
    const upstream = await this.#upstream?.cachedProjects()
    if (upstream?.version !== this.#upstreamVersion) changed = true
    if (!changed) return
    this.#entries = next
    this.#upstreamVersion = upstream?.version
    // The name rule: the eggdir owns every name it has (merged ones too), so a local project
    // is listed as such; the upstream's cached page of that name is not listed.
    const fromUpstreams = (upstream?.projects ?? []).filter((cached) => !next.has(cached.project)).map(upstreamEntry)
    this.#fromUpstreams = fromUpstreams.length
    this.#sorted =
      fromUpstreams.length === 0
        ? [...next.values()]
        : [...next.values(), ...fromUpstreams].sort((a, b) => compareNames(a.folder, b.folder))
    this.#byUpdate = undefined
    this.#version++
    this.#readSummaries()
  }

  #entry(project: string, folder: string, files: readonly DistFile[]): Entry {
    const version = latestVersion(files)
    const candidates = files.filter(
      (file) => version !== undefined && normalizeVersion(file.parsed.version) === version,
    )
    const order = ['wheel', 'sdist', 'egg']
    const source = candidates.sort((a, b) => order.indexOf(a.parsed.kind) - order.indexOf(b.parsed.kind))[0]
    const lastUploadMs = latestMtimeMs(files)
    return {
      project,
      folder,
      files,
      folderLower: folder.toLowerCase(),
      version,
      source,
      summary: undefined,
      summaryLower: undefined,
      summaryRead: source === undefined,
      lastUploadMs,
    }
  }

  #updated(): Entry[] {
    this.#byUpdate ??= [...this.#sorted].sort((a, b) => b.lastUploadMs - a.lastUploadMs)
    return this.#byUpdate
  }

  // A few metadata reads at a time, so a cold start of thousands of projects does not crowd out requests.
  #readSummaries(): void {
    while (this.#summaryWorkers < SUMMARY_CONCURRENCY && this.#summaryQueue.length > 0) {
      this.#summaryWorkers++
      void this.#summaryWorker().finally(() => {
        this.#summaryWorkers--
      })
    }
  }

  async #summaryWorker(): Promise<void> {
    for (let entry = this.#summaryQueue.shift(); entry !== undefined; entry = this.#summaryQueue.shift()) {
      if (entry.source === undefined || entry.summaryRead) continue
      try {
        const read = await this.#metadata.read(entry.source)
        const summary = read === undefined ? undefined : parseCoreMetadata(read.bytes).get('summary')?.trim()
        entry.summary =
          summary === undefined || summary === '' || summary === 'UNKNOWN' ? undefined : shorten(summary, MAX_SUMMARY)
        entry.summaryLower = entry.summary?.toLowerCase()
      } catch (err) {
        this.#log.warn({ err, key: entry.source.key }, 'Cannot read the summary of a project')
      }
      entry.summaryRead = true
      this.#version++
    }
  }
}

function row(entry: Entry): ProjectRow {
  return {
    project: entry.project,
    folder: entry.folder,
    version: entry.version,
    summary: entry.summary,
    lastUploadMs: entry.lastUploadMs,
    ...(entry.origin === undefined ? {} : { origin: entry.origin }),
  }
}

// A project only an upstream's cached page knows: no files here; its summary only when its
// metadata is already cached (src/upstream/listed-summaries.ts: never fetched to draw a list).
function upstreamEntry(cached: CachedProject): Entry {
  return {
    project: cached.project,
    folder: cached.project,
    files: [],
    folderLower: cached.project,
    version: cached.version,
    source: undefined,
    summary: cached.summary,
    summaryLower: cached.summary?.toLowerCase(),
    summaryRead: true,
    lastUploadMs: cached.lastUploadMs,
    origin: cached.upstream,
  }
}

/**
 * The latest version among `files` as PyPI's JSON API picks it: the highest final release not
 * entirely yanked, else the highest non-yanked pre-release, else the highest.
 */
export function latestVersion(files: readonly DistFile[]): string | undefined {
  return latestVersionOf(files.map((file) => ({ version: file.parsed.version, yanked: file.yanked !== undefined })))
}
