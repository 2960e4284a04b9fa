// Layout validation: one folder per project, every distribution in a folder belongs to it.
import { isDistributionFilename, parseDistFilename, type ParsedDistFilename } from './filenames.js'
import type { InternTable } from './intern.js'
import { isValidProjectName, normalizeProjectName } from './names.js'

/** Stable codes of layout problems. */
export type LayoutProblemCode =
  'foreign-file' | 'unparsable-file' | 'duplicate-project' | 'invalid-folder' | 'stray-file'

/** One thing wrong with the tree; `path` is relative to the eggdir, never absolute. */
export interface LayoutProblem {
  readonly code: LayoutProblemCode
  readonly path: string
  readonly message: string
}

/** A distribution file accepted into a project. */
export interface AcceptedFile {
  readonly filename: string
  readonly parsed: ParsedDistFilename
}

/** A project folder after classification. */
export interface ClassifiedFolder {
  readonly folder: string
  readonly project: string
  readonly files: readonly AcceptedFile[]
  readonly problems: readonly LayoutProblem[]
}

/** Names as read from the eggdir: top-level folders with their file names, and top-level files. */
export interface ScannedTree {
  readonly folders: readonly { readonly name: string; readonly files: readonly string[] }[]
  readonly rootFiles: readonly string[]
}

/** The result of validating a whole tree. */
export interface LayoutReport {
  /** Valid project folders, sorted case-insensitively, each with only the files that belong. */
  readonly projects: readonly ClassifiedFolder[]
  readonly problems: readonly LayoutProblem[]
}

/** True for names eggserve never lists: hidden files and folders (dotfiles, upload temp files). */
export function isHiddenName(name: string): boolean {
  return name.startsWith('.')
}

/**
 * Sort the distributions of one folder into those that belong to its project and problems.
 * Hidden files and non-distributions (README, .asc, .yanked, partial uploads) are skipped silently.
 * With `strings` (the index keeps one), versions and tags are taken from it, so that each is held
 * once however many files repeat it; the parses are equal either way.
 * @example classifyFolder('absl-py', ['absl_py-2.1.0-py3-none-any.whl']).files.length // 1
 */
export function classifyFolder(folder: string, filenames: readonly string[], strings?: InternTable): ClassifiedFolder {
  const project = normalizeProjectName(folder)
  const files: AcceptedFile[] = []
  const problems: LayoutProblem[] = []
  // The name as written in the filenames: the same for most files of a folder and for no other
  // folder, so it is shared here rather than in `strings`, which would churn through them.
  const names = new Map<string, string>()
  for (const filename of filenames) {
    if (!isDistributionFilename(filename)) continue
    const parsed = parseDistFilename(filename, project)
    if (parsed === undefined) {
      const path = `${folder}/${filename}`
      problems.push({ code: 'unparsable-file', path, message: `${path}: not a valid distribution filename` })
    } else if (parsed.project !== project) {
      // The original server compared raw prefixes; the normalized names are what must agree.
      const path = `${folder}/${filename}`
      problems.push({
        code: 'foreign-file',
        path,
        message: `${path}: belongs to project "${parsed.project}", not "${project}"`,
      })
    } else {
      // One project string per folder, not one per file (the index keeps these for every file).
      files.push({
        filename,
        parsed: strings === undefined ? { ...parsed, project } : shared(parsed, project, strings, names),
      })
    }
  }
  files.sort((a, b) => compareNames(a.filename, b.filename))
  return { folder, project, files, problems }
}

/**
 * Validate a whole tree and report every problem at once. With `strings`, the short strings
 * every file's parse repeats are taken from it (see classifyFolder()).
 */
export function validateLayout(tree: ScannedTree, strings?: InternTable): LayoutReport {
  const scan = new LayoutScan(tree.rootFiles, strings)
  const folders = tree.folders.filter((f) => !isHiddenName(f.name)).sort((a, b) => compareNames(a.name, b.name))
  for (const { name, files } of folders) scan.add(name, files)
  return scan.report()
}

/**
 * validateLayout() one folder at a time, for a caller that lists a folder only when its turn
 * comes and keeps what it needs of it before reading the next, rather than holding the listing
 * of the whole tree at once. Folders are added in `LayoutScan.order()`, the order in which the
 * first of two folders naming one project owns it; a folder that could not be listed is left
 * out, as validateLayout() leaves out a folder it is not given.
 */
export class LayoutScan {
  readonly #strings: InternTable | undefined
  readonly #problems: LayoutProblem[] = []
  readonly #projects: ClassifiedFolder[] = []
  /** Project name → the folder that holds it. */
  readonly #owners = new Map<string, string>()

  constructor(rootFiles: readonly string[], strings?: InternTable) {
    this.#strings = strings
    for (const name of rootFiles) {
      if (isDistributionFilename(name)) {
        this.#problems.push({
          code: 'stray-file',
          path: name,
          message: `${name}: distribution outside a project folder`,
        })
      }
    }
  }

  /** The folders to add, in the order to add them: hidden ones left out, sorted by compareNames. */
  static order(folders: readonly string[]): string[] {
    return folders.filter((name) => !isHiddenName(name)).sort(compareNames)
  }

  /** Classify the folder `name`, listed with `files`: undefined when it holds no project (a problem says why). */
  add(name: string, files: readonly string[]): ClassifiedFolder | undefined {
    if (!isValidProjectName(name)) {
      this.#problems.push({
        code: 'invalid-folder',
        path: `${name}/`,
        message: `${name}/: "${name}" is not a valid project name`,
      })
      return undefined
    }
    const classified = classifyFolder(name, files, this.#strings)
    const owner = this.#owners.get(classified.project)
    if (owner !== undefined) {
      this.#problems.push({
        code: 'duplicate-project',
        path: `${name}/`,
        message: `${name}/: same project as "${owner}/" (both normalize to "${classified.project}")`,
      })
      return undefined
    }
    this.#owners.set(classified.project, name)
    this.#problems.push(...classified.problems)
    this.#projects.push(classified)
    return classified
  }

  /** Every project added so far, and every problem found. */
  report(): LayoutReport {
    return { projects: this.#projects, problems: this.#problems }
  }
}

// `parsed` with the folder's project, its name from `names` and its version and tags from
// `strings`: equal field for field. The index keeps a parse per file for as long as the file is
// listed, and split() copies every short field: at 100,000 files, 400,000 strings such as
// "py3", "any" and "1.0.0" were each a copy of their own (docs/benchmarks.md, "Memory").
function shared(
  parsed: ParsedDistFilename,
  project: string,
  strings: InternTable,
  names: Map<string, string>,
): ParsedDistFilename {
  let name = names.get(parsed.name)
  if (name === undefined) {
    name = parsed.name
    names.set(name, name)
  }
  const { kind, buildTag, pythonTag, platform } = parsed
  const version = strings.intern(parsed.version)
  // The common case in one literal: every field in the object itself, none added by a spread.
  if (buildTag === undefined && pythonTag !== undefined && platform !== undefined)
    return { kind, name, project, version, pythonTag: strings.intern(pythonTag), platform: strings.intern(platform) }
  return {
    kind,
    name,
    project,
    version,
    ...(buildTag === undefined ? {} : { buildTag: strings.intern(buildTag) }),
    ...(pythonTag === undefined ? {} : { pythonTag: strings.intern(pythonTag) }),
    ...(platform === undefined ? {} : { platform: strings.intern(platform) }),
  }
}

/** Case-insensitive order with a case-sensitive tie-break, so output is deterministic. */
export function compareNames(a: string, b: string): number {
  const la = a.toLowerCase()
  const lb = b.toLowerCase()
  if (la !== lb) return la < lb ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}
