// The upstream proxy's metrics (--upstream), in the same registry as everything else: the
// upstream code calls the hooks of an UpstreamObserver (src/upstream/upstream-observer.ts)
// and this file counts them; the breakers' states are read when Prometheus scrapes. Every
// `upstream` label is an upstream's label from the configuration (its URL without
// credentials), so the label values are bounded by the configuration, never by requests.
import type { BoundCounter, Labels, Metrics } from '../core/metrics.js'
import type { BreakerState } from '../upstream/circuit-breaker.js'
import {
  NO_OBSERVER,
  type UpstreamObserver,
  type UpstreamRequestEvent,
  type UpstreamRequestKind,
} from '../upstream/upstream-observer.js'

/** Seconds; a page takes milliseconds, a large file's first download minutes. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]

const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open']

/**
 * The observer that feeds the upstream metrics. `upstreams` (the configured labels) start
 * every per-upstream counter at 0, so a rate() works from the first scrape.
 */
export function upstreamObserver(metrics: Metrics, upstreams: readonly string[]): UpstreamObserver {
  if (!metrics.enabled) return NO_OBSERVER
  const requests = metrics.counter<'upstream' | 'kind' | 'outcome'>({
    name: 'eggserve_upstream_requests_total',
    help: 'Requests made to upstream indexes, by upstream, kind (page, file, metadata) and outcome',
    labelNames: ['upstream', 'kind', 'outcome'],
  })
  const duration = metrics.histogram<'upstream' | 'kind'>({
    name: 'eggserve_upstream_request_duration_seconds',
    help: 'Time from sending a request to an upstream to the end of its body (or its failure), by upstream and kind',
    labelNames: ['upstream', 'kind'],
    buckets: DURATION_BUCKETS,
  })
  const received = metrics.counter<'upstream' | 'kind'>({
    name: 'eggserve_upstream_received_bytes_total',
    help: 'Body bytes received from upstream indexes (after gzip decoding), by upstream and kind',
    labelNames: ['upstream', 'kind'],
  })
  const joins = metrics.counter<'upstream' | 'kind'>({
    name: 'eggserve_upstream_singleflight_joins_total',
    help: 'Lookups that shared a request already in flight for the same page or file instead of making one',
    labelNames: ['upstream', 'kind'],
  })
  const perUpstream = (name: string, help: string): ((upstream: string) => BoundCounter) =>
    boundBy(metrics.counter<'upstream'>({ name, help, labelNames: ['upstream'] }), upstreams)
  const pageHits = perUpstream(
    'eggserve_upstream_page_cache_hits_total',
    'Project page lookups answered from the upstream page cache (fresh within the TTL, offline, or a 404 remembered)',
  )
  const pageMisses = perUpstream(
    'eggserve_upstream_page_cache_misses_total',
    'Project page lookups the upstream page cache could not answer alone (the upstream was asked, or could not be)',
  )
  const stale = perUpstream(
    'eggserve_upstream_page_cache_stale_total',
    'Project page lookups answered with a stale cached page because the upstream failed',
  )
  const mismatches = perUpstream(
    'eggserve_upstream_hash_mismatches_total',
    "Upstream files whose bytes did not match the digest on the upstream's page (nothing was kept)",
  )
  const openings = perUpstream(
    'eggserve_upstream_breaker_openings_total',
    "Times an upstream's circuit breaker opened (after failures in a row, or a failed probe)",
  )
  const fileHits = metrics
    .counter({
      name: 'eggserve_upstream_file_cache_hits_total',
      help: 'Requests for upstream files served from the file cache',
      labelNames: [],
    })
    .labels({})
  const fileMisses = metrics
    .counter({
      name: 'eggserve_upstream_file_cache_misses_total',
      help: 'Requests for upstream files that were not in the file cache',
      labelNames: [],
    })
    .labels({})
  fileHits.inc(0)
  fileMisses.inc(0)
  return {
    requested: (event: UpstreamRequestEvent) => {
      const { upstream, kind } = event
      requests.inc({ upstream, kind, outcome: event.outcome })
      duration.observe({ upstream, kind }, event.seconds)
      received.inc({ upstream, kind }, event.bytes)
    },
    pageLookup: (upstream, result) => {
      const series = result === 'hit' ? pageHits : pageMisses
      series(upstream).inc()
    },
    stalePage: (upstream) => {
      stale(upstream).inc()
    },
    fileLookup: (result) => {
      if (result === 'hit') fileHits.inc()
      else fileMisses.inc()
    },
    joined: (upstream: string, kind: UpstreamRequestKind) => {
      joins.inc({ upstream, kind })
    },
    hashMismatch: (upstream) => {
      mismatches(upstream).inc()
    },
    breakerOpened: (upstream) => {
      openings(upstream).inc()
    },
  }
}

/**
 * `eggserve_upstream_breaker_state{upstream,state}`: 1 for each upstream's current state, 0
 * for the others (one series per state, as Prometheus represents an enumeration), read on
 * each scrape.
 */
export function registerUpstreamBreakers(
  metrics: Metrics,
  breakers: () => readonly { readonly upstream: string; readonly state: BreakerState }[],
): void {
  metrics.collectedGauge<'upstream' | 'state'>({
    name: 'eggserve_upstream_breaker_state',
    help: "State of each upstream's circuit breaker: 1 for the current state (closed, open, half_open), else 0",
    labelNames: ['upstream', 'state'],
    collect: (set) => {
      for (const { upstream, state } of breakers()) {
        for (const candidate of BREAKER_STATES)
          set({ upstream, state: candidate.replace('-', '_') }, candidate === state ? 1 : 0)
      }
    },
  })
}

// The bound series of each upstream, made once (the configured ones at 0 from the start): a
// page hit is counted on every request for a cached upstream page.
function boundBy(
  counter: { labels(labels: Labels<'upstream'>): BoundCounter },
  upstreams: readonly string[],
): (upstream: string) => BoundCounter {
  const bound = new Map<string, BoundCounter>()
  const series = (upstream: string): BoundCounter => {
    let found = bound.get(upstream)
    if (found === undefined) {
      found = counter.labels({ upstream })
      bound.set(upstream, found)
    }
    return found
  }
  for (const upstream of upstreams) series(upstream).inc(0)
  return series
}
