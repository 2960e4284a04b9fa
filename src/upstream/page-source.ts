// One upstream's project pages: cached (memory and disk), fresh within the TTL, revalidated
// with If-None-Match, never replaced by an older page (X-PyPI-Last-Serial), 404s remembered
// briefly, one request per project at a time, a circuit breaker, and stale pages when the
// upstream fails.
import { performance } from 'node:perf_hooks'
import type { FastifyBaseLogger } from 'fastify'
import { parseHtmlPage, parseJsonPage, type UpstreamPage } from '../core/upstream-page.js'
import { summarizePage, type PageSummary } from './cached-projects.js'
import { CircuitBreaker, type BreakerState } from './circuit-breaker.js'
import { describeUrl, readBounded, upstreamGet } from './http-client.js'
import { PageStore, type ListedPage, type PageIdentity, type StoredPage } from './page-store.js'
import { UpstreamFetchError } from './upstream-errors.js'
import { NO_OBSERVER, outcomeOf, type UpstreamObserver, type UpstreamOutcome } from './upstream-observer.js'
import type { UpstreamSettings } from './upstream-settings.js'

/** What one upstream says about a project. */
export type PageAnswer =
  /** `staleMs` is set when the page is served because the upstream failed (or --offline). */
  | {
      readonly kind: 'page'
      readonly page: UpstreamPage
      readonly version: number
      readonly fetchedAt: number
      readonly stale: boolean
    }
  | { readonly kind: 'missing' }
  | { readonly kind: 'unavailable'; readonly reason: string }

// PEP 691: ask for JSON, accept HTML (a static mirror, an older index).
const ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01'

interface Entry extends StoredPage {
  /** Bumped whenever the page's content changes: rendered pages are cached by it. */
  readonly version: number
}

let nextVersion = 1

/** How often the stored pages are checked for what other processes stored or removed. */
const CHECK_INTERVAL_MS = 30_000
/** At most this many stored pages the list does not name are read before the first answer. */
const READ_AT_START = 64

/** The pages of one upstream. */
export class PageSource {
  readonly settings: UpstreamSettings
  readonly #store: PageStore
  readonly #log: FastifyBaseLogger
  readonly #breaker: CircuitBreaker
  readonly #offline: boolean
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()
  readonly #missing = new Map<string, number>()
  readonly #inFlight = new Map<string, Promise<PageAnswer>>()
  readonly #observer: UpstreamObserver
  /** What the UI's project list shows of each cached page: read from the disk once, then kept current. */
  readonly #summaries = new Map<string, PageSummary>()
  /** The identity of the stored page each summary was made from (for the list file). */
  readonly #identities = new Map<string, PageIdentity>()
  /** The `Summary` text of a project's release `version`, kept in the list file so a restart need not read it again. */
  readonly #descriptions = new Map<string, { readonly version: string; readonly text: string }>()
  #summariesScanned: Promise<void> | undefined
  /** The background check of the stored pages against the summaries, while one runs. */
  #checking: Promise<void> | undefined
  /** When the stored pages were last checked (pages other processes stored or removed since). */
  #checkedAt = -Infinity
  /** The list file is being written; `#listDirty`: write it again once done. */
  #listWriting: Promise<void> | undefined
  #listDirty = false
  /** Pages being written to the cache directory. */
  readonly #saving = new Set<Promise<void>>()
  /** Bumped whenever a summary is added, changed or removed. */
  #summariesVersion = 0
  /** The first moment a summary may change by itself (a held file comes of age). */
  #summariesChangeAt = Infinity
  /** Upstream requests made (for the log and tests). */
  requests = 0

  constructor(options: {
    settings: UpstreamSettings
    cacheDir: string | undefined
    offline: boolean
    log: FastifyBaseLogger
    now?: () => number
    observer?: UpstreamObserver
  }) {
    this.settings = options.settings
    const observer = options.observer ?? NO_OBSERVER
    this.#observer = observer
    this.#log = options.log.child({ component: 'upstream', upstream: options.settings.label })
    this.#store = new PageStore({ cacheDir: options.cacheDir, upstreamUrl: options.settings.url, log: this.#log })
    this.#now = options.now ?? Date.now
    const label = options.settings.label
    this.#breaker = new CircuitBreaker(options.settings.breaker, this.#now, () => {
      observer.breakerOpened(label)
    })
    this.#offline = options.offline
  }

  /** The circuit breaker's state now (read by the metrics on each scrape). */
  get breakerState(): BreakerState {
    return this.#breaker.state
  }

  /** The circuit breaker, which this upstream's file downloads count toward too (UpstreamFiles). */
  get breaker(): CircuitBreaker {
    return this.#breaker
  }

  /** The page of `project` (normalized), asking the upstream only when the cached one is not fresh. */
  async get(project: string): Promise<PageAnswer> {
    const found = await this.#lookup(project)
    this.#observer.pageLookup(this.settings.label, found.fromCache ? 'hit' : 'miss')
    const answered = await found.answer
    if (answered.kind === 'page' && answered.stale) this.#observer.stalePage(this.settings.label)
    return answered
  }

  /**
   * get()'s answer when memory holds the page and nothing has to be read or asked (fresh
   * within the TTL, or offline); undefined: call get(). Counted as get() counts it. A cached
   * upstream page is then answered without a promise, as a local one is (the bench's
   * upstream page row, docs/benchmarks.md).
   */
  getNow(project: string): PageAnswer | undefined {
    const entry = this.#entries.get(project)
    if (entry === undefined) return undefined
    const found = this.#answerNow(project, entry)
    // With an entry, every answer found at once is the cache's.
    if (found !== undefined) this.#observer.pageLookup(this.settings.label, 'hit')
    return found
  }

  async #lookup(project: string): Promise<{ fromCache: boolean; answer: PageAnswer | Promise<PageAnswer> }> {
    const entry = await this.#entry(project)
    const found = this.#answerNow(project, entry)
    // Offline without a page is the only answer found at once that is not the cache's.
    if (found !== undefined) return { fromCache: found.kind !== 'unavailable', answer: found }
    let pending = this.#inFlight.get(project)
    if (pending !== undefined) this.#observer.joined(this.settings.label, 'page')
    else {
      // Singleflight: concurrent misses of one project share one upstream request.
      pending = this.#refresh(project, entry).finally(() => {
        this.#inFlight.delete(project)
      })
      this.#inFlight.set(project, pending)
    }
    return { fromCache: false, answer: pending }
  }

  // What memory answers for `project` without asking the upstream: the cached page offline or
  // within the TTL, a 404 remembered; undefined when the upstream must be asked.
  #answerNow(project: string, entry: Entry | undefined): PageAnswer | undefined {
    if (this.#offline) return entry === undefined ? OFFLINE_UNCACHED : freshAnswer(entry)
    const now = this.#now()
    if (entry !== undefined && now - entry.fetchedAt < this.settings.ttlMs) return freshAnswer(entry)
    const missingUntil = this.#missing.get(project)
    if (missingUntil !== undefined && now < missingUntil) return MISSING
    return undefined
  }

  /** Forget what memory holds about `project` (its page was purged from the cache directory). */
  forget(project: string): void {
    this.#entries.delete(project)
    this.#missing.delete(project)
    if (this.#dropSummary(project)) void this.#writeList()
  }

  /**
   * The summary of every cached page (for the UI's project list), and a number that changes
   * whenever one does. The first call reads the list of stored pages (`projects.list`, one small
   * file, kept by every process as it stores pages) and the names of the stored pages, and
   * answers with those, without reading every page: a page the list does not describe as it is
   * on disk (stored or changed by another process, or before the list existed) is read in the
   * background, as is done again every CHECK_INTERVAL_MS; a few unlisted ones are read at once.
   */
  async cachedProjects(): Promise<{ version: number; summaries: ReadonlyMap<string, PageSummary> }> {
    this.#summariesScanned ??= this.#startSummaries()
    await this.#summariesScanned
    if (this.#now() - this.#checkedAt >= CHECK_INTERVAL_MS) this.#checkInBackground()
    if (this.#now() >= this.#summariesChangeAt) {
      const now = this.#now()
      for (const [project, summary] of [...this.#summaries]) {
        if (now < summary.changesAtMs) continue
        const entry = await this.#entry(project)
        if (entry === undefined) this.#dropSummary(project)
        else this.#summarize(project, entry.page)
      }
      let next = Infinity
      for (const summary of this.#summaries.values()) next = Math.min(next, summary.changesAtMs)
      this.#summariesChangeAt = next
    }
    return { version: this.#summariesVersion, summaries: this.#summaries }
  }

  /** The `Summary` of release `version` of `project` as the list file (or describe()) gave it, if any. */
  description(project: string, version: string | undefined): string | undefined {
    const known = this.#descriptions.get(project)
    return known !== undefined && known.version === version ? known.text : undefined
  }

  /** The `Summary` of release `version` of `project` was read (undefined: it has none): kept in the list file. */
  describe(project: string, version: string | undefined, text: string | undefined): void {
    if (this.description(project, version) === text) return
    if (text === undefined || version === undefined) this.#descriptions.delete(project)
    else this.#descriptions.set(project, { version, text })
    if (this.#summaries.has(project)) void this.#writeList()
  }

  /** The background check started last (tests wait for it). */
  async checked(): Promise<void> {
    await Promise.all([...this.#saving])
    await this.#summariesScanned
    await this.#checking
    // A change during a write makes one more write (#writeList): wait for that too.
    while (this.#listWriting !== undefined) await this.#listWriting
  }

  async #startSummaries(): Promise<void> {
    const listed = (await this.#store.loadList()) ?? []
    const stored = await this.#store.projects()
    const present = new Set(stored)
    // Only pages still on disk: a purge (by any process) removed the others.
    for (const { project, summary, identity, description } of listed) {
      if (!present.has(project) || this.#summaries.has(project)) continue
      this.#summaries.set(project, summary)
      this.#identities.set(project, identity)
      if (description !== undefined && summary.version !== undefined)
        this.#descriptions.set(project, { version: summary.version, text: description })
      this.#summariesChangeAt = Math.min(this.#summariesChangeAt, summary.changesAtMs)
    }
    this.#summariesVersion++
    // A few pages the list does not name (stored while it was being written, say) are read now,
    // so the first answer has them; many (no list yet: the first start on this cache) are read
    // in the background, like the check of every listed page's identity.
    const unlisted = stored.filter((project) => !this.#summaries.has(project))
    if (unlisted.length <= READ_AT_START) {
      let changed = false
      for (const project of unlisted) changed = (await this.#read(project)) || changed
      if (changed) void this.#writeList()
    }
    this.#checkInBackground()
  }

  #checkInBackground(): void {
    if (this.#checking !== undefined) return
    this.#checkedAt = this.#now()
    this.#checking = this.#checkStore()
      .then((changed) => (changed ? this.#writeList() : undefined))
      .catch((err: unknown) => {
        this.#log.warn({ err }, 'Cannot read the cached upstream pages for the project list')
      })
      .finally(() => {
        this.#checking = undefined
      })
  }

  // Bring the summaries in step with the stored pages: one stat per page, and a read of each
  // page whose identity is not the one its summary was made from. True when anything changed.
  async #checkStore(): Promise<boolean> {
    const stored = await this.#store.projects()
    const present = new Set(stored)
    let changed = false
    for (const project of [...this.#summaries.keys()])
      if (!present.has(project) && !this.#entries.has(project)) changed = this.#dropSummary(project) || changed
    // A project the upstream just answered 404 for keeps no summary, though its old page is still on disk.
    for (const project of stored) if (!this.#missing.has(project)) changed = (await this.#read(project)) || changed
    return changed
  }

  // Summarize the stored page of `project` unless its summary was made from this very file.
  async #read(project: string): Promise<boolean> {
    // The identity first: a page replaced meanwhile is read again at the next check.
    const identity = await this.#store.identity(project)
    const known = this.#identities.get(project)
    if (identity === undefined || (known?.size === identity.size && known.mtimeMs === identity.mtimeMs)) return false
    const page = await this.#store.load(project)
    if (page === undefined) return false
    this.#summarize(project, page.page)
    this.#identities.set(project, identity)
    return true
  }

  // One write at a time; changes during a write make one more.
  #writeList(): Promise<void> {
    if (this.#listWriting !== undefined) {
      this.#listDirty = true
      return this.#listWriting
    }
    const pages: ListedPage[] = []
    for (const [project, summary] of this.#summaries) {
      const identity = this.#identities.get(project)
      // A page whose file is not written yet is listed once it is (its save sets the identity).
      const description = this.description(project, summary.version)
      if (identity !== undefined)
        pages.push({ project, summary, identity, ...(description === undefined ? {} : { description }) })
    }
    this.#listWriting = this.#store.saveList(pages).finally(() => {
      this.#listWriting = undefined
      if (this.#listDirty) {
        this.#listDirty = false
        void this.#writeList()
      }
    })
    return this.#listWriting
  }

  #summarize(project: string, page: UpstreamPage): void {
    const summary = summarizePage(page, this.settings.cooldown, this.#now())
    this.#summaries.set(project, summary)
    this.#summariesChangeAt = Math.min(this.#summariesChangeAt, summary.changesAtMs)
    this.#summariesVersion++
  }

  #dropSummary(project: string): boolean {
    this.#identities.delete(project)
    this.#descriptions.delete(project)
    if (!this.#summaries.delete(project)) return false
    this.#summariesVersion++
    return true
  }

  /** The cached page of `project` as memory or the disk has it, without keeping it in memory (for the project list). */
  async storedPage(project: string): Promise<UpstreamPage | undefined> {
    return this.#entries.get(project)?.page ?? (await this.#store.load(project))?.page
  }

  /** The cached page of `project`, without asking the upstream (for file requests). */
  async cached(project: string): Promise<UpstreamPage | undefined> {
    return (await this.#entry(project))?.page
  }

  async #entry(project: string): Promise<Entry | undefined> {
    let entry = this.#entries.get(project)
    if (entry === undefined) {
      const stored = await this.#store.load(project)
      if (stored === undefined) return undefined
      entry = this.#entries.get(project) ?? { ...stored, version: nextVersion++ }
      this.#entries.set(project, entry)
    }
    return entry
  }

  async #refresh(project: string, entry: Entry | undefined): Promise<PageAnswer> {
    if (!this.#breaker.allow())
      return this.#failed(
        project,
        entry,
        new UpstreamFetchError('breaker-open', `${this.settings.label} failed repeatedly; not asked again for a while`),
      )
    const url = `${this.settings.url}${project}/`
    this.requests++
    const started = performance.now()
    // Set as the request goes; an exception leaves 'error' unless outcomeOf knows better.
    let outcome: UpstreamOutcome = 'error'
    let bytes = 0
    try {
      const response = await upstreamGet({
        url,
        headers: {
          accept: ACCEPT,
          'accept-encoding': 'gzip',
          ...(entry?.etag === undefined ? {} : { 'if-none-match': entry.etag }),
        },
        authorization: this.settings.authorization,
        credentialOrigin: new URL(this.settings.url).origin,
        timeouts: this.settings.timeouts,
        maxRedirects: this.settings.maxRedirects,
      })
      if (response.status === 304 && entry !== undefined) {
        outcome = 'not_modified'
        response.body.resume()
        this.#breaker.success()
        return freshAnswer(this.#keep(project, { ...entry, fetchedAt: this.#now() }, false))
      }
      if (response.status === 404 || response.status === 410) {
        outcome = 'not_found'
        response.body.resume()
        this.#breaker.success()
        this.#missing.set(project, this.#now() + this.settings.negativeTtlMs)
        this.#entries.delete(project)
        if (this.#dropSummary(project)) void this.#writeList()
        return { kind: 'missing' }
      }
      if (response.status !== 200) {
        response.body.resume()
        throw new UpstreamFetchError('status', `${describeUrl(url)} answered ${String(response.status)}`, {
          status: response.status,
        })
      }
      const raw = await readBounded(response, this.settings.maxPageBytes)
      bytes = raw.length
      const body = raw.toString('utf8')
      const type = (response.headers['content-type'] ?? '').toLowerCase()
      let page: UpstreamPage
      try {
        page = type.includes('json')
          ? parseJsonPage(body, response.url, project)
          : parseHtmlPage(body, response.url, project)
      } catch (err) {
        throw new UpstreamFetchError(
          'bad-page',
          `${describeUrl(url)} sent a page that cannot be read: ${err instanceof Error ? err.message : String(err)}`,
        )
      }
      outcome = 'ok'
      this.#breaker.success()
      const serial = parseSerial(response.headers['x-pypi-last-serial'])
      // Refuse a page older than the one cached (a lagging mirror or CDN node): keep the cached one.
      if (entry?.serial !== undefined && serial !== undefined && serial < entry.serial) {
        this.#log.warn(
          { project, cachedSerial: entry.serial, serial },
          'Upstream sent an older page than the cached one; keeping the cached page',
        )
        return freshAnswer(entry)
      }
      const etag = typeof response.headers.etag === 'string' ? response.headers.etag : undefined
      this.#missing.delete(project)
      return freshAnswer(
        this.#keep(project, { page, fetchedAt: this.#now(), etag, serial, version: nextVersion++ }, true),
      )
    } catch (err) {
      outcome = outcomeOf(err)
      if (!(err instanceof UpstreamFetchError) || err.kind !== 'status' || (err.status ?? 0) >= 500)
        this.#breaker.failure()
      return this.#failed(project, entry, err)
    } finally {
      this.#observer.requested({
        upstream: this.settings.label,
        kind: 'page',
        outcome,
        seconds: (performance.now() - started) / 1000,
        bytes,
      })
    }
  }

  #keep(project: string, entry: Entry, changed: boolean): Entry {
    this.#entries.set(project, entry)
    const summarized = changed || !this.#summaries.has(project)
    if (summarized) this.#summarize(project, entry.page)
    const saving = this.#store.save(project, entry).then((identity) => {
      // The list file names the page as stored, so the next start trusts this summary.
      if (identity === undefined || !this.#summaries.has(project)) return
      this.#identities.set(project, identity)
      if (summarized) void this.#writeList()
    })
    this.#saving.add(saving)
    void saving.finally(() => this.#saving.delete(saving))
    if (changed) this.#log.debug({ project, files: entry.page.files.length }, 'Upstream page cached')
    return entry
  }

  #failed(project: string, entry: Entry | undefined, err: unknown): PageAnswer {
    const reason = err instanceof Error ? err.message : String(err)
    if (entry !== undefined && this.#now() - entry.fetchedAt <= this.settings.staleMs) {
      this.#log.warn(
        { project, reason, ageSeconds: Math.round((this.#now() - entry.fetchedAt) / 1000) },
        'Upstream failed; serving the cached page stale',
      )
      return staleAnswer(entry)
    }
    this.#log.warn({ project, reason }, 'Upstream failed and no usable page is cached')
    return { kind: 'unavailable', reason }
  }
}

const MISSING: PageAnswer = Object.freeze({ kind: 'missing' })
const OFFLINE_UNCACHED: PageAnswer = Object.freeze({
  kind: 'unavailable',
  reason: 'offline, and the project is not in the cache',
})

// An entry is never changed, only replaced (a revalidation keeps a copy with a new fetchedAt),
// so its answer is made once: every request for a cached page gets the same object, which
// UpstreamIndex keeps its view of the page by (no allocation per request).
const freshAnswers = new WeakMap<Entry, PageAnswer>()

function freshAnswer(entry: Entry): PageAnswer {
  let found = freshAnswers.get(entry)
  if (found === undefined) {
    found = { kind: 'page', page: entry.page, version: entry.version, fetchedAt: entry.fetchedAt, stale: false }
    freshAnswers.set(entry, found)
  }
  return found
}

function staleAnswer(entry: Entry): PageAnswer {
  return { kind: 'page', page: entry.page, version: entry.version, fetchedAt: entry.fetchedAt, stale: true }
}

function parseSerial(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value
  if (text === undefined || !/^\d+$/.test(text.trim())) return undefined
  return Number(text.trim())
}
