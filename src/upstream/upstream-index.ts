// The index with upstreams: it wraps the local index (which knows nothing of upstreams) and
// applies the name rule (src/core/name-rule.ts) before anything leaves the server.
import type { FastifyBaseLogger } from 'fastify'
import { applyCooldown, type CooledPage, type Hold } from '../core/cooldown.js'
import { formatDuration } from '../core/duration.js'
import { decide, namePolicy, neverUpstream, type NameDecision, type NamePolicy } from '../core/name-rule.js'
import { isValidProjectName, normalizeProjectName } from '../core/names.js'
import { parseDistFilename } from '../core/filenames.js'
import { normalizeVersion } from '../core/versions.js'
import type { UpstreamFile, UpstreamPage } from '../core/upstream-page.js'
import type { IndexService, ProjectSnapshot } from '../live-index/index-service.js'
import { PurgeWatcher } from './cache-purge.js'
import type { CachedProject } from './cached-projects.js'
import { UpstreamFiles } from './file-cache.js'
import { ListedSummaries } from './listed-summaries.js'
import { PageSource, type PageAnswer } from './page-source.js'
import { UpstreamReleaseMetadata } from './release-metadata.js'
import type { BreakerState } from './circuit-breaker.js'
import type { UpstreamObserver } from './upstream-observer.js'
import type { UpstreamConfig, UpstreamSettings } from './upstream-settings.js'

/** An upstream's page of a project, as found. */
export interface UpstreamView {
  readonly project: string
  /** The page as listed: without the files the upstream's cooldown holds back. */
  readonly page: UpstreamPage
  /** The files held back by the cooldown, by filename (they answer 403). */
  readonly held: ReadonlyMap<string, Hold>
  readonly upstream: UpstreamSettings
  /** Changes whenever the page does (a held file coming of age included). */
  readonly version: number
  readonly fetchedAt: number
  /** Served because the upstream failed. */
  readonly stale: boolean
}

/** Who answers for a name. */
export type Resolution =
  | { readonly kind: 'local'; readonly state: ProjectSnapshot }
  /** On the merge list: the local project plus the upstream page, when one could be had. */
  | { readonly kind: 'merge'; readonly state: ProjectSnapshot; readonly view: UpstreamView | undefined }
  | { readonly kind: 'upstream'; readonly view: UpstreamView }
  | { readonly kind: 'not-found' }
  /** `offline`: the upstream that could not answer is offline (--offline or its own setting). */
  | { readonly kind: 'unavailable'; readonly offline: boolean }

/** What the upstreams, walked in order, say about a project. */
type Asked =
  /** `resolution`: the upstream resolution of `view`, made once with it. */
  | { readonly kind: 'page'; readonly view: UpstreamView; readonly resolution: Resolution }
  | { readonly kind: 'missing' }
  | { readonly kind: 'unavailable'; readonly offline: boolean }

const MISSING: Asked = Object.freeze({ kind: 'missing' })
const UNAVAILABLE: Asked = Object.freeze({ kind: 'unavailable', offline: false })
const UNAVAILABLE_OFFLINE: Asked = Object.freeze({ kind: 'unavailable', offline: true })
const NOT_FOUND: Resolution = Object.freeze({ kind: 'not-found' })

/** A view (in its answer) and the cooled page it was made from. */
interface KnownView {
  readonly cooled: CooledPage
  readonly asked: Extract<Asked, { kind: 'page' }>
}

/** A file held back by its upstream's cooldown. */
export interface HeldFile {
  readonly filename: string
  readonly hold: Hold
  readonly upstream: UpstreamSettings
}

/** The local index plus the upstreams, in order. */
export class UpstreamIndex {
  readonly local: IndexService
  readonly files: UpstreamFiles
  /** The core metadata of upstream releases (the JSON API's `info`, the UI's project pages). */
  readonly metadata: UpstreamReleaseMetadata
  readonly offline: boolean
  readonly #policy: NamePolicy
  readonly #sources: readonly PageSource[]
  readonly #now: () => number
  /** Pages with the cooldown applied, until a held file comes of age. */
  readonly #cooled = new WeakMap<UpstreamPage, CooledPage>()
  /** The view of each page answer, for the cooled page it was made from. */
  readonly #views = new WeakMap<PageAnswer, KnownView>()
  readonly #versions = new Map<string, number>()
  #nextVersion = 1
  readonly #purges: PurgeWatcher
  /** The summaries of the listed upstream projects (from cached metadata only). */
  readonly #listed: ListedSummaries
  /** The last answer of cachedProjects(), until a summary changes. */
  #cachedList: { version: string; projects: CachedProject[] } | undefined

  constructor(options: {
    index: IndexService
    config: UpstreamConfig
    cacheDir: string
    log: FastifyBaseLogger
    now?: () => number
    /** Told what happens with the upstreams (the metrics); default: nobody. */
    observer?: UpstreamObserver
  }) {
    const { config } = options
    const observer = options.observer === undefined ? {} : { observer: options.observer }
    this.local = options.index
    this.offline = config.offline
    this.#policy = namePolicy({
      hasUpstreams: config.upstreams.length > 0,
      neverUpstream: config.neverUpstream,
      merge: config.merge,
    })
    this.#sources = config.upstreams.map(
      (settings) =>
        new PageSource({
          settings,
          cacheDir: options.cacheDir,
          offline: config.offline || settings.offline,
          log: options.log,
          ...(options.now === undefined ? {} : { now: options.now }),
          ...observer,
        }),
    )
    this.#now = options.now ?? Date.now
    this.files = new UpstreamFiles({
      cacheDir: options.cacheDir,
      offline: config.offline,
      log: options.log,
      maxBytes: config.cacheMaxBytes,
      hashChange: config.hashChange,
      // One breaker per upstream, for its pages and its files alike.
      breakerOf: (upstream) => this.#sources.find((source) => source.settings.label === upstream.label)?.breaker,
      ...observer,
    })
    this.metadata = new UpstreamReleaseMetadata({
      files: this.files,
      offline: config.offline,
      breakerState: (label) => this.#sources.find((source) => source.settings.label === label)?.breakerState,
      log: options.log,
      ...(options.now === undefined ? {} : { now: options.now }),
    })
    this.#listed = new ListedSummaries({ metadata: this.metadata, log: options.log })
    this.#purges = new PurgeWatcher(options.cacheDir)
    // Labels carry no credentials (parseUpstreamUrl removed them).
    options.log.info(
      {
        upstreams: config.upstreams.map((upstream) => upstream.label),
        settings: config.upstreams.map(describeSettings),
        offline: config.offline,
        neverUpstream: config.neverUpstream,
        merge: config.merge,
      },
      'Upstream indexes',
    )
  }

  /** Stop watching the purge log (the server is closing). */
  close(): void {
    this.#purges.close()
  }

  /** True when some upstream has a minimum release age. */
  get cooldown(): boolean {
    return this.#sources.some((source) => source.settings.cooldown.minAgeMs > 0)
  }

  /** Upstream page requests made so far (every upstream). */
  get pageRequests(): number {
    return this.#sources.reduce((sum, source) => sum + source.requests, 0)
  }

  /** Each upstream's label and circuit breaker state, in order. */
  breakers(): { upstream: string; state: BreakerState }[] {
    return this.#sources.map((source) => ({ upstream: source.settings.label, state: source.breakerState }))
  }

  /** Apply the name rule to `name`; the local index is always asked first. */
  async resolve(name: string): Promise<Resolution> {
    await this.#forgetPurged()
    const state = await this.local.findProject(name)
    const decision = decide(this.#policy, name, state !== undefined)
    const project = upstreamProject(decision, name, state)
    if (project === undefined) return ruled(decision, state, undefined)
    return ruled(decision, state, await this.#ask(project))
  }

  /**
   * resolve()'s answer when nothing has to be read or waited for: no purge to look at, the
   * local index sure of the name (findProjectNow, absentNow), every upstream asked answering
   * from memory (PageSource.getNow); undefined: call resolve(). So a cached upstream page is
   * sent without a promise, as a local page is, and a request for it builds no new objects
   * (docs/benchmarks.md, the upstream page row).
   */
  resolveNow(name: string): Resolution | undefined {
    if (!this.#purges.quiet()) return undefined
    const state = this.local.findProjectNow(name)
    if (state === undefined && !this.local.absentNow(name)) return undefined
    const decision = decide(this.#policy, name, state !== undefined)
    const project = upstreamProject(decision, name, state)
    if (project === undefined) return ruled(decision, state, undefined)
    const found = this.#askNow(project)
    return found === undefined ? undefined : ruled(decision, state, found)
  }

  /**
   * The projects the upstreams' cached pages know (never an upstream's list of every name:
   * src/upstream/cached-projects.ts), for the UI's project list: an earlier upstream's page wins
   * a name two have, as it would on a request, and never-upstream names are left out. Whether
   * the eggdir has a name is the caller's to check (a local name wins). `version` changes
   * whenever the list does.
   */
  async cachedProjects(): Promise<{ version: string; projects: CachedProject[] }> {
    await this.#forgetPurged()
    const found = []
    for (const source of this.#sources) found.push({ source, ...(await source.cachedProjects()) })
    // Unchanged pages, summaries and cached files: the last answer holds (a list costs no walk).
    const version = `${found.map((each) => String(each.version)).join(':')}/${String(this.#listed.version)}/${String(this.files.changes)}`
    if (this.#cachedList?.version === version) return this.#cachedList
    const seen = new Set<string>()
    const projects: CachedProject[] = []
    for (const { source, summaries } of found) {
      for (const [project, summary] of summaries) {
        if (seen.has(project) || neverUpstream(this.#policy, project)) continue
        seen.add(project)
        // Read again (in the background) when the latest release or the project's cached files change.
        const text = this.#listed.summaryOf({
          project,
          key: `${source.settings.label}\n${summary.version ?? ''}\n${String(this.files.version(project))}`,
          files: () => this.#releaseFiles(source, project, summary.version),
          saved: source.description(project, summary.version),
          found: (text) => {
            source.describe(project, summary.version, text)
          },
        })
        projects.push({
          ...summary,
          project,
          upstream: source.settings.label,
          ...(text === undefined ? {} : { summary: text }),
        })
      }
    }
    this.#cachedList = { version, projects }
    return this.#cachedList
  }

  /** Resolves once the summaries queued by cachedProjects() are read (tests). */
  async cachedSummariesRead(): Promise<void> {
    await this.#listed.idle()
  }

  // The files of `project`'s release `version` as its cached page lists them (the cooldown
  // applied); undefined when none of the project's files is cached (no page is read then).
  async #releaseFiles(
    source: PageSource,
    project: string,
    version: string | undefined,
  ): Promise<UpstreamFile[] | undefined> {
    if (version === undefined || (await this.files.pinned(project)).size === 0) return undefined
    const page = await source.storedPage(project)
    if (page === undefined) return undefined
    return this.#cool(source, page).page.files.filter((file) => {
      const parsed = parseDistFilename(file.filename)
      return parsed !== undefined && normalizeVersion(parsed.version) === version
    })
  }

  /** Resolves once the background reading of the cached pages for cachedProjects() is done (tests). */
  async cachedProjectsChecked(): Promise<void> {
    for (const source of this.#sources) await source.checked()
  }

  /** True when the name rule lets `name` be served from an upstream (it is not local, or it is merged). */
  async reachesUpstream(name: string): Promise<boolean> {
    await this.#forgetPurged()
    const state = await this.local.findProject(name)
    const decision = decide(this.#policy, name, state !== undefined)
    return decision === 'upstream' || decision === 'merge'
  }

  /**
   * The upstream file `filename` of `name`, when the name rule lets `name` reach an upstream:
   * found, held back by the cooldown, or unavailable (`offline` as in Resolution).
   */
  async file(
    name: string,
    filename: string,
  ): Promise<
    | { view: UpstreamView; file: UpstreamFile }
    | { held: HeldFile }
    | { unavailable: true; offline: boolean }
    | undefined
  > {
    const resolution = await this.resolve(name)
    if (resolution.kind === 'unavailable') return { unavailable: true, offline: resolution.offline }
    const view = resolution.kind === 'upstream' || resolution.kind === 'merge' ? resolution.view : undefined
    if (view === undefined) return undefined
    const hold = view.held.get(filename)
    if (hold !== undefined) return { held: { filename, hold, upstream: view.upstream } }
    const file = view.page.files.find((candidate) => candidate.filename === filename)
    return file === undefined ? undefined : { view, file }
  }

  /**
   * Whether the cooldown holds back `filename` of `project` (normalized), judged from the cached
   * pages alone, without asking any upstream: for files already in the cache, which are served
   * even when the upstream cannot be reached. An upload-time never changes, so a cached page
   * knows it as well as a fresh one.
   */
  async heldInCache(project: string, filename: string): Promise<HeldFile | undefined> {
    if (!this.cooldown) return undefined
    for (const source of this.#sources) {
      const page = await source.cached(project)
      const file = page?.files.find((candidate) => candidate.filename === filename)
      if (page === undefined || file === undefined) continue
      const hold = this.#cool(source, page).held.get(filename)
      return hold === undefined ? undefined : { filename, hold, upstream: source.settings }
    }
    return undefined
  }

  /**
   * The entry of `filename` of `project` (normalized) on the first cached page that lists it,
   * without asking any upstream: what the pages last listed for a cached file.
   */
  async cachedPageFile(project: string, filename: string): Promise<UpstreamFile | undefined> {
    for (const source of this.#sources) {
      const file = (await source.cached(project))?.files.find((candidate) => candidate.filename === filename)
      if (file !== undefined) return file
    }
    return undefined
  }

  // `eggserve cache purge` (maybe in another process) removed these projects from the cache
  // directory: memory must not keep serving their pages, pins or 404s.
  async #forgetPurged(): Promise<void> {
    for (const project of await this.#purges.check()) {
      for (const source of this.#sources) source.forget(project)
      this.files.forget(project)
      this.metadata.forget(project)
      this.#listed.forget(project)
    }
  }

  // The upstreams in order: the first that has the project owns it. One that cannot answer
  // (and has no usable cached page) stops the walk: a later upstream must not get the name
  // just because an earlier one is down (PEP 766, index priority).
  async #ask(project: string): Promise<Asked> {
    for (let index = 0; index < this.#sources.length; index++) {
      const source = this.#sources[index]
      if (source === undefined) continue
      const found = this.#asked(index, source, project, await source.get(project))
      if (found !== undefined) return found
    }
    return MISSING
  }

  // #ask() when every upstream it walks answers from memory; undefined: one would have to wait.
  #askNow(project: string): Asked | undefined {
    for (let index = 0; index < this.#sources.length; index++) {
      const source = this.#sources[index]
      if (source === undefined) continue
      const answer = source.getNow(project)
      if (answer === undefined) return undefined
      const found = this.#asked(index, source, project, answer)
      if (found !== undefined) return found
    }
    return MISSING
  }

  // What one upstream's answer means for the walk; undefined: go on to the next upstream.
  #asked(index: number, source: PageSource, project: string, answer: PageAnswer): Asked | undefined {
    if (answer.kind === 'page') return this.#view({ index, source, project, answer }).asked
    if (answer.kind !== 'unavailable') return undefined
    // An offline upstream without a cached page cannot say whether it has the name, so it
    // stops the walk as a down one does: otherwise a private mirror switched offline would
    // hand every name it has not cached to the next index (PyPI), the very confusion the
    // order exists to prevent.
    return source.settings.offline ? UNAVAILABLE_OFFLINE : UNAVAILABLE
  }

  #view(found: {
    index: number
    source: PageSource
    project: string
    answer: Extract<PageAnswer, { kind: 'page' }>
  }): KnownView {
    const { answer, source } = found
    const cooled = this.#cool(source, answer.page)
    // A fresh answer is one object per cached page (PageSource), so its view is made once,
    // until the cooldown lets a held file through.
    const known = this.#views.get(answer)
    if (known?.cooled === cooled) return known
    const view: UpstreamView = {
      project: found.project,
      page: cooled.page,
      held: cooled.held,
      upstream: source.settings,
      // A held file coming of age changes the page: the number of held files (which only
      // shrinks for one page) is part of the version.
      version: this.#version(`${String(found.index)}:${String(answer.version)}:${String(cooled.held.size)}`),
      fetchedAt: answer.fetchedAt,
      stale: answer.stale,
    }
    const made: KnownView = { cooled, asked: { kind: 'page', view, resolution: { kind: 'upstream', view } } }
    this.#views.set(answer, made)
    return made
  }

  // The cooldown applied to a page, kept until the first held file comes of age (for ever
  // without a cooldown: the page itself, nothing held).
  #cool(source: PageSource, page: UpstreamPage): CooledPage {
    const rule = source.settings.cooldown
    const known = this.#cooled.get(page)
    if (known !== undefined && (known.changesAtMs === Infinity || this.#now() < known.changesAtMs)) return known
    const cooled = applyCooldown(page, rule, this.#now())
    this.#cooled.set(page, cooled)
    return cooled
  }

  #version(key: string): number {
    let version = this.#versions.get(key)
    if (version === undefined) {
      // Numbers are never reused, so forgetting old combinations only costs a render.
      if (this.#versions.size > 10_000) this.#versions.clear()
      version = this.#nextVersion++
      this.#versions.set(key, version)
    }
    return version
  }
}

// The normalized name to ask the upstreams for under `decision`; undefined: none is asked.
function upstreamProject(decision: NameDecision, name: string, state: ProjectSnapshot | undefined): string | undefined {
  if (decision === 'merge') return state?.project
  if (decision === 'upstream' && isValidProjectName(name)) return normalizeProjectName(name)
  return undefined
}

// The resolution of a decision, given what the upstreams said (when upstreamProject() named a project).
function ruled(decision: NameDecision, state: ProjectSnapshot | undefined, found: Asked | undefined): Resolution {
  switch (decision) {
    case 'local':
      return state === undefined ? NOT_FOUND : { kind: 'local', state }
    case 'not-found':
      return NOT_FOUND
    case 'merge':
      if (state === undefined) return NOT_FOUND
      return { kind: 'merge', state, view: found?.kind === 'page' ? found.view : undefined }
    case 'upstream':
      if (found === undefined || found.kind === 'missing') return NOT_FOUND
      return found.kind === 'page' ? found.resolution : { kind: 'unavailable', offline: found.offline }
  }
}

// What the log says about an upstream's settings: never its credentials, only whether it has some.
function describeSettings(upstream: UpstreamSettings): Record<string, unknown> {
  return {
    url: upstream.label,
    credentials: upstream.authorization !== undefined,
    ttl: formatDuration(upstream.ttlMs),
    offline: upstream.offline,
    breaker: { failures: upstream.breaker.failures, openFor: formatDuration(upstream.breaker.openMs) },
    directDownloads: upstream.directDownloads,
    ...(upstream.cooldown.minAgeMs > 0
      ? { minReleaseAge: formatDuration(upstream.cooldown.minAgeMs), undated: upstream.cooldown.undated }
      : {}),
  }
}
