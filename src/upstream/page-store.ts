// Upstream project pages kept on disk under the cache directory, one JSON file per upstream
// and project, so a restart serves them (fresh within the TTL) without asking the upstream.
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { isValidProjectName, normalizeProjectName } from '../core/names.js'
import type { UpstreamPage } from '../core/upstream-page.js'
import type { PageSummary } from './cached-projects.js'

/** A cached page with what revalidation needs. */
export interface StoredPage {
  readonly page: UpstreamPage
  /** When the upstream last confirmed it (a 200 or a 304). */
  readonly fetchedAt: number
  readonly etag: string | undefined
  /** X-PyPI-Last-Serial of the answer, when it had one. */
  readonly serial: number | undefined
}

const FORMAT = 1

/** Which version of a stored page a summary was made from: its file's size and mtime (whole ms). */
export interface PageIdentity {
  readonly size: number
  readonly mtimeMs: number
}

/** A project of the list of stored pages (`projects.list`), with the identity of the page it summarizes. */
export interface ListedPage {
  readonly project: string
  readonly summary: PageSummary
  readonly identity: PageIdentity
  /** The `Summary` of the release `summary.version` (the browse UI's row), when it was read. */
  readonly description?: string
}

// The list of stored pages: not ending in ".json", so never taken for a project's page.
const LIST_FILE = 'projects.list'
const LIST_FORMAT = 1

// Temporary files are told apart by process, time and this count: two saves in one millisecond
// (a TTL of 0 refreshes a page on every request) must not write into the same file.
let temporaryCount = 0

function temporaryPath(path: string): string {
  temporaryCount = (temporaryCount + 1) % Number.MAX_SAFE_INTEGER
  return `${path}.${String(process.pid)}.${String(Date.now())}.${String(temporaryCount)}.tmp`
}

/** Pages of one upstream on disk; `dir` undefined keeps nothing. */
export class PageStore {
  readonly #dir: string | undefined
  readonly #log: FastifyBaseLogger
  /** Per project: the page to write next, while a write of that project runs. */
  readonly #pending = new Map<string, StoredPage>()
  /** Per project: the writes running, until nothing is pending. */
  readonly #writing = new Map<string, Promise<PageIdentity | undefined>>()

  constructor(options: { cacheDir: string | undefined; upstreamUrl: string; log: FastifyBaseLogger }) {
    // One folder per upstream URL, so two upstreams never share a page.
    const id = createHash('sha256').update(options.upstreamUrl).digest('hex').slice(0, 16)
    this.#dir = options.cacheDir === undefined ? undefined : join(options.cacheDir, 'upstream', 'pages', id)
    this.#log = options.log
  }

  /** The stored page of `project` (a normalized name), or undefined. */
  async load(project: string): Promise<StoredPage | undefined> {
    if (this.#dir === undefined) return undefined
    try {
      const doc: unknown = JSON.parse(await readFile(join(this.#dir, `${project}.json`), 'utf8'))
      if (!isStored(doc)) return undefined
      return { page: doc.page, fetchedAt: doc.fetchedAt, etag: doc.etag ?? undefined, serial: doc.serial ?? undefined }
    } catch {
      // Absent or unreadable: the page is fetched again.
      return undefined
    }
  }

  /** The identity of the stored page of `project`, or undefined when there is none. */
  async identity(project: string): Promise<PageIdentity | undefined> {
    if (this.#dir === undefined) return undefined
    try {
      const found = await stat(join(this.#dir, `${project}.json`))
      return { size: found.size, mtimeMs: Math.trunc(found.mtimeMs) }
    } catch {
      return undefined
    }
  }

  /**
   * The list of stored pages as some process last wrote it (src/upstream/page-source.ts keeps it),
   * or undefined when there is none: a hint to be checked against the pages, never the truth.
   */
  async loadList(): Promise<ListedPage[] | undefined> {
    if (this.#dir === undefined) return undefined
    try {
      const doc: unknown = JSON.parse(await readFile(join(this.#dir, LIST_FILE), 'utf8'))
      if (typeof doc !== 'object' || doc === null) return undefined
      const { format, projects } = doc as Record<string, unknown>
      if (format !== LIST_FORMAT || !Array.isArray(projects)) return undefined
      return projects.filter(isListed).map((row) => ({
        project: row.p,
        summary: { version: row.v ?? undefined, lastUploadMs: row.t, changesAtMs: row.c ?? Infinity },
        identity: { size: row.s, mtimeMs: row.m },
        // Absent from the rows of lists written before descriptions were kept: read again then.
        ...(row.d === undefined ? {} : { description: row.d }),
      }))
    } catch {
      return undefined
    }
  }

  /** Keep the list of stored pages (a temporary file renamed: readers see the old list or the new one). */
  async saveList(pages: readonly ListedPage[]): Promise<void> {
    if (this.#dir === undefined) return
    const projects = pages.map(({ project, summary, identity, description }) => ({
      p: project,
      v: summary.version ?? null,
      t: summary.lastUploadMs,
      c: Number.isFinite(summary.changesAtMs) ? summary.changesAtMs : null,
      s: identity.size,
      m: identity.mtimeMs,
      // An optional field, not a new format: older servers on the same cache still read the list.
      ...(description === undefined ? {} : { d: description }),
    }))
    try {
      await mkdir(this.#dir, { recursive: true })
      const path = join(this.#dir, LIST_FILE)
      const temporary = temporaryPath(path)
      await writeFile(temporary, JSON.stringify({ format: LIST_FORMAT, projects }))
      await rename(temporary, path)
    } catch (err) {
      this.#log.warn({ err }, 'Cannot keep the list of cached upstream pages in the cache directory')
    }
  }

  /** The projects with a stored page (normalized names), from the names of the files. */
  async projects(): Promise<string[]> {
    if (this.#dir === undefined) return []
    const names = await readdir(this.#dir).catch(() => [])
    // Temporary files of a save in progress end in ".tmp", not ".json".
    return names
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter((project) => isValidProjectName(project) && normalizeProjectName(project) === project)
  }

  /**
   * Keep `stored` (written to a temporary file, then renamed: a crash leaves the old page or the
   * new one); the identity of the page on disk once it and every earlier save are written.
   * Saves of one project are written one at a time, in order, and a save that comes while one
   * is written replaces any still waiting: the file ends as the newest page, never an older
   * one renamed last, and refreshes faster than the disk (a TTL of 0) make no queue.
   */
  async save(project: string, stored: StoredPage): Promise<PageIdentity | undefined> {
    if (this.#dir === undefined) return undefined
    this.#pending.set(project, stored)
    let writing = this.#writing.get(project)
    if (writing === undefined) {
      writing = this.#writePending(project)
      this.#writing.set(project, writing)
    }
    return writing
  }

  async #writePending(project: string): Promise<PageIdentity | undefined> {
    let identity: PageIdentity | undefined
    for (;;) {
      const stored = this.#pending.get(project)
      if (stored === undefined) {
        // In the same turn as the check: a later save starts a new run.
        this.#writing.delete(project)
        return identity
      }
      this.#pending.delete(project)
      identity = await this.#write(project, stored)
    }
  }

  async #write(project: string, stored: StoredPage): Promise<PageIdentity | undefined> {
    if (this.#dir === undefined) return undefined
    try {
      await mkdir(this.#dir, { recursive: true })
      const path = join(this.#dir, `${project}.json`)
      const temporary = temporaryPath(path)
      await writeFile(
        temporary,
        JSON.stringify({
          format: FORMAT,
          page: stored.page,
          fetchedAt: stored.fetchedAt,
          etag: stored.etag ?? null,
          serial: stored.serial ?? null,
        }),
      )
      await rename(temporary, path)
      return await this.identity(project)
    } catch (err) {
      this.#log.warn({ err, project }, 'Cannot keep an upstream page in the cache directory; it is kept in memory only')
      return undefined
    }
  }
}

interface StoredDoc {
  readonly format: number
  readonly page: UpstreamPage
  readonly fetchedAt: number
  readonly etag: string | null
  readonly serial: number | null
}

interface ListRow {
  readonly p: string
  readonly v: string | null
  readonly t: number
  readonly c: number | null
  readonly s: number
  readonly m: number
  readonly d?: string
}

function isListed(row: unknown): row is ListRow {
  if (typeof row !== 'object' || row === null) return false
  const { p, v, t, c, s, m, d } = row as Record<string, unknown>
  return (
    typeof p === 'string' &&
    (d === undefined || typeof d === 'string') &&
    (v === null || typeof v === 'string') &&
    typeof t === 'number' &&
    (c === null || typeof c === 'number') &&
    typeof s === 'number' &&
    typeof m === 'number'
  )
}

function isStored(doc: unknown): doc is StoredDoc {
  if (typeof doc !== 'object' || doc === null) return false
  const record = doc as Record<string, unknown>
  return (
    record.format === FORMAT &&
    typeof record.fetchedAt === 'number' &&
    typeof record.page === 'object' &&
    record.page !== null &&
    Array.isArray((record.page as Record<string, unknown>).files)
  )
}
