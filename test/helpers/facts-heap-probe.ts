// Run in a child process (`node --expose-gc --import tsx test/helpers/facts-heap-probe.ts
// COUNT`): a MemoryFactsStore is given the facts of COUNT files, as hashing makes them (an md5,
// a sha256, the metadata's sha256 and a Requires-Python shared by many files); the heap is
// measured after a forced GC before and after, the identities held apart from the store so
// that only what the store adds is counted. Prints one JSON line: { count, bytesPerFile }.
import { randomBytes } from 'node:crypto'
import { MemoryFactsStore } from '../../src/file-facts/facts-store.js'

const count = Number(process.argv[2] ?? '0')
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

const identities = Array.from({ length: count }, (_, i) => `2049:${String(1_000_000 + i)}:2048:1796599098456.26`)
const store = new MemoryFactsStore()
gc()
const before = process.memoryUsage().heapUsed
for (const [i, identity] of identities.entries()) {
  const hex = (bytes: number): string => randomBytes(bytes).toString('hex')
  // A value the worker's message gives each file a copy of.
  const requiresPython = ['>=3', String(8 + (i % 3))].join('.')
  store.set(identity, { digests: { md5: hex(16), sha256: hex(32) }, metadata: { sha256: hex(32), requiresPython } })
}
gc()
const after = process.memoryUsage().heapUsed
process.stdout.write(`${JSON.stringify({ count: store.size, bytesPerFile: (after - before) / count })}\n`)
