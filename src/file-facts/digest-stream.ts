// Digest a stream with several algorithms in one pass, never holding the file in memory.
import { createHash, type Hash } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { Digests, HashAlgorithm } from '../core/digests.js'

/** What digestReads() reads with: the file's readInto() (storage.ts), and where it stops. */
export interface ReadsToDigest {
  readonly readInto: (buffer: Buffer, position: number) => Promise<number>
  /** Bytes to read from position 0 (fewer when the file turns out shorter). */
  readonly size: number
  /** Reused for every read: its length is the chunk size. */
  readonly buffer: Buffer
  /** Aborted: stop between two reads, with the signal's reason. */
  readonly signal: AbortSignal
}

/**
 * Digest a file read chunk by chunk into one buffer, with one hash per algorithm: the same
 * digests as digestStream() on a stream of the same bytes, without a buffer per chunk.
 */
export async function digestReads(reads: ReadsToDigest, algorithms: readonly HashAlgorithm[]): Promise<Digests> {
  const hashes: [HashAlgorithm, Hash][] = algorithms.map((algorithm) => [algorithm, createHash(algorithm)])
  const { buffer, size, signal } = reads
  for (let position = 0; position < size;) {
    signal.throwIfAborted()
    const length = Math.min(buffer.length, size - position)
    const bytesRead = await reads.readInto(length === buffer.length ? buffer : buffer.subarray(0, length), position)
    // The file is shorter than it was when opened (truncated in place): end here, as a stream would.
    if (bytesRead === 0) break
    const chunk = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead)
    // update() copies what it needs into the hash state: the buffer is free for the next read.
    for (const [, hash] of hashes) hash.update(chunk)
    position += bytesRead
  }
  return Object.fromEntries(hashes.map(([algorithm, hash]) => [algorithm, hash.digest('hex')]))
}

/** Read `stream` to its end, feeding every chunk to one hash per algorithm. */
export async function digestStream(stream: Readable, algorithms: readonly HashAlgorithm[]): Promise<Digests> {
  const hashes: [HashAlgorithm, Hash][] = algorithms.map((algorithm) => [algorithm, createHash(algorithm)])
  for await (const chunk of stream) {
    for (const [, hash] of hashes) hash.update(chunk as Buffer)
  }
  return Object.fromEntries(hashes.map(([algorithm, hash]) => [algorithm, hash.digest('hex')]))
}
