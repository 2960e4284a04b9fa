// Messages between WorkerAnalyzer (main thread) and analysis-worker.ts.
import type { DistFile, FileFacts } from '../core/index-model.js'
import type { ErrorCode } from '../error-codes.js'
import type { StoredFile } from '../storage/storage.js'

/** Main thread → worker: analyze this file. */
export interface WorkerRequest {
  readonly id: number
  readonly file: DistFile
}

/** Worker → main thread. */
export type WorkerReply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'log'; readonly line: string }
  | {
      readonly kind: 'result'
      readonly id: number
      readonly file: StoredFile
      readonly facts: FileFacts
      readonly bytes: number
    }
  | WorkerFailure

/** Worker → main thread: the analysis failed. Enough to rebuild the error, which the main thread logs. */
export interface WorkerFailure {
  readonly kind: 'error'
  readonly id: number
  readonly code: ErrorCode
  readonly message: string
  /** The message of the error's cause (a system error, an S3 failure in words). */
  readonly cause?: string
  /** The error's details (see AppError). */
  readonly details?: Readonly<Record<string, unknown>>
}
