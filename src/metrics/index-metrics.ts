// Metrics read from the index and the hashing work when Prometheus scrapes: nothing is kept
// or updated between scrapes, so serving requests pays nothing for them.
import type { AnalysisStats } from '../file-facts/streaming-analyzer.js'
import type { Readiness } from '../live-index/background.js'
import type { IndexService } from '../live-index/index-service.js'
import type { Metrics } from '../core/metrics.js'

/** What the index gauges are read from. */
export interface IndexMetricSources {
  readonly index: IndexService
  /** The analyzer that really reads files: its running totals. */
  readonly hashed: AnalysisStats
  /** The warm-up pass's state (/health/ready's). */
  readonly readiness: () => Readiness
}

/** Declare the index size, hashing and readiness metrics. */
export function registerIndexMetrics(metrics: Metrics, sources: IndexMetricSources): void {
  const { index, hashed, readiness } = sources
  const size = indexSize(index)
  metrics.collectedGauge({
    name: 'eggserve_index_projects',
    help: 'Projects in the index',
    labelNames: [],
    collect: (set) => {
      set({}, size().projects)
    },
  })
  metrics.collectedGauge({
    name: 'eggserve_index_files',
    help: 'Distribution files in the index',
    labelNames: [],
    collect: (set) => {
      set({}, size().files)
    },
  })
  metrics.collectedGauge({
    name: 'eggserve_index_bytes',
    help: 'Total size of the distribution files in the index',
    labelNames: [],
    collect: (set) => {
      set({}, size().bytes)
    },
  })
  registerHashingMetrics(metrics, hashed)
  metrics.collectedGauge({
    name: 'eggserve_hashing_backlog_files',
    help: 'Files the background warm-up pass has yet to hash',
    labelNames: [],
    collect: (set) => {
      const p = readiness().progress
      set({}, p === undefined ? 0 : p.files - p.filesDone)
    },
  })
  metrics.collectedGauge({
    name: 'eggserve_hashing_backlog_bytes',
    help: 'Bytes the background warm-up pass has yet to hash',
    labelNames: [],
    collect: (set) => {
      const p = readiness().progress
      set({}, p === undefined ? 0 : p.bytes - p.bytesDone)
    },
  })
  metrics.collectedGauge({
    name: 'eggserve_hashing_progress_ratio',
    help: "Share of the warm-up pass's bytes hashed, from 0 to 1 (1 once every file is hashed)",
    labelNames: [],
    collect: (set) => {
      const state = readiness()
      const p = state.progress
      set({}, state.ready || p === undefined || p.bytes === 0 ? (state.ready ? 1 : 0) : p.bytesDone / p.bytes)
    },
  })
  metrics.collectedGauge({
    name: 'eggserve_ready',
    help: '1 once every file is hashed (/health/ready answers 200), else 0',
    labelNames: [],
    collect: (set) => {
      set({}, readiness().ready ? 1 : 0)
    },
  })
}

interface IndexSize {
  projects: number
  files: number
  bytes: number
}

// One pass over the index per scrape, shared by the three gauges: a scrape collects them one
// after the other in one synchronous run, and the pass is forgotten right after.
function indexSize(index: IndexService): () => IndexSize {
  let memo: IndexSize | undefined
  return () => {
    if (memo !== undefined) return memo
    const found: IndexSize = { projects: 0, files: 0, bytes: 0 }
    for (const { files } of index.heldProjects()) {
      found.projects++
      found.files += files.length
      for (const file of files) found.bytes += file.size
    }
    memo = found
    queueMicrotask(() => {
      memo = undefined
    })
    return found
  }
}

/**
 * The files and bytes read to hash: the process that reads files counts them (with --workers,
 * the primary; the workers' counts stay 0 and the sum is the service's).
 */
export function registerHashingMetrics(metrics: Metrics, hashed: AnalysisStats): void {
  metrics.collectedCounter({
    name: 'eggserve_hashed_files_total',
    help: 'Files read and hashed (warm-up, requests for files not hashed yet, uploads excluded)',
    labelNames: [],
    collect: (set) => {
      set({}, hashed.files)
    },
  })
  metrics.collectedCounter({
    name: 'eggserve_hashed_bytes_total',
    help: 'Bytes read to hash files',
    labelNames: [],
    collect: (set) => {
      set({}, hashed.bytes)
    },
  })
}
