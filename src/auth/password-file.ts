// The htpasswd file, reloaded when it changes (checked at each login: one stat) and on demand (SIGHUP).
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type { FastifyBaseLogger } from 'fastify'
import { parseHtpasswd, WEAK_SCHEMES, type PasswordEntry } from '../core/htpasswd.js'
import { bcryptCost, decoysOf, type Decoys } from '../core/login-work.js'
import { describeErrno, PasswordFileError } from '../errors.js'

const SCHEME_NAMES = { apr1: '$apr1$ (Apache MD5)', sha1: '{SHA} (unsalted SHA-1)', bcrypt: 'bcrypt' } as const
// OWASP Password Storage Cheat Sheet: bcrypt "with a work factor of 10 or more". htpasswd -B
// uses 5 unless given -C.
const MIN_BCRYPT_COST = 10

/** The users of an htpasswd file, kept in step with the file. */
export class PasswordFile {
  readonly #path: string
  readonly #log: FastifyBaseLogger
  #entries: readonly PasswordEntry[]
  #userDigests: readonly Buffer[]
  #decoys: Decoys
  #stamp: string
  #generation = 1
  #checking: Promise<void> | undefined

  private constructor(path: string, log: FastifyBaseLogger, loaded: Loaded) {
    this.#path = path
    this.#log = log
    this.#entries = loaded.entries
    this.#userDigests = loaded.entries.map((entry) => digest(entry.user))
    this.#decoys = decoysOf(loaded.entries)
    this.#stamp = loaded.stamp
  }

  /**
   * Read the file; a missing or unreadable file, or any refused entry, is a PasswordFileError.
   * Weak entries are reported by warnWeak() (the daemon calls it once it listens: its first
   * log line names the address), and again at every reload.
   */
  static async load(path: string, log: FastifyBaseLogger): Promise<PasswordFile> {
    return new PasswordFile(path, log.child({ component: 'passwords' }), await read(path))
  }

  /** Changes whenever the users or their hashes may have changed. */
  get generation(): number {
    return this.#generation
  }

  /** Number of users. */
  get size(): number {
    return this.#entries.length
  }

  /** One entry of each scheme in the file (of bcrypt, the costliest): what unknown users are checked against. */
  get decoys(): Decoys {
    return this.#decoys
  }

  /**
   * The entry of `user`. Every entry is compared, in constant time per entry, so the time taken
   * does not tell whether or where the user is in the file.
   */
  lookup(user: string): PasswordEntry | undefined {
    const wanted = digest(user)
    let found: PasswordEntry | undefined
    this.#userDigests.forEach((candidate, index) => {
      if (timingSafeEqual(candidate, wanted) && found === undefined) found = this.#entries[index]
    })
    return found
  }

  /**
   * Reload when the file changed (one stat), or always with `force` (SIGHUP). A file that has
   * become unreadable or invalid is reported and the users loaded before stay in force.
   */
  refresh(force = false): Promise<void> {
    this.#checking ??= this.#refresh(force).finally(() => {
      this.#checking = undefined
    })
    return this.#checking
  }

  async #refresh(force: boolean): Promise<void> {
    try {
      if (!force && (await stampOf(this.#path)) === this.#stamp) return
      const loaded = await read(this.#path)
      this.#entries = loaded.entries
      this.#userDigests = loaded.entries.map((entry) => digest(entry.user))
      this.#decoys = decoysOf(loaded.entries)
      this.#stamp = loaded.stamp
      this.#generation++
      this.#log.info({ users: loaded.entries.length }, 'Reloaded the password file')
      this.warnWeak()
    } catch (err) {
      this.#log.error(
        { err: err instanceof PasswordFileError ? err.message : err },
        'Cannot reload the password file; keeping the users loaded before',
      )
    }
  }

  /**
   * Log a warning for each weak entry ($apr1$, {SHA}, bcrypt of a cost below 10), and when
   * there are no users at all.
   */
  warnWeak(): void {
    for (const entry of this.#entries) {
      if (WEAK_SCHEMES.has(entry.scheme)) {
        this.#log.warn(
          { user: entry.user, line: entry.line },
          `User "${entry.user}" has a weak ${SCHEME_NAMES[entry.scheme]} hash; recreate it with "htpasswd -B -C ${MIN_BCRYPT_COST}"`,
        )
      } else if (entry.scheme === 'bcrypt' && bcryptCost(entry.hash) < MIN_BCRYPT_COST) {
        const cost = bcryptCost(entry.hash)
        this.#log.warn(
          { user: entry.user, line: entry.line, cost },
          `User "${entry.user}" has a bcrypt hash of cost ${cost}, below ${MIN_BCRYPT_COST}; recreate it with "htpasswd -B -C ${MIN_BCRYPT_COST}"`,
        )
      }
    }
    if (this.#entries.length === 0) this.#log.warn('The password file has no users: nobody can log in')
  }
}

interface Loaded {
  readonly entries: readonly PasswordEntry[]
  readonly stamp: string
}

async function read(path: string): Promise<Loaded> {
  let text: string
  let stamp: string
  try {
    stamp = await stampOf(path)
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new PasswordFileError(`Cannot read the password file "${path}": ${describeErrno(err, 'file')}`, {
      cause: err,
    })
  }
  const parsed = parseHtpasswd(text)
  if (!parsed.ok) {
    throw new PasswordFileError(
      `The password file "${path}" has entries eggserve refuses: ${parsed.problems.join('; ')}`,
    )
  }
  return { entries: parsed.entries, stamp }
}

async function stampOf(path: string): Promise<string> {
  const info = await stat(path, { bigint: true })
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`
}

function digest(user: string): Buffer {
  return createHash('sha256').update(user, 'utf8').digest()
}
