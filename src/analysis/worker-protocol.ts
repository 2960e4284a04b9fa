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
  | { readonly kind: 'result'; readonly id: number; readonly file: StoredFile; readonly facts: FileFacts; readonly bytes: number }
  | { readonly kind: 'error'; readonly id: number; readonly code: ErrorCode; readonly message: string }
