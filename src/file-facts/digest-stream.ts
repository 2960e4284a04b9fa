// Digest a stream with several algorithms in one pass, never holding the file in memory.
import { createHash, type Hash } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { Digests, HashAlgorithm } from '../core/digests.js'

/** Read `stream` to its end, feeding every chunk to one hash per algorithm. */
export async function digestStream(stream: Readable, algorithms: readonly HashAlgorithm[]): Promise<Digests> {
  const hashes: [HashAlgorithm, Hash][] = algorithms.map((algorithm) => [algorithm, createHash(algorithm)])
  for await (const chunk of stream) {
    for (const [, hash] of hashes) hash.update(chunk as Buffer)
  }
  return Object.fromEntries(hashes.map(([algorithm, hash]) => [algorithm, hash.digest('hex')]))
}
