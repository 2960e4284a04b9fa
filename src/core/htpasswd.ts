// Apache htpasswd files: which entries eggserve can check, and which it refuses (pure parsing).

/** Hash schemes eggserve verifies. bcrypt is the one to use; the other two are weak. */
export type HashScheme = 'bcrypt' | 'apr1' | 'sha1'

/** One user of the file. */
export interface PasswordEntry {
  readonly user: string
  readonly scheme: HashScheme
  readonly hash: string
  /** 1-based line number, for messages. */
  readonly line: number
}

/** A parsed file: the usable entries, or every line that is refused. */
export type ParsedPasswordFile =
  | { readonly ok: true; readonly entries: readonly PasswordEntry[] }
  | { readonly ok: false; readonly problems: readonly string[] }

/** Schemes that are accepted with a start-up warning. */
export const WEAK_SCHEMES: ReadonlySet<HashScheme> = new Set(['apr1', 'sha1'])

// bcrypt: $2a$, $2b$, $2y$ (htpasswd -B writes $2y$), a two-digit cost, 22 salt + 31 hash characters.
const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/
// Apache MD5 (htpasswd -m): $apr1$<salt up to 8>$<22 characters>.
const APR1 = /^\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}$/
// {SHA} (htpasswd -s): base64 of an unsalted SHA-1.
const SHA1 = /^\{SHA\}[A-Za-z0-9+/]{27}=$/

/**
 * Parse an htpasswd file. Blank lines and lines starting with "#" are skipped, as Apache does.
 * Plain-text passwords and crypt(3) hashes (DES, `$1$`, `$5$`, `$6$`) are refused: every
 * problem is reported, with its line number, never with the hash itself.
 * @example parseHtpasswd('alice:$2y$05$...').ok
 */
export function parseHtpasswd(text: string): ParsedPasswordFile {
  const entries: PasswordEntry[] = []
  const problems: string[] = []
  const seen = new Set<string>()
  const lines = text.split(/\r?\n/)
  lines.forEach((raw, index) => {
    const line = index + 1
    const content = raw.trim()
    if (content === '' || content.startsWith('#')) return
    const colon = content.indexOf(':')
    if (colon <= 0) {
      problems.push(`line ${line}: expected "user:hash"`)
      return
    }
    const user = content.slice(0, colon)
    // Apache ignores anything after a second colon (a comment field some tools write).
    const hash = content.slice(colon + 1).split(':')[0] ?? ''
    const scheme = schemeOf(hash)
    if (scheme === undefined) {
      problems.push(`line ${line} (user "${user}"): ${describeRefused(hash)}; recreate it with "htpasswd -B -C 10"`)
      return
    }
    if (seen.has(user)) {
      problems.push(`line ${line}: user "${user}" appears twice`)
      return
    }
    seen.add(user)
    entries.push({ user, scheme, hash, line })
  })
  return problems.length > 0 ? { ok: false, problems } : { ok: true, entries }
}

/** The scheme of a stored hash, or undefined when eggserve does not accept it. */
export function schemeOf(hash: string): HashScheme | undefined {
  if (BCRYPT.test(hash)) return 'bcrypt'
  if (APR1.test(hash)) return 'apr1'
  if (SHA1.test(hash)) return 'sha1'
  return undefined
}

function describeRefused(hash: string): string {
  if (/^\$(1|5|6)\$/.test(hash)) return 'crypt(3) hashes ($1$, $5$, $6$) are not supported'
  if (/^\$2[aby]\$/.test(hash) || hash.startsWith('$apr1$') || hash.startsWith('{SHA}')) return 'the hash is malformed'
  if (/^[./A-Za-z0-9]{13}$/.test(hash)) return 'plain-text passwords and crypt(3) hashes are not supported'
  return 'plain-text passwords are not supported'
}
