// The tree state: which projects the index holds and their files, as immutable snapshots with
// generations. No I/O and no clock: the change detector reads storage and decides when to call
// these transitions; the query API only reads.
import assert from 'node:assert/strict'
import { latestMtimeMs, type DistFile, type ProjectSummary } from '../core/index-model.js'
import { compareNames } from '../core/layout.js'
import { normalizeProjectName } from '../core/names.js'

/**
 * One project as the index held it at one moment. Immutable: a change to the project makes a
 * new snapshot, so whoever holds one sees one consistent set of files (its page, its
 * downloads and its cache validators all agree).
 */
export interface ProjectSnapshot extends ProjectSummary {
  /**
   * Changes exactly when `files` changes (a file added, removed, replaced or (un)yanked); pages
   * are cached by it. Never reused, by any project or by the root.
   */
  readonly generation: number
  /** Newest file modification time (0 without files), for Last-Modified. */
  readonly lastModifiedMs: number
  /** The project's distributions, sorted by filename (as the layout rules sort them). */
  readonly files: readonly DistFile[]
  /** One of `files`, by exact filename. */
  file(filename: string): DistFile | undefined
}

/** The list of projects, with what page caching needs. */
export interface RootSnapshot {
  /** Every project, sorted case-insensitively by folder name (compareNames). */
  readonly projects: readonly ProjectSummary[]
  /** Changes exactly when a project is added or removed. */
  readonly generation: number
  /** Newest file modification time over every project, when the list was last made. */
  readonly lastModifiedMs: number
}

/** What an update did. */
export interface Updated {
  readonly snapshot: ProjectSnapshot
  /** Files of the previous snapshot whose identity is in no file of the new one. */
  readonly dropped: readonly DistFile[]
}

// Up to this many files, file() scans the list: as fast as a lookup at that size, and a Map
// per project (about 0.5 kB for 10 files) cost 5 MB of heap at 10,000 projects (bench row
// "peak RSS (VmHWM) of the instance that was loaded").
const SCAN_FILES = 16

class Snapshot implements ProjectSnapshot {
  readonly folder: string
  readonly project: string
  readonly generation: number
  readonly lastModifiedMs: number
  readonly files: readonly DistFile[]
  /** Files by name, for projects with more than SCAN_FILES files (else undefined). */
  readonly #byName: ReadonlyMap<string, DistFile> | undefined

  constructor(summary: ProjectSummary, generation: number, files: readonly DistFile[]) {
    this.folder = summary.folder
    this.project = summary.project
    this.generation = generation
    this.files = Object.freeze(files)
    this.#byName = files.length > SCAN_FILES ? new Map(files.map((file) => [file.filename, file])) : undefined
    this.lastModifiedMs = latestMtimeMs(files)
    Object.freeze(this)
  }

  file(filename: string): DistFile | undefined {
    if (this.#byName !== undefined) return this.#byName.get(filename)
    for (const file of this.files) if (file.filename === filename) return file
    return undefined
  }
}

/**
 * The projects of the tree and their files.
 *
 * Invariants (pinned by test/unit/project-tree.test.ts):
 * - one snapshot per normalized project name, and its folder normalizes to that name;
 * - generations come from one counter shared by every project and the root, so a generation
 *   never repeats, even for a project removed and added again;
 * - a project's generation changes if and only if its files change (identity, filename or yank
 *   state, in order); the root's if and only if a project is added or removed;
 * - an update from a snapshot that is no longer the project's own is refused (a read that raced
 *   a removal never brings the project back).
 */
export class ProjectTree {
  readonly #projects = new Map<string, ProjectSnapshot>()
  #nextGeneration = 1
  #rootGeneration = this.#nextGeneration++
  /** The sorted list of #rootGeneration, made when first asked for. */
  #root: RootSnapshot | undefined

  /** How many projects there are. */
  get size(): number {
    return this.#projects.size
  }

  /** The project of a normalized name. */
  get(project: string): ProjectSnapshot | undefined {
    return this.#projects.get(project)
  }

  /** A project folder was found: the project, with no files until its folder is read. */
  add(folder: string, project: string): ProjectSnapshot {
    assert.equal(normalizeProjectName(folder), project, 'a folder holds the project its name normalizes to')
    assert.ok(!this.#projects.has(project), 'one folder per project')
    const snapshot = new Snapshot({ folder, project }, this.#nextGeneration++, [])
    this.#projects.set(project, snapshot)
    this.#rootGeneration = this.#nextGeneration++
    return snapshot
  }

  /**
   * The folder of `current` was read and holds `files`: the project's next snapshot (`current`
   * itself when nothing differs), or undefined when `current` is no longer the project's.
   */
  update(current: ProjectSnapshot, files: readonly DistFile[]): Updated | undefined {
    if (this.#projects.get(current.project) !== current) return undefined
    const same = sameFiles(current.files, files)
    if (same && sameStats(current.files, files)) return { snapshot: current, dropped: [] }
    const snapshot = new Snapshot(current, same ? current.generation : this.#nextGeneration++, files)
    this.#projects.set(current.project, snapshot)
    const kept = new Set(files.map((file) => file.identity))
    return { snapshot, dropped: current.files.filter((file) => !kept.has(file.identity)) }
  }

  /** The project's folder is gone: returns its last snapshot (its files are to be forgotten). */
  remove(project: string): ProjectSnapshot | undefined {
    const snapshot = this.#projects.get(project)
    if (snapshot === undefined) return undefined
    this.#projects.delete(project)
    this.#rootGeneration = this.#nextGeneration++
    return snapshot
  }

  /** Every project, sorted. */
  root(): RootSnapshot {
    // BENCHMARKS.md: `/simple/` (HTML) req/s. Every root page request asks for the list (a
    // cached page too, for its generation). Made anew, at 10,000 folders it took 0.83 ms of CPU
    // per call, ten times a whole cached `/simple/` request; kept per root generation, 2 µs.
    if (this.#root?.generation !== this.#rootGeneration) {
      const snapshots = [...this.#projects.values()]
      this.#root = Object.freeze({
        projects: Object.freeze(
          snapshots
            .map(({ folder, project }) => ({ folder, project }))
            .sort((a, b) => compareNames(a.folder, b.folder)),
        ),
        generation: this.#rootGeneration,
        lastModifiedMs: snapshots.reduce((latest, snapshot) => Math.max(latest, snapshot.lastModifiedMs), 0),
      })
    }
    return this.#root
  }

  /** Every project's snapshot, in root() order. */
  snapshots(): ProjectSnapshot[] {
    const snapshots: ProjectSnapshot[] = []
    for (const { project } of this.root().projects) {
      const snapshot = this.#projects.get(project)
      if (snapshot !== undefined) snapshots.push(snapshot)
    }
    return snapshots
  }
}

// What decides a new generation: the files a page lists and how.
function sameFiles(a: readonly DistFile[], b: readonly DistFile[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (file, i) => file.identity === b[i]?.identity && file.filename === b[i].filename && file.yanked === b[i].yanked,
    )
  )
}

// With sameFiles: nothing at all differs (a size or time can change under one identity, e.g.
// an S3 ETag), so the snapshot can be kept.
function sameStats(a: readonly DistFile[], b: readonly DistFile[]): boolean {
  return a.every((file, i) => file.size === b[i]?.size && file.mtimeMs === b[i].mtimeMs)
}
