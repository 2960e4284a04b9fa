// Synthetic trees from make-tree.ts, cached outside the repository and reused across runs
// when the same shape and seed already exist.
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeTree, projectName } from './make-tree.js'
import type { TreeShape } from './options.js'

/** A tree ready to serve. */
export interface Tree {
  readonly shape: TreeShape
  readonly dir: string
  readonly files: number
  readonly bytes: number
  /** True if this run generated it (and so may delete it without --keep). */
  readonly generated: boolean
  /** The generator's run time when generated now. */
  readonly generateSeconds: number | undefined
}

interface TreeSummary {
  files: number
  bytes: number
  seconds: number
}

/** The cache key of a shape: every input of the generator. */
export function shapeKey(shape: TreeShape): string {
  return `p${shape.projects}-f${shape.files}-s${shape.size}-big${shape.bigMb}${shape.sdists ? '-sdists' : ''}-seed${shape.seed}`
}

/** A human label: "10,000 × 10 (2048 B)". */
export function shapeLabel(shape: TreeShape): string {
  return `${shape.projects.toLocaleString('en-US')} × ${shape.files} (${shape.size} B payload${shape.sdists ? ', sdists' : ''})`
}

/** Return the cached tree for `shape`, generating it (into a temp name, then renamed) if absent. */
export async function ensureTree(shape: TreeShape, treesDir: string, log: (text: string) => void): Promise<Tree> {
  await mkdir(treesDir, { recursive: true })
  const key = shapeKey(shape)
  const dir = join(treesDir, key)
  const summaryPath = join(treesDir, `${key}.json`)
  const cached = await readSummary(summaryPath)
  if (cached !== undefined && (await exists(dir))) {
    log(`reusing tree ${dir} (${cached.files} files)`)
    await removeLeftovers(dir, journalPath(treesDir, shape))
    return { shape, dir, files: cached.files, bytes: cached.bytes, generated: false, generateSeconds: undefined }
  }
  const partial = `${dir}.partial-${process.pid}`
  await rm(partial, { recursive: true, force: true })
  await rm(dir, { recursive: true, force: true })
  log(`generating tree ${key} (once; later runs reuse it with --keep)`)
  let summary: TreeSummary
  try {
    const made = await makeTree(partial, shape)
    summary = { files: made.files, bytes: made.bytes, seconds: made.seconds }
  } catch (err) {
    await rm(partial, { recursive: true, force: true })
    throw new Error(`generating the tree failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  log(`generated ${summary.files} files, ${summary.bytes} bytes in ${summary.seconds.toFixed(1)} s`)
  await rename(partial, dir)
  await writeFile(summaryPath, `${JSON.stringify(summary)}\n`)
  return { shape, dir, files: summary.files, bytes: summary.bytes, generated: true, generateSeconds: summary.seconds }
}

/** Delete a tree this run generated (without --keep). */
export async function removeTree(tree: Tree, treesDir: string): Promise<void> {
  await rm(tree.dir, { recursive: true, force: true })
  await rm(join(treesDir, `${shapeKey(tree.shape)}.json`), { force: true })
  await rm(journalPath(treesDir, tree.shape), { force: true })
}

/** Folder of project number `n`. */
export function projectFolder(n: number): string {
  return projectName(n)
}

/** The projects the freshness runs drop files into (deterministic, spread over the tree). */
export function dropProjects(shape: TreeShape, repeats: number): string[] {
  return Array.from({ length: repeats }, (_, i) =>
    projectFolder(Math.floor(((i + 1) * shape.projects) / (repeats + 1)) % shape.projects),
  )
}

/** Names the freshness runs create in the tree. */
export const NEW_PROJECT_PREFIX = 'benchnew-'
export const TEMP_PREFIX = '.bench-'

/**
 * The journal of paths the freshness runs created in a tree, written before each is created
 * and removed once they are deleted, so a reused tree is as generated even after a crash.
 */
export function journalPath(treesDir: string, shape: TreeShape): string {
  return join(treesDir, `${shapeKey(shape)}.created`)
}

/** Delete every path in the journal, and temp or new-project names at the top of the tree. */
export async function removeLeftovers(dir: string, journal: string): Promise<void> {
  let listed: string[] = []
  try {
    listed = (await readFile(journal, 'utf8')).split('\n').filter((line) => line !== '')
  } catch {
    // No journal: nothing was left.
  }
  for (const path of listed) {
    if (path.startsWith(`${dir}/`)) await rm(path, { recursive: true, force: true })
  }
  for (const name of await readdir(dir)) {
    if (name.startsWith(NEW_PROJECT_PREFIX) || name.startsWith(TEMP_PREFIX))
      await rm(join(dir, name), { recursive: true, force: true })
  }
  await rm(journal, { force: true })
}

/** The first wheel of a project folder (file 0 is always a wheel, sdists or not). */
export async function firstWheel(treeDir: string, folder: string): Promise<string> {
  const names = (await readdir(join(treeDir, folder))).filter((name) => name.endsWith('.whl')).sort()
  const first = names[0]
  if (first === undefined) throw new Error(`no wheel in ${join(treeDir, folder)}`)
  return first
}

async function readSummary(path: string): Promise<TreeSummary | undefined> {
  try {
    const raw: unknown = JSON.parse(await readFile(path, 'utf8'))
    if (
      typeof raw === 'object' &&
      raw !== null &&
      'files' in raw &&
      'bytes' in raw &&
      typeof raw.files === 'number' &&
      typeof raw.bytes === 'number'
    ) {
      return {
        files: raw.files,
        bytes: raw.bytes,
        seconds: 'seconds' in raw && typeof raw.seconds === 'number' ? raw.seconds : 0,
      }
    }
  } catch {
    // Absent or unreadable: regenerate.
  }
  return undefined
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
