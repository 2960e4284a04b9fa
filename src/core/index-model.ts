// The index model shared by every page: projects, their files, and the files' digests.
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
}

/** A file with the digests of its current bytes. */
export interface HashedFile {
  readonly file: DistFile
  readonly digests: Digests
}

/** One project's page: its files, each hashed. */
export interface ProjectPage extends ProjectSummary {
  readonly files: readonly HashedFile[]
}
