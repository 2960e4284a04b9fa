// Analyzers compute (or recall) what the index needs to know of each distribution file.
import type { DistFile, FileFacts } from '../core/index-model.js'
import { AppError } from '../errors.js'
import type { StoredFile } from '../storage/storage.js'

/** Facts together with the file they were computed from (which may be newer than the one asked for). */
export interface AnalysisResult {
  readonly file: StoredFile
  readonly facts: FileFacts
}

/** Options of one analysis request. */
export interface AnalyzeOptions {
  /** Fairness group: the project's normalized name. */
  readonly group: string
  /** True when a client is waiting for the result. */
  readonly urgent?: boolean
}

/** Computes (or recalls) the facts of distribution files. */
export interface Analyzer {
  analyze(file: DistFile, options: AnalyzeOptions): Promise<AnalysisResult>
  /** Forget what is remembered for a file identity that no longer exists. */
  forget(identity: string): void
  /**
   * Take facts computed elsewhere for a file identity, e.g. while an upload streamed in, so
   * that the file is never read again to learn them. Analyzers that remember nothing ignore it.
   */
  remember(identity: string, facts: FileFacts): void
}

/** The analyzer was closed (the server is stopping) before this file was read. */
export class AnalysisStoppedError extends AppError {
  constructor() {
    super('EGGSERVE_ANALYSIS', 'Analysis stopped: the analyzer was closed')
  }
}

/** The file was removed before it could be read. */
export class FileGoneError extends AppError {
  constructor(key: string) {
    super('EGGSERVE_FILE_GONE', `"${key}" disappeared before it could be read`)
  }
}
