// Who uploaded each file, for the browse UI: kept by file identity in memory and, when there is
// a cache directory, in an append-only file there (`uploaders-<hash of the eggdir>.log`, one JSON
// object per line), so it survives restarts. Nothing is written into the eggdir: its folders hold
// only what clients and operators put there. Files copied in by hand, uploaded while uploads are
// open to anyone, or uploaded before a cache was lost have no record: the UI shows no uploader.
import { createHash } from 'node:crypto'
import { appendFile, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'

/** Remembers who uploaded which file. */
export interface UploaderRecord {
  /** The authenticated user who uploaded the file with this identity. */
  record(entry: { readonly identity: string; readonly key: string; readonly user: string }): void
  /** Who uploaded the file with this identity, when known. */
  userOf(identity: string): string | undefined
}

// A damaged line (a crash in the middle of an append) is skipped; user names are short.
const MAX_USER = 256

/** The in-memory record, persisted to `file` when given. */
export class UploaderLog implements UploaderRecord {
  readonly #users = new Map<string, string>()
  readonly #file: string | undefined
  readonly #log: FastifyBaseLogger
  #writing: Promise<void> = Promise.resolve()

  private constructor(file: string | undefined, log: FastifyBaseLogger) {
    this.#file = file
    this.#log = log.child({ component: 'uploaders' })
  }

  /** A record in memory only (tests, and servers without a cache directory). */
  static memory(log: FastifyBaseLogger): UploaderLog {
    return new UploaderLog(undefined, log)
  }

  /** Open the record of the tree `root` (its cache namespace) in `dir` (the cache directory), or in memory when there is none or it cannot be read. */
  static async open(options: {
    readonly dir: string | undefined
    readonly root: string
    readonly log: FastifyBaseLogger
  }): Promise<UploaderLog> {
    if (options.dir === undefined) return UploaderLog.memory(options.log)
    const name = createHash('sha256').update(options.root).digest('hex').slice(0, 16)
    const file = join(options.dir, `uploaders-${name}.log`)
    const record = new UploaderLog(file, options.log)
    try {
      record.#load(await readFile(file, 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        options.log.warn({ err, file }, 'Cannot read the uploader record; uploaders are kept in memory from now on')
    }
    return record
  }

  record(entry: { readonly identity: string; readonly key: string; readonly user: string }): void {
    this.#users.set(entry.identity, entry.user)
    const file = this.#file
    if (file === undefined) return
    // One append per upload, in order; a failure costs only the persistence of this record.
    const line = `${JSON.stringify({ identity: entry.identity, key: entry.key, user: entry.user, time: new Date().toISOString() })}\n`
    this.#writing = this.#writing
      .then(async () => {
        await mkdir(join(file, '..'), { recursive: true })
        await appendFile(file, line, { mode: 0o600 })
      })
      .catch((err: unknown) => {
        this.#log.warn({ err, file }, 'Cannot write the uploader record')
      })
  }

  userOf(identity: string): string | undefined {
    return this.#users.get(identity)
  }

  /** Resolves once every record so far is written (for tests and shutdown). */
  flushed(): Promise<void> {
    return this.#writing
  }

  #load(text: string): void {
    for (const line of text.split('\n')) {
      if (line === '') continue
      try {
        const value: unknown = JSON.parse(line)
        if (typeof value !== 'object' || value === null || !('identity' in value) || !('user' in value)) continue
        const { identity, user } = value
        if (typeof identity === 'string' && typeof user === 'string' && user !== '' && user.length <= MAX_USER)
          this.#users.set(identity, user)
      } catch {
        // A torn last line: skipped.
      }
    }
  }
}
