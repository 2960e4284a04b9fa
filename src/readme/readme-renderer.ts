// Long descriptions rendered for the project pages, off the request path: Markdown in a worker
// thread, reStructuredText in a python3 subprocess, and the HTML kept in a byte-bounded LRU
// keyed by the identity of the file the description came from (same identity, same bytes).
import type { Worker } from 'node:worker_threads'
import type { FastifyBaseLogger } from 'fastify'
import { LRUCache } from 'lru-cache'
import type { Description } from '../core/project-details.js'
import { startWorker } from '../platform/worker-thread.js'
import { escapeHtml } from '../render/html.js'
import type { RenderedReadme } from '../render/rendered-readme.js'
import type { ReadmeJob, ReadmeReply } from './readme-protocol.js'
import { renderRst } from './rst.js'

/** Options of the README renderer. */
export interface ReadmeRendererOptions {
  readonly log: FastifyBaseLogger
  /** Keep remote http(s) images (`--ui-remote-images`). */
  readonly remoteImages: boolean
  /** python3 that can import readme_renderer; default Debian's /usr/bin/python3. */
  readonly python?: string
  /** Time limit of one rendering (worker or subprocess); default 10 s. */
  readonly timeoutMs?: number
  /** Bytes of rendered HTML kept; default 16 MiB. */
  readonly maxCacheBytes?: number
}

// Longer descriptions are shown as (the start of their) text: PyPI itself refuses uploads whose
// description does not render, and a megabyte of README is not read by anyone.
const MAX_RENDERED_CHARS = 1024 * 1024
const MAX_TEXT_CHARS = 256 * 1024

interface Pending {
  readonly resolve: (reply: ReadmeReply) => void
}

/** Renders and remembers READMEs. */
export class ReadmeRenderer {
  readonly #options: ReadmeRendererOptions
  readonly #log: FastifyBaseLogger
  readonly #cache: LRUCache<string, RenderedReadme>
  readonly #rendering = new Map<string, Promise<RenderedReadme>>()
  #worker: { readonly thread: Worker; readonly pending: Map<number, Pending> } | undefined
  #nextId = 1
  /** Set once python3 or readme_renderer turned out to be missing. */
  #rstUnavailable = false
  #queue: Promise<unknown> = Promise.resolve()

  constructor(options: ReadmeRendererOptions) {
    this.#options = options
    this.#log = options.log.child({ component: 'readme' })
    this.#cache = new LRUCache({
      maxSize: options.maxCacheBytes ?? 16 * 1024 * 1024,
      sizeCalculation: (value) => value.html.length * 2 + 64,
    })
  }

  /** The README of the file with identity `identity`; concurrent calls share one rendering. */
  render(identity: string, description: Description): Promise<RenderedReadme> {
    const cached = this.#cache.get(identity)
    if (cached !== undefined) return Promise.resolve(cached)
    let running = this.#rendering.get(identity)
    if (running === undefined) {
      running = this.#render(description)
        .then((rendered) => {
          this.#cache.set(identity, rendered)
          return rendered
        })
        .finally(() => {
          this.#rendering.delete(identity)
        })
      this.#rendering.set(identity, running)
    }
    return running
  }

  /** Stop the worker thread. */
  async close(): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    if (worker !== undefined) await worker.thread.terminate()
  }

  async #render(description: Description): Promise<RenderedReadme> {
    const { text, format } = description
    if (format === 'text') return asText(text)
    if (text.length > MAX_RENDERED_CHARS)
      return asText(text, `This description is too long to render (${text.length} characters); it is shown as text.`)
    if (format === 'markdown') {
      const reply = await this.#job('markdown', text)
      return reply.ok
        ? { html: reply.html, renderedAs: 'markdown' }
        : asText(text, 'This description could not be rendered; it is shown as text.')
    }
    return this.#renderRst(text)
  }

  async #renderRst(text: string): Promise<RenderedReadme> {
    if (this.#rstUnavailable) return asText(text, UNAVAILABLE)
    const result = await renderRst(text, {
      python: this.#options.python ?? '/usr/bin/python3',
      timeoutMs: this.#options.timeoutMs ?? 10_000,
    })
    switch (result.kind) {
      case 'html': {
        const reply = await this.#job('html', result.html)
        return reply.ok
          ? { html: reply.html, renderedAs: 'rst' }
          : asText(text, 'This description could not be rendered; it is shown as text.')
      }
      case 'invalid':
        return asText(text, 'This description is not valid reStructuredText; it is shown as text.')
      case 'unavailable':
        this.#rstUnavailable = true
        this.#log.info(
          'reStructuredText READMEs are shown as text: python3 with readme_renderer is not installed (Debian: apt-get install python3-readme-renderer)',
        )
        return asText(text, UNAVAILABLE)
      case 'failed':
        this.#log.warn({ reason: result.reason }, 'A reStructuredText README could not be rendered')
        return asText(text, 'This description could not be rendered; it is shown as text.')
    }
  }

  // One job at a time: READMEs are rendered once per file and cached, so a queue is enough,
  // and a job that runs past the time limit takes only its own worker down with it.
  #job(kind: ReadmeJob['kind'], text: string): Promise<ReadmeReply> {
    const next = this.#queue.then(() => this.#run(kind, text))
    this.#queue = next.catch(() => undefined)
    return next
  }

  #run(kind: ReadmeJob['kind'], text: string): Promise<ReadmeReply> {
    const worker = this.#ensureWorker()
    const id = this.#nextId++
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        worker.pending.delete(id)
        this.#log.warn({ kind }, 'A README took too long to render; its worker was stopped')
        if (this.#worker === worker) this.#worker = undefined
        void worker.thread.terminate()
        resolve({ id, ok: false, message: 'time limit' })
      }, this.#options.timeoutMs ?? 10_000)
      timer.unref()
      worker.pending.set(id, {
        resolve: (reply) => {
          clearTimeout(timer)
          resolve(reply)
        },
      })
      const job: ReadmeJob = { id, kind, text, remoteImages: this.#options.remoteImages }
      worker.thread.postMessage(job)
    })
  }

  #ensureWorker(): { readonly thread: Worker; readonly pending: Map<number, Pending> } {
    if (this.#worker !== undefined) return this.#worker
    const thread = startWorker(import.meta.url, 'readme-worker')
    // An idle README worker must not keep the process alive.
    thread.unref()
    const worker = { thread, pending: new Map<number, Pending>() }
    thread.on('message', (reply: ReadmeReply) => {
      const pending = worker.pending.get(reply.id)
      worker.pending.delete(reply.id)
      pending?.resolve(reply)
    })
    thread.on('error', (err) => {
      this.#log.error({ err }, 'The README worker failed')
    })
    thread.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined
      for (const [id, pending] of worker.pending) pending.resolve({ id, ok: false, message: 'worker exited' })
      worker.pending.clear()
    })
    this.#worker = worker
    return worker
  }
}

const UNAVAILABLE = 'reStructuredText is shown as text on this server (python3-readme-renderer is not installed).'

function asText(text: string, note?: string): RenderedReadme {
  const shown = text.length > MAX_TEXT_CHARS ? `${text.slice(0, MAX_TEXT_CHARS)}\n…` : text
  const html = `<pre class="readme-text">${escapeHtml(shown)}</pre>`
  return note === undefined ? { html, renderedAs: 'text' } : { html, renderedAs: 'text', note }
}
