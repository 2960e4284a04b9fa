// The facts the index keeps from a distribution's core metadata file: what PEP 658 pages and
// PEP 503's data-requires-python need, whether the bytes came from the index or an upload.
import { createHash } from 'node:crypto'
import type { MetadataFacts } from './index-model.js'
import { parseCoreMetadata } from './metadata.js'

/** The facts the index keeps from metadata bytes: their sha256 (PEP 658) and a non-empty Requires-Python. */
export function metadataFacts(bytes: Uint8Array): MetadataFacts {
  const requiresPython = parseCoreMetadata(bytes).get('requires-python')?.trim()
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  return requiresPython === undefined || requiresPython === '' ? { sha256 } : { sha256, requiresPython }
}
