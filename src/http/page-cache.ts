// Rendered pages, cached until their project (or the project list) changes. Caching wraps the
// renderers rather than living in them: a page is keyed by what it shows and by the index
// generation it was rendered from, so a change anywhere in a project makes a new key.
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { httpDate } from '../core/conditional.js'

/** A page ready to send: both bodies and every header value that does not depend on the request. */
export interface RenderedPage {
  readonly body: Buffer
  /** Gzip-compressed once at render time: pip and uv ask for gzip on every page (checklist K-4). */
  readonly gzipped: Buffer
  /** Strong ETag of the identity body. */
  readonly etag: string
  /** Strong ETag of the gzip body (checklist K-2: one per content-coding). */
  readonly gzipEtag: string
  /** The Last-Modified value, or undefined when unknown. */
  readonly lastModified: string | undefined
  readonly lastModifiedMs: number
}

interface Slot {
  readonly version: number
  readonly page: RenderedPage
}

/** Suffix that turns a page's ETag into its gzip form's. */
export const GZIP_TAG_SUFFIX = '-gzip"'

/** A byte-bounded LRU of rendered pages with in-flight de-duplication. */
export class PageCache {
  readonly #maxBytes: number
  readonly #slots = new Map<string, Slot>()
  readonly #rendering = new Map<string, Promise<RenderedPage>>()
  #bytes = 0

  constructor (maxBytes = 32 * 1024 * 1024) {
    this.#maxBytes = maxBytes
  }

  /** Bytes held (bodies and gzip forms). */
  get bytes (): number {
    return this.#bytes
  }

  /**
   * The page for `key` at `version`, rendering it once if needed (concurrent callers share the
   * render). `lastModifiedMs` belongs to the version, so it is fixed at render time too.
   */
  get (key: string, version: number, lastModifiedMs: number, render: () => Promise<string>): Promise<RenderedPage> | RenderedPage {
    const slot = this.#slots.get(key)
    if (slot?.version === version) {
      // Least recently used goes first: move this one to the end.
      this.#slots.delete(key)
      this.#slots.set(key, slot)
      return slot.page
    }
    const renderKey = `${key}\u0000${version}`
    const running = this.#rendering.get(renderKey)
    if (running !== undefined) return running
    const rendering = render().then((text) => {
      const body = Buffer.from(text, 'utf8')
      const tag = createHash('sha256').update(body).digest('base64url').slice(0, 27)
      const page: RenderedPage = {
        body,
        gzipped: gzipSync(body),
        etag: `"${tag}"`,
        gzipEtag: `"${tag}${GZIP_TAG_SUFFIX}`,
        lastModified: lastModifiedMs > 0 ? httpDate(lastModifiedMs) : undefined,
        lastModifiedMs,
      }
      this.#store(key, { version, page })
      return page
    }).finally(() => { this.#rendering.delete(renderKey) })
    this.#rendering.set(renderKey, rendering)
    return rendering
  }

  #store (key: string, slot: Slot): void {
    const old = this.#slots.get(key)
    if (old !== undefined) this.#bytes -= size(old.page)
    this.#slots.delete(key)
    this.#slots.set(key, slot)
    this.#bytes += size(slot.page)
    for (const [oldest, victim] of this.#slots) {
      if (this.#bytes <= this.#maxBytes || this.#slots.size <= 1) return
      this.#slots.delete(oldest)
      this.#bytes -= size(victim.page)
    }
  }
}

function size (page: RenderedPage): number {
  return page.body.length + page.gzipped.length
}
