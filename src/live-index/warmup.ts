// Background hashing of a cold tree: every file the cache does not know is analyzed at low
// priority (a project someone asks for jumps the queue: its requests are urgent), with
// progress logged as it goes. The tree counts as ready once this pass has finished.
import type { FastifyBaseLogger } from 'fastify'
import { FileGoneError } from '../file-facts/analyzer.js'
import type { MemoizingAnalyzer } from '../file-facts/memoizing-analyzer.js'
import type { DistFile } from '../core/index-model.js'
import { formatBytes } from '../core/bytes.js'
import { plural } from '../core/plural.js'
import type { IndexService } from './index-service.js'

/** Where warm-up stands. */
export interface WarmupProgress {
  readonly files: number
  readonly filesDone: number
  readonly bytes: number
  readonly bytesDone: number
  /** Bytes per second since the start. */
  readonly rate: number
  /** Seconds left at the current rate, when known. */
  readonly etaSeconds: number | undefined
  readonly done: boolean
}

/** Options of Warmup. */
export interface WarmupOptions {
  readonly index: IndexService
  readonly analyzer: MemoizingAnalyzer
  readonly log: FastifyBaseLogger
  /** How often progress is reported (ms); 0 for never. */
  readonly progressEveryMs?: number
  /** Called with each progress report (the CLI's `warm` draws a bar with it). */
  readonly onProgress?: (progress: WarmupProgress) => void
}

// Analyses queued at once: enough to keep every reader busy, few enough to stay lean.
const WINDOW = 64

/** One pass of background hashing over the whole index. */
export class Warmup {
  readonly #options: WarmupOptions
  readonly #log: FastifyBaseLogger
  #files = 0
  #filesDone = 0
  #bytes = 0
  #bytesDone = 0
  #started = 0
  #done = false
  #stopped = false

  constructor(options: WarmupOptions) {
    this.#options = options
    this.#log = options.log.child({ component: 'warmup' })
  }

  /** True once every file known at the start has been analyzed (or found gone). */
  get done(): boolean {
    return this.#done
  }

  /** Stop queuing more work (on shutdown). */
  stop(): void {
    this.#stopped = true
  }

  get progress(): WarmupProgress {
    const seconds = Math.max((Date.now() - this.#started) / 1000, 0.001)
    const rate = this.#bytesDone / seconds
    const left = this.#bytes - this.#bytesDone
    return {
      files: this.#files,
      filesDone: this.#filesDone,
      bytes: this.#bytes,
      bytesDone: this.#bytesDone,
      rate,
      etaSeconds: this.#done ? 0 : rate > 0 ? left / rate : undefined,
      done: this.#done,
    }
  }

  /** Analyze every file not known yet; resolves when the pass is over. */
  async run(): Promise<WarmupProgress> {
    this.#started = Date.now()
    const work: { project: string; file: DistFile }[] = []
    for (const { project, files } of this.#options.index.heldProjects()) {
      for (const file of files) {
        if (this.#options.analyzer.knows(file.identity)) continue
        work.push({ project, file })
        this.#bytes += file.size
      }
    }
    this.#files = work.length
    // Walk projects in order, so each finishes early rather than all at the end.
    work.reverse()
    const every = this.#options.progressEveryMs ?? 5000
    const timer =
      every > 0 && work.length > 0
        ? setInterval(() => {
            this.#report()
          }, every).unref()
        : undefined
    if (work.length > 0)
      this.#log.info(
        { files: this.#files, bytes: this.#bytes },
        `Hashing ${plural(this.#files, 'file')} (${formatBytes(this.#bytes)}) in the background`,
      )
    const lane = async (): Promise<void> => {
      for (let item = work.pop(); item !== undefined && !this.#stopped; item = work.pop()) {
        try {
          await this.#options.analyzer.analyze(item.file, { group: item.project, urgent: false })
        } catch (err) {
          // Stopped (the analyzer too): this file was not done.
          if (this.#halted()) break
          // A file that vanished is left out of pages anyway; one that cannot be read is
          // worth saying (the storage does not log what it throws). Either way, go on.
          if (err instanceof FileGoneError) this.#log.debug({ err, key: item.file.key }, 'Warm-up skipped a file')
          else this.#log.error({ err, key: item.file.key }, 'Warm-up cannot read a file')
        }
        this.#filesDone++
        this.#bytesDone += item.file.size
      }
    }
    await Promise.all(Array.from({ length: WINDOW }, lane))
    clearInterval(timer)
    this.#done = !this.#stopped
    if (this.#files > 0) this.#report()
    return this.progress
  }

  // A method, not the field: TypeScript keeps the loop condition's narrowing across the await.
  #halted(): boolean {
    return this.#stopped
  }

  #report(): void {
    const p = this.progress
    this.#options.onProgress?.(p)
    const eta = p.etaSeconds === undefined ? '?' : `${Math.ceil(p.etaSeconds)} s`
    this.#log.info(
      {
        filesDone: p.filesDone,
        files: p.files,
        bytesDone: p.bytesDone,
        bytes: p.bytes,
        rate: Math.round(p.rate),
        etaSeconds: p.etaSeconds === undefined ? null : Math.ceil(p.etaSeconds),
      },
      p.done
        ? `Hashed ${plural(p.files, 'file')} (${formatBytes(p.bytes)}) at ${formatBytes(p.rate)}/s`
        : `Hashing: ${p.filesDone}/${plural(p.files, 'file')}, ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytes)}, ${formatBytes(p.rate)}/s, ETA ${eta}`,
    )
  }
}
