// The query API routes use: the live index of projects and files, joined with what the
// analyzer knows. Tree state lives in project-tree.ts, the decision to read storage again in
// change-detector.ts; this file only composes them.
import type { FastifyBaseLogger } from 'fastify'
import type { AnalysisResult, Analyzer } from '../file-facts/analyzer.js'
import type { DistFile, FileFacts, PageFile, ProjectPage } from '../core/index-model.js'
import type { LayoutReport } from '../core/layout.js'
import { normalizeProjectName } from '../core/names.js'
import type { Storage } from '../storage/storage.js'
import { StoreFailure } from '../errors.js'
import type { Metrics } from '../core/metrics.js'
import { ChangeDetector } from './change-detector.js'
import { ProjectTree, type ProjectSnapshot, type RootSnapshot } from './project-tree.js'

export type { ProjectSnapshot, RootSnapshot } from './project-tree.js'

/** A change made through eggserve itself (an upload, a removal), as other processes serving the tree hear of it. */
export type IndexChange =
  | { readonly kind: 'published'; readonly folder: string; readonly identity: string; readonly facts: FileFacts }
  | { readonly kind: 'changed'; readonly folder: string }

/**
 * The other processes serving the same tree (--workers): each change made here is announced to
 * them, and the change counts as made once they all know it, so the next request shows it
 * whichever process it lands on.
 */
export interface IndexPeers {
  announce(change: IndexChange): Promise<void>
}

/** Dependencies of the index. */
export interface IndexServiceOptions {
  readonly storage: Storage
  readonly analyzer: Analyzer
  readonly log: FastifyBaseLogger
  /** Counts watch events (default: none kept). */
  readonly metrics?: Metrics
  /** Milliseconds; Date.now unless a test drives the clock. */
  readonly now?: () => number
  /** Other processes serving the tree (default: none). */
  readonly peers?: IndexPeers
  /**
   * What load() waits for besides the listing: the persistent cache being read meanwhile (on
   * another core when large; docs/benchmarks.md, "Warm restart"), which the analyzer answers from.
   */
  readonly factsLoaded?: Promise<void>
}

/**
 * The live index of the eggdir. Routes never touch storage listings themselves.
 *
 * Invariant (pinned by test/unit/index-service.test.ts): every query is correct whatever was
 * called before it. listProjects(), findProject() and findFile() check freshness themselves;
 * analyzedPage() describes exactly the snapshot it is given; heldProjects() says in its name
 * that it reads nothing.
 */
export class IndexService {
  readonly #analyzer: Analyzer
  readonly #log: FastifyBaseLogger
  readonly #tree = new ProjectTree()
  readonly #changes: ChangeDetector
  readonly #peers: IndexPeers | undefined
  readonly #factsLoaded: Promise<void> | undefined
  #loaded = false

  constructor(options: IndexServiceOptions) {
    this.#analyzer = options.analyzer
    this.#log = options.log.child({ component: 'index' })
    this.#peers = options.peers
    this.#factsLoaded = options.factsLoaded
    this.#changes = new ChangeDetector({
      storage: options.storage,
      tree: this.#tree,
      log: this.#log,
      forget: (files) => {
        for (const file of files) this.#analyzer.forget(file.identity)
      },
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    })
  }

  /** True once load() has read the whole tree. */
  get loaded(): boolean {
    return this.#loaded
  }

  /**
   * Read the whole tree and validate its layout. Every problem is returned; the files
   * concerned are left out of the index (the daemon decides whether that is fatal).
   */
  async load(): Promise<LayoutReport> {
    const report = await this.#changes.load()
    await this.#factsLoaded
    this.#loaded = true
    return report
  }

  /** Start reacting to watch events; failures to watch are logged, and tokens still catch changes. */
  watch(): void {
    this.#changes.watch()
  }

  /** Stop watching. */
  close(): void {
    this.#changes.close()
  }

  /** Every project, sorted case-insensitively by folder name, after a freshness check. */
  async listProjects(): Promise<RootSnapshot> {
    await this.#changes.freshRoot()
    return this.#tree.root()
  }

  /**
   * The project a URL segment names (its exact folder name or any spelling that normalizes
   * to it), after a freshness check: one stat when nothing changed. Its files and file() are
   * those of this check.
   */
  async findProject(name: string): Promise<ProjectSnapshot | undefined> {
    const project = normalizeProjectName(name)
    if (!this.#changes.knows(project)) await this.#changes.freshRoot()
    return this.#changes.freshProject(project)
  }

  /**
   * findProject()'s answer when it needs no read of storage (the common case while the tree
   * is watched), so a page is sent without waiting on a promise; undefined: call findProject().
   */
  findProjectNow(name: string): ProjectSnapshot | undefined {
    return this.#changes.trustedProject(normalizeProjectName(name))
  }

  /**
   * True when findProject() would answer undefined without reading storage (a name the tree
   * does not hold, its top level checked lately and watched); false: call findProject().
   */
  absentNow(name: string): boolean {
    return this.#changes.trustedAbsent(normalizeProjectName(name))
  }

  /** A file of the project `name` names, by exact filename, after a freshness check (see findProject()). */
  async findFile(name: string, filename: string): Promise<DistFile | undefined> {
    return (await this.findProject(name))?.file(filename)
  }

  /**
   * Every project as the index holds it now, in listProjects() order, without reading storage
   * (for background work that must not wait on it: hashing, the catalog).
   */
  heldProjects(): readonly ProjectSnapshot[] {
    return this.#tree.snapshots()
  }

  /**
   * The safety net for missed watch events and filesystems without them (NFS): re-read the
   * top level and every folder, at most `concurrency` at once. Pages change only where files did.
   */
  async reconcile(concurrency = 4): Promise<void> {
    await this.#changes.reconcile(concurrency)
  }

  /**
   * The page of a project snapshot with every file analyzed; waits only for this project's
   * own files. It lists exactly the snapshot's files (the generation a page cache keys it by).
   */
  async analyzedPage(snapshot: ProjectSnapshot): Promise<ProjectPage> {
    const analyzed = await Promise.all(snapshot.files.map((file) => this.#analyzed(snapshot, file)))
    return {
      folder: snapshot.folder,
      project: snapshot.project,
      files: analyzed.filter((item): item is PageFile => item !== undefined),
    }
  }

  /** The facts of a file (remembered, or read now): e.g. the digests of the file an upload collides with. */
  facts(file: DistFile): Promise<AnalysisResult> {
    return this.#analyzer.analyze(file, { group: file.parsed.project, urgent: true })
  }

  /**
   * A file was just written under `folder` with facts computed while it was written: remember
   * them for its identity (so it is never read again to list it) and rescan the folder on the
   * next request, so the file shows at once; resolves once the peers know it too.
   */
  async published(folder: string, identity: string, facts: FileFacts): Promise<void> {
    const change: IndexChange = { kind: 'published', folder, identity, facts }
    this.apply(change)
    await this.#peers?.announce(change)
  }

  /**
   * Something in `folder` changed through eggserve itself (an upload, a removal): rescan it on
   * the next request; resolves once the peers know it too.
   */
  async changed(folder: string): Promise<void> {
    const change: IndexChange = { kind: 'changed', folder }
    this.apply(change)
    await this.#peers?.announce(change)
  }

  /** Take a change in here only (what a peer announced). */
  apply(change: IndexChange): void {
    if (change.kind === 'published') this.#analyzer.remember(change.identity, change.facts)
    this.#changes.changed(change.folder)
  }

  async #analyzed(snapshot: ProjectSnapshot, file: DistFile): Promise<PageFile | undefined> {
    try {
      const result = await this.#analyzer.analyze(file, { group: snapshot.project, urgent: true })
      if (result.file.identity === file.identity) return { file, facts: result.facts }
      // The file changed after the folder was read: describe the bytes that were read, and rescan next time.
      this.#changes.stale(snapshot.project)
      return {
        file: { ...file, size: result.file.size, mtimeMs: result.file.mtimeMs, identity: result.file.identity },
        facts: result.facts,
      }
    } catch (err) {
      this.#changes.stale(snapshot.project)
      // The store is down or throttling: the page fails (503) rather than leave out files
      // that are there, which a client could take for the whole truth.
      if (err instanceof StoreFailure) throw err
      this.#log.error({ err, key: file.key }, 'Leaving a file out of the listing: it cannot be read')
      return undefined
    }
  }
}
