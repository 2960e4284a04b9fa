// Run in a child process (`node --import tsx test/helpers/pretenuring-probe.ts server|default`):
// makes 400,000 objects at one allocation site and keeps them (as a cold start keeps the
// index), then makes garbage at the same site, batch after batch, each dropped at once (as a
// reconcile does). Prints one JSON line: { growthMb, stopped }: how far the old generation grew
// while the garbage was made, and whether stopPretenuring() made its setting.
import { getHeapSpaceStatistics } from 'node:v8'
import { stopPretenuring } from '../../src/daemon/heap-pacing.js'

const stopped = process.argv[2] === 'server' ? stopPretenuring([], {}) : false
const oldSpace = (): number =>
  getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')?.space_used_size ?? 0

interface Item {
  readonly n: number
  readonly text: string
}
// One allocation site: the object literal below.
function make(n: number, text: string): Item {
  return { n, text }
}

const kept: Item[] = []
for (let n = 0; n < 400_000; n++) kept.push(make(n, 'kept'))
const before = oldSpace()
let peak = before
for (let round = 0; round < 400; round++) {
  // Dropped at the end of each round.
  const batch: Item[] = []
  for (let n = 0; n < 5000; n++) batch.push(make(n, 'garbage'))
  peak = Math.max(peak, oldSpace())
}
process.stdout.write(`${JSON.stringify({ growthMb: (peak - before) / 1048576, stopped, kept: kept.length })}\n`)
