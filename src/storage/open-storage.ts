// Storage described as plain data, so it can be opened again elsewhere (a worker thread).
import type { FastifyBaseLogger } from 'fastify'
import { LocalStorage } from './local-storage.js'
import type { Storage } from './storage.js'

/** How to reach a storage; serializable (it crosses into worker threads). An S3 kind can join later. */
export interface StorageSpec {
  readonly kind: 'local'
  readonly root: string
}

/** Open the storage a spec describes; `blocking` asks for synchronous reads (worker threads). */
export async function openStorage (spec: StorageSpec, log: FastifyBaseLogger, options: { blocking?: boolean } = {}): Promise<Storage> {
  return LocalStorage.create(spec.root, log, options)
}
