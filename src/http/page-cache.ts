// Rendered pages, cached until their project (or the project list) changes. Caching wraps the
// renderers rather than living in them: a page is found by what it shows (a section such as
// "simple", a name such as the project, a variant such as the media type) and is valid for
// the index generation it was rendered from, so a change anywhere in a project renders anew.
// The cache is an lru-cache bounded by bytes (keys included), so nothing a client sends can
// make it grow past its budget; a hit is one synchronous lookup.
import { gzipSync } from 'node:zlib'
import { LRUCache } from 'lru-cache'
import { httpDate } from '../core/conditional.js'
import type { CacheMeter } from '../core/metrics.js'
import { strongEtag } from './etag.js'

/** A page ready to send: both bodies and every header value that does not depend on the request. */
export interface RenderedPage {
  readonly body: Buffer
  /** Gzip-compressed once at render time: pip and uv ask for gzip on every page. */
  readonly gzipped: Buffer
  /** Strong ETag of the identity body. */
  readonly etag: string
  /** Strong ETag of the gzip body (RFC 9110 §8.8.3: one per content-coding). */
  readonly gzipEtag: string
  /** The Last-Modified value, or undefined when unknown. */
  readonly lastModified: string | undefined
  readonly lastModifiedMs: number
}

/** Suffix that turns a page's ETag into its gzip form's. */
export const GZIP_TAG_SUFFIX = '-gzip"'

/** Where a page lives in the cache. */
export interface PageKey {
  /** A fixed name chosen by the code (never by a client), e.g. "simple". */
  readonly section: string
  readonly name: string
  /** A small integer: which representation (e.g. the media type's index). */
  readonly variant: number
}

interface Entry {
  readonly version: number
  readonly page: RenderedPage
}

interface RenderContext {
  readonly version: number
  readonly lastModifiedMs: number
  readonly render: () => Promise<string>
}

// What an entry costs beyond its two bodies and its key: the objects, the two tags and the
// date string, and lru-cache's own bookkeeping. An estimate, so the budget holds for small pages too.
const ENTRY_OVERHEAD = 512
// Variants per section: the three simple media types (more would only need more prefixes).
const MAX_VARIANTS = 8

/** A byte-bounded LRU cache of rendered pages; concurrent misses of one page share one render. */
export class PageCache {
  readonly #lru: LRUCache<string, Entry, RenderContext>
  // Short key prefixes per section and variant, so a lookup hashes little more than the name.
  // Sections are a handful of names fixed in the code.
  readonly #prefixes = new Map<string, readonly string[]>()
  readonly #meter: CacheMeter | undefined

  /** `meter` counts hits and misses (eggserve_cache_*_total{cache="page"}). */
  constructor(maxBytes = 32 * 1024 * 1024, meter?: CacheMeter) {
    this.#meter = meter
    this.#lru = new LRUCache<string, Entry, RenderContext>({
      maxSize: maxBytes,
      sizeCalculation: (entry, key) => size(entry.page) + key.length * 2 + ENTRY_OVERHEAD,
      fetchMethod: async (_key, _stale, { context }) => ({
        version: context.version,
        page: build(await context.render(), context.lastModifiedMs),
      }),
      // A render whose entry is evicted meanwhile (a small budget under load) still answers
      // the requests waiting for it; it is just not kept.
      ignoreFetchAbort: true,
    })
  }

  /** Bytes held (bodies, gzip forms, keys and an estimate of the bookkeeping). */
  get bytes(): number {
    return this.#lru.calculatedSize
  }

  /** Pages held. */
  get size(): number {
    return this.#lru.size
  }

  /**
   * The page at `key` for `version` when it is cached (counted as a hit), without a promise;
   * undefined otherwise (not counted: the caller goes on to get(), which counts the miss).
   */
  // A hit used to be answered only through get(), always a promise: `npm run bench` (wrk
  // req/s under load) could not tell the two apart, but CPU time per request can. The two
  // promises and the microtask turns of each hit are work on every page request.
  cached(key: PageKey, version: number): RenderedPage | undefined {
    const hit = this.#lru.get(this.#prefix(key.section, key.variant) + key.name)
    if (hit?.version !== version) return undefined
    this.#meter?.hit()
    return hit.page
  }

  /**
   * The page at `key` for `version`, rendering it once if needed (concurrent callers share the
   * render). `lastModifiedMs` belongs to the version, so it is fixed at render time too.
   */
  async get(
    key: PageKey,
    version: number,
    lastModifiedMs: number,
    render: () => Promise<string>,
  ): Promise<RenderedPage> {
    const id = this.#prefix(key.section, key.variant) + key.name
    const hit = this.#lru.get(id)
    if (hit?.version === version) {
      this.#meter?.hit()
      return hit.page
    }
    this.#meter?.miss()
    return this.#load(id, { version, lastModifiedMs, render })
  }

  async #load(id: string, context: RenderContext): Promise<RenderedPage> {
    for (;;) {
      // forceRefresh: what is cached is another version. A render already running for this key
      // is joined; if it was for an older version, render again.
      const entry = await this.#lru.fetch(id, { forceRefresh: true, context })
      if (entry === undefined) throw new Error(`Page ${JSON.stringify(id)} was not rendered`)
      if (entry.version >= context.version) return entry.page
    }
  }

  #prefix(section: string, variant: number): string {
    let prefixes = this.#prefixes.get(section)
    if (prefixes === undefined) {
      const code = this.#prefixes.size.toString(36)
      prefixes = Array.from({ length: MAX_VARIANTS }, (_, index) => `${code}${String(index)}\u0000`)
      this.#prefixes.set(section, prefixes)
    }
    const prefix = prefixes[variant]
    if (prefix === undefined) throw new RangeError(`Page variant ${String(variant)} is out of range`)
    return prefix
  }
}

function build(text: string, lastModifiedMs: number): RenderedPage {
  const body = Buffer.from(text, 'utf8')
  const etag = strongEtag(body)
  return {
    body,
    gzipped: gzipSync(body),
    etag,
    gzipEtag: `${etag.slice(0, -1)}${GZIP_TAG_SUFFIX}`,
    lastModified: lastModifiedMs > 0 ? httpDate(lastModifiedMs) : undefined,
    lastModifiedMs,
  }
}

function size(page: RenderedPage): number {
  return page.body.length + page.gzipped.length
}
