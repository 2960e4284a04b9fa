// Reading one project folder: its listing becomes the distributions the index holds (with
// their yank state, PEP 592) and the layout problems of what it leaves out.
import type { DistFile } from '../core/index-model.js'
import type { ClassifiedFolder } from '../core/layout.js'
import { YANK_SUFFIX, yankReason } from '../core/yanking.js'
import { readSmallFile } from '../storage/read-small.js'
import type { FolderListing, Storage, StoredFile } from '../storage/storage.js'

// Sidecars hold a one-line reason; anything longer is cut.
const MAX_SIDECAR_BYTES = 4096

/** The names of a folder listing's files, as classifyFolder() takes them. */
export function listedNames(listing: FolderListing): string[] {
  return listing.files.map(fileName)
}

/**
 * The distributions of a classified folder, in the classification's order, each described by
 * the listing's stat of it and yanked when a `<file>.yanked` sidecar is listed next to it
 * (the sidecar is read now). Files the listing does not hold are left out.
 *
 * Invariants (pinned by test/unit/folder-reader.test.ts): every file's key is
 * "<folder>/<filename>" and its size, mtime and identity are the listing's; `yanked` is set
 * exactly when the sidecar is listed, to its reason ('' for an empty sidecar).
 */
export async function readProjectFiles(
  storage: Storage,
  classified: ClassifiedFolder,
  listing: FolderListing,
): Promise<DistFile[]> {
  // By filename: a key made for each lookup (makeKey) cost more than the rest of this function
  // at start-up (100,000 files). A listing's keys are all "<folder>/<filename>" of its folder.
  const stats = new Map<string, StoredFile>()
  for (const file of listing.files) stats.set(fileName(file), file)
  const files: DistFile[] = []
  for (const { filename, parsed } of classified.files) {
    const stat = stats.get(filename)
    if (stat === undefined) continue
    // Memory, bench row "peak RSS (VmHWM) of the instance that was loaded": the listing's key
    // string is kept, and the filename is a slice of it (fileName()), so a key built anew
    // would hold the same text a second time, for every file of the tree (100,000 of them).
    const key = stat.key
    const sidecar = stats.has(filename + YANK_SUFFIX)
      ? await readSmallFile(storage, key + YANK_SUFFIX, MAX_SIDECAR_BYTES)
      : undefined
    const base = {
      folder: classified.folder,
      filename,
      key,
      parsed,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      identity: stat.identity,
    }
    files.push(sidecar === undefined ? base : { ...base, yanked: yankReason(sidecar) })
  }
  return files
}

function fileName(file: StoredFile): string {
  return file.key.slice(file.key.indexOf('/') + 1)
}
