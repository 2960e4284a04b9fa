// The facts the primary keeps for every worker (--workers): the pages a starting worker copies
// its memory from, and the compaction of the persistent cache, whose one writer is the primary.
import type { FileFacts } from '../core/index-model.js'
import { FactsLog } from '../file-facts/facts-log.js'
import type { FactsStore } from '../file-facts/facts-store.js'
import type { PrimaryRequests } from './cluster-channel.js'

// Facts per message of a starting worker's snapshot.
const SNAPSHOT_PAGE = 2_000

/** The facts remembered so far, the page starting at `from` (`next` names the following one). */
export function snapshotPage(facts: FactsStore, from: number): PrimaryRequests['snapshot']['answer'] {
  const entries: (readonly [string, FileFacts])[] = []
  let index = 0
  // By identity, and the facts only of those taken: the store makes them anew for each get().
  for (const identity of facts.keys()) {
    if (index++ < from) continue
    if (entries.length === SNAPSHOT_PAGE) return { entries, next: from + SNAPSHOT_PAGE }
    const found = facts.get(identity)
    if (found !== undefined) entries.push([identity, found])
  }
  return { entries }
}

/**
 * Compact the persistent cache when it is mostly dead weight (files the workers found gone),
 * checked every `everyMs` (the reconcile interval; 0: never) unless `stopping()`.
 */
export function compactPeriodically(options: {
  readonly facts: FactsStore
  readonly everyMs: number
  readonly stopping: () => boolean
  readonly compacted: (entries: number) => void
}): void {
  const { facts, everyMs, stopping, compacted } = options
  if (everyMs === 0 || !(facts instanceof FactsLog)) return
  setInterval(() => {
    if (stopping() || !facts.wantsCompaction) return
    void facts.compact().then(() => {
      compacted(facts.size)
    })
  }, everyMs).unref()
}
