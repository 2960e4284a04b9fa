// The summary of upstream projects in the browse UI's project list: the latest release's
// `Summary`, from its core metadata when that is already cached (a `.metadata` file pip fetched,
// or a cached distribution: src/upstream/release-metadata.ts), read in the background a few at a
// time, and kept in the page's row of `projects.list` (src/upstream/page-source.ts) so a restart
// shows it without reading it again. Never fetched: drawing a list must not ask an upstream anything.
import type { FastifyBaseLogger } from 'fastify'
import { parseCoreMetadata } from '../core/metadata.js'
import { shorten } from '../core/project-details.js'
import type { UpstreamFile } from '../core/upstream-page.js'
import type { UpstreamReleaseMetadata } from './release-metadata.js'

// As the local projects' rows (src/http/ui/catalog.ts): one table cell, searched.
const MAX_SUMMARY = 160
const CONCURRENCY = 2

interface Wanted {
  readonly project: string
  readonly key: string
  /** The files of the release to read, or undefined when none of the project's files is cached. */
  readonly files: () => Promise<readonly UpstreamFile[] | undefined>
  /** The summary kept for this release before (the list file, across restarts): taken as read. */
  readonly saved?: string | undefined
  /** Told the summary read, to keep it. */
  readonly found?: (summary: string | undefined) => void
}

/** Summaries of upstream projects, each read again when its key (release, cached files) changes. */
export class ListedSummaries {
  readonly #metadata: UpstreamReleaseMetadata
  readonly #log: FastifyBaseLogger
  readonly #known = new Map<string, { key: string; summary: string | undefined }>()
  readonly #queued = new Map<string, Wanted>()
  #workers = 0
  #idle: Promise<void> = Promise.resolve()
  #resolveIdle: (() => void) | undefined
  /** Bumped whenever a summary is found, changed or forgotten. */
  version = 0

  constructor(options: { metadata: UpstreamReleaseMetadata; log: FastifyBaseLogger }) {
    this.#metadata = options.metadata
    this.#log = options.log.child({ component: 'upstream-summaries' })
  }

  /** The summary known for `project` now; when `key` is not the one it was read for, it is read again in the background. */
  summaryOf(wanted: Wanted): string | undefined {
    // A release's core metadata never changes (cached files are pinned), so a summary kept
    // for it stands without reading the metadata again.
    if (!this.#known.has(wanted.project) && wanted.saved !== undefined)
      this.#known.set(wanted.project, { key: wanted.key, summary: wanted.saved })
    const known = this.#known.get(wanted.project)
    if (known?.key !== wanted.key && this.#queued.get(wanted.project)?.key !== wanted.key) {
      this.#queued.set(wanted.project, wanted)
      this.#start()
    }
    return known?.summary
  }

  /** Forget `project` (purged). */
  forget(project: string): void {
    this.#queued.delete(project)
    if (this.#known.delete(project)) this.version++
  }

  /** Resolves once every queued read is done (tests). */
  idle(): Promise<void> {
    return this.#idle
  }

  #start(): void {
    if (this.#workers === 0 && this.#resolveIdle === undefined)
      this.#idle = new Promise((resolve) => {
        this.#resolveIdle = resolve
      })
    while (this.#workers < CONCURRENCY && this.#workers < this.#queued.size) {
      this.#workers++
      void this.#work().finally(() => {
        this.#workers--
        if (this.#workers === 0 && this.#queued.size === 0) {
          this.#resolveIdle?.()
          this.#resolveIdle = undefined
        }
      })
    }
  }

  async #work(): Promise<void> {
    for (let next = this.#take(); next !== undefined; next = this.#take()) {
      let summary: string | undefined
      let read = false
      try {
        summary = await this.#read(next)
        read = true
      } catch (err) {
        this.#log.warn({ err, project: next.project }, 'Cannot read the summary of an upstream project')
      }
      const known = this.#known.get(next.project)
      if (known?.summary !== summary) this.version++
      this.#known.set(next.project, { key: next.key, summary })
      if (read) next.found?.(summary)
    }
  }

  #take(): Wanted | undefined {
    const [first] = this.#queued.values()
    if (first !== undefined) this.#queued.delete(first.project)
    return first
  }

  async #read(wanted: Wanted): Promise<string | undefined> {
    const files = await wanted.files()
    if (files === undefined || files.length === 0) return undefined
    const read = await this.#metadata.readCached({ project: wanted.project, files })
    if (read?.kind !== 'read') return undefined
    const summary = parseCoreMetadata(read.bytes).get('summary')?.trim()
    return summary === undefined || summary === '' || summary === 'UNKNOWN' ? undefined : shorten(summary, MAX_SUMMARY)
  }
}
