// The index model shared by every page: projects, their files, and what is known of each file.
import type { Digests } from './digests.js'
import type { ParsedDistFilename } from './filenames.js'

/** A project folder as listed on the root pages. */
export interface ProjectSummary {
  /** The folder name as on disk (the original server's URL segment and link text). */
  readonly folder: string
  /** PEP 503-normalized project name. */
  readonly project: string
}

/** A distribution file known to the index. */
export interface DistFile {
  readonly folder: string
  readonly filename: string
  /** Storage key, "<folder>/<filename>". */
  readonly key: string
  readonly parsed: ParsedDistFilename
  readonly size: number
  readonly mtimeMs: number
  /** Changes whenever the bytes may have changed; see StoredFile.identity. */
  readonly identity: string
  /** Set when a `<file>.yanked` sidecar exists: its content, the reason ('' for none). PEP 592. */
  readonly yanked?: string
}

/**
 * The newest modification time among `files`, 0 for none: a project page's Last-Modified and
 * the UI's "last upload".
 * @example latestMtimeMs([{ mtimeMs: 5 }, { mtimeMs: 9 }]) // 9
 */
export function latestMtimeMs(files: readonly Pick<DistFile, 'mtimeMs'>[]): number {
  return files.reduce((latest, file) => Math.max(latest, file.mtimeMs), 0)
}

/** What the index keeps from a distribution's core metadata. */
export interface MetadataFacts {
  /** sha256 of the exact metadata bytes (served as `<file>.metadata` for wheels, PEP 658). */
  readonly sha256: string
  /** The `Requires-Python` field, when present and not empty. */
  readonly requiresPython?: string
}

/** Everything learnt from one read of a file. */
export interface FileFacts {
  readonly digests: Digests
  /** Absent when the archive holds no readable metadata. */
  readonly metadata?: MetadataFacts
}

/** A file on a page, with the facts of its current bytes. */
export interface PageFile {
  readonly file: DistFile
  readonly facts: FileFacts
}

/** One project's page. */
export interface ProjectPage extends ProjectSummary {
  readonly files: readonly PageFile[]
}
