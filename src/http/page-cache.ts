// Rendered pages, cached until their project (or the project list) changes. Caching wraps the
// renderers rather than living in them: a page is found by what it shows (a section such as
// "simple", a name such as the project, a variant such as the media type) and is valid for
// the index generation it was rendered from, so a change anywhere in a project renders anew.
// Lookups use the caller's own strings (the index's project names): no key is built per request.
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
  lastUsed: number
  /** The array of variants this slot sits in (for eviction). */
  readonly owner: (Slot | undefined)[]
  readonly variant: number
}

/** Suffix that turns a page's ETag into its gzip form's. */
export const GZIP_TAG_SUFFIX = '-gzip"'

/** Where a page lives in the cache. */
export interface PageKey {
  readonly section: string
  readonly name: string
  /** A small integer: which representation (e.g. the media type's index). */
  readonly variant: number
}

/** A byte-bounded cache of rendered pages with in-flight de-duplication. */
export class PageCache {
  readonly #maxBytes: number
  readonly #sections = new Map<string, Map<string, (Slot | undefined)[]>>()
  readonly #rendering = new Map<string, Promise<RenderedPage>>()
  #bytes = 0
  #clock = 0
  #count = 0

  constructor (maxBytes = 32 * 1024 * 1024) {
    this.#maxBytes = maxBytes
  }

  /** Bytes held (bodies and gzip forms). */
  get bytes (): number {
    return this.#bytes
  }

  /**
   * The page at `key` for `version`, rendering it once if needed (concurrent callers share the
   * render). `lastModifiedMs` belongs to the version, so it is fixed at render time too.
   */
  get (key: PageKey, version: number, lastModifiedMs: number, render: () => Promise<string>): Promise<RenderedPage> | RenderedPage {
    const slots = this.#sections.get(key.section)?.get(key.name)
    const slot = slots?.[key.variant]
    if (slot?.version === version) {
      slot.lastUsed = ++this.#clock
      return slot.page
    }
    const renderKey = `${key.section}\u0000${key.name}\u0000${key.variant}\u0000${version}`
    const running = this.#rendering.get(renderKey)
    if (running !== undefined) return running
    const rendering = render().then((text) => {
      const page = build(text, lastModifiedMs)
      this.#store(key, version, page)
      return page
    }).finally(() => { this.#rendering.delete(renderKey) })
    this.#rendering.set(renderKey, rendering)
    return rendering
  }

  #store (key: PageKey, version: number, page: RenderedPage): void {
    let names = this.#sections.get(key.section)
    if (names === undefined) {
      names = new Map()
      this.#sections.set(key.section, names)
    }
    let slots = names.get(key.name)
    if (slots === undefined) {
      slots = []
      names.set(key.name, slots)
    }
    const old = slots[key.variant]
    if (old !== undefined) {
      this.#bytes -= size(old.page)
      this.#count--
    }
    slots[key.variant] = { version, page, lastUsed: ++this.#clock, owner: slots, variant: key.variant }
    this.#bytes += size(page)
    this.#count++
    if (this.#bytes > this.#maxBytes) this.#evict()
  }

  // Rare (only past the byte budget): drop the least recently used pages until under it.
  #evict (): void {
    const all: Slot[] = []
    for (const names of this.#sections.values()) for (const slots of names.values()) for (const slot of slots) if (slot !== undefined) all.push(slot)
    all.sort((a, b) => a.lastUsed - b.lastUsed)
    for (const slot of all) {
      if (this.#bytes <= this.#maxBytes * 0.9 || this.#count <= 1) return
      slot.owner[slot.variant] = undefined
      this.#bytes -= size(slot.page)
      this.#count--
    }
  }
}

function build (text: string, lastModifiedMs: number): RenderedPage {
  const body = Buffer.from(text, 'utf8')
  const tag = createHash('sha256').update(body).digest('base64url').slice(0, 27)
  return {
    body,
    gzipped: gzipSync(body),
    etag: `"${tag}"`,
    gzipEtag: `"${tag}${GZIP_TAG_SUFFIX}`,
    lastModified: lastModifiedMs > 0 ? httpDate(lastModifiedMs) : undefined,
    lastModifiedMs,
  }
}

function size (page: RenderedPage): number {
  return page.body.length + page.gzipped.length
}
