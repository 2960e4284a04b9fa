// Run in a child process (`node --expose-gc --import tsx test/helpers/heap-growth-probe.ts
// paced|default`): keeps about 30 MB alive, collects once (V8 sets its next full collection's
// threshold from what survived), then makes garbage that outlives the young generation, as a
// cold start's hashing does. Prints one JSON line: { live, peak, paced }: the heap after that
// collection and the highest heap seen while the garbage was made.
import { paceHeapGrowth } from '../../src/daemon/heap-pacing.js'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')
const paced = process.argv[2] === 'paced' ? paceHeapGrowth([], {}) : false

const kept: { readonly n: number; readonly text: string }[] = []
for (let n = 0; n < 300_000; n++) kept.push({ n, text: `kept-${String(n)}` })
gc()
const live = process.memoryUsage().heapUsed

// Batches stay alive across several scavenges (so they are promoted), then are dropped.
const batches: { readonly n: number; readonly text: string }[][] = []
let peak = live
for (let round = 0; round < 600; round++) {
  const batch = Array.from({ length: 4000 }, (_, n) => ({ n, text: `garbage-${String(round)}-${String(n)}` }))
  batches.push(batch)
  if (batches.length > 25) batches.shift()
  peak = Math.max(peak, process.memoryUsage().heapUsed)
}
process.stdout.write(`${JSON.stringify({ live, peak, paced, kept: kept.length })}\n`)
