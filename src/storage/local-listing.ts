// How a local folder's listing describes what it finds (shared by LocalStorage and the worker
// thread that lists folders beside it at start-up), and that worker's own listing of a folder.
import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs'
import { sep } from 'node:path'
import { errnoCode } from '../errors.js'
import { isPlainName, makeKey, type FolderListing, type StoredFile } from './storage.js'

// Errors meaning "not there (any more)": the caller gets undefined, as the Storage contract says.
export const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ELOOP'])

export function toStoredFile(key: string, info: Stats): StoredFile {
  return {
    key,
    size: info.size,
    mtimeMs: Math.floor(info.mtimeMs),
    identity: identityOf(info),
  }
}

// A directory's mtime and ctime change whenever an entry is added, removed or renamed.
export function tokenOf(directory: Stats): string {
  return `${directory.ino}:${directory.mtimeMs}:${directory.ctimeMs}`
}

export function identityOf(info: Stats): string {
  // Flat, like keys (see makeKey, and its bench row): one identity per indexed file.
  return [info.dev, info.ino, info.size, info.mtimeMs, info.ctimeMs].join(':')
}

/**
 * The listing of `folder` (a plain name) of the tree at `realRoot`, as LocalStorage.listFolder()
 * makes it, when the folder holds nothing but files, folders and entries listings skip; undefined
 * when it is not there (or not a directory); 'declined' for a symlink (the folder or an entry in
 * it) or any error: LocalStorage lists that folder itself, with its containment checks, warnings
 * and errors.
 */
export function listPlainFolder(realRoot: string, folder: string): FolderListing | 'declined' | undefined {
  try {
    const dir = realRoot + sep + folder
    const info = lstatSync(dir, { throwIfNoEntry: false })
    if (info === undefined) return undefined
    if (info.isSymbolicLink()) return 'declined'
    if (!info.isDirectory()) return undefined
    const files: StoredFile[] = []
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!isPlainName(entry.name) || entry.isDirectory()) continue
      if (entry.isSymbolicLink()) return 'declined'
      if (!entry.isFile()) continue
      const stats = statSync(dir + sep + entry.name, { throwIfNoEntry: false })
      if (stats?.isFile() === true) files.push(toStoredFile(makeKey(folder, entry.name), stats))
    }
    return { token: tokenOf(info), files }
  } catch (err) {
    return ABSENT.has(errnoCode(err) ?? '') ? undefined : 'declined'
  }
}
