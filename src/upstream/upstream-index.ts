// The index with upstreams: it wraps the local index (which knows nothing of upstreams) and
// applies the name rule (src/core/name-rule.ts) before anything leaves the server.
import type { FastifyBaseLogger } from 'fastify'
import { decide, namePolicy, type NamePolicy } from '../core/name-rule.js'
import { isValidProjectName, normalizeProjectName } from '../core/names.js'
import type { UpstreamFile, UpstreamPage } from '../core/upstream-page.js'
import type { IndexService, ProjectSnapshot } from '../live-index/index-service.js'
import { UpstreamFiles } from './file-cache.js'
import { PageSource } from './page-source.js'
import type { BreakerState } from './circuit-breaker.js'
import type { UpstreamObserver } from './upstream-observer.js'
import type { UpstreamConfig, UpstreamSettings } from './upstream-settings.js'

/** An upstream's page of a project, as found. */
export interface UpstreamView {
  readonly project: string
  readonly page: UpstreamPage
  readonly upstream: UpstreamSettings
  /** Changes whenever the page does. */
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
  | { readonly kind: 'unavailable'; readonly offline: boolean }

/** The local index plus the upstreams, in order. */
export class UpstreamIndex {
  readonly local: IndexService
  readonly files: UpstreamFiles
  readonly offline: boolean
  readonly #policy: NamePolicy
  readonly #sources: readonly PageSource[]

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
          offline: config.offline,
          log: options.log,
          ...(options.now === undefined ? {} : { now: options.now }),
          ...observer,
        }),
    )
    this.files = new UpstreamFiles({
      cacheDir: options.cacheDir,
      offline: config.offline,
      log: options.log,
      ...observer,
    })
    // Labels carry no credentials (parseUpstreamUrl removed them).
    options.log.info(
      {
        upstreams: config.upstreams.map((upstream) => upstream.label),
        offline: config.offline,
        neverUpstream: config.neverUpstream,
        merge: config.merge,
      },
      'Upstream indexes',
    )
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
    const state = await this.local.findProject(name)
    switch (decide(this.#policy, name, state !== undefined)) {
      case 'local':
        return state === undefined ? { kind: 'not-found' } : { kind: 'local', state }
      case 'not-found':
        return { kind: 'not-found' }
      case 'merge': {
        if (state === undefined) return { kind: 'not-found' }
        const found = await this.#ask(state.project)
        return { kind: 'merge', state, view: found.kind === 'page' ? found.view : undefined }
      }
      case 'upstream': {
        if (!isValidProjectName(name)) return { kind: 'not-found' }
        const found = await this.#ask(normalizeProjectName(name))
        if (found.kind === 'page') return { kind: 'upstream', view: found.view }
        return found.kind === 'missing' ? { kind: 'not-found' } : { kind: 'unavailable', offline: this.offline }
      }
    }
  }

  /** True when the name rule lets `name` be served from an upstream (it is not local, or it is merged). */
  async reachesUpstream(name: string): Promise<boolean> {
    const state = await this.local.findProject(name)
    const decision = decide(this.#policy, name, state !== undefined)
    return decision === 'upstream' || decision === 'merge'
  }

  /** The upstream file `filename` of `name`, when the name rule lets `name` reach an upstream. */
  async file(
    name: string,
    filename: string,
  ): Promise<{ view: UpstreamView; file: UpstreamFile } | { unavailable: true } | undefined> {
    const resolution = await this.resolve(name)
    if (resolution.kind === 'unavailable') return { unavailable: true }
    const view = resolution.kind === 'upstream' || resolution.kind === 'merge' ? resolution.view : undefined
    const file = view?.page.files.find((candidate) => candidate.filename === filename)
    return view === undefined || file === undefined ? undefined : { view, file }
  }

  // The upstreams in order: the first that has the project owns it. One that cannot answer
  // (and has no usable cached page) stops the walk: a later upstream must not get the name
  // just because an earlier one is down (PEP 766, index priority).
  async #ask(
    project: string,
  ): Promise<{ kind: 'page'; view: UpstreamView } | { kind: 'missing' } | { kind: 'unavailable' }> {
    for (const source of this.#sources) {
      const answer = await source.get(project)
      if (answer.kind === 'page') {
        return {
          kind: 'page',
          view: {
            project,
            page: answer.page,
            upstream: source.settings,
            version: answer.version,
            fetchedAt: answer.fetchedAt,
            stale: answer.stale,
          },
        }
      }
      if (answer.kind === 'unavailable') return { kind: 'unavailable' }
    }
    return { kind: 'missing' }
  }
}
