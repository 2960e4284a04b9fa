// The cache file's format: a header line, then one checksummed record per line.
import { crc32 } from 'node:zlib'
import { isHashAlgorithm, type HashAlgorithm } from '../core/digests.js'
import type { FileFacts } from '../core/index-model.js'
import { FactsPacker, type StoredFileFacts } from './packed-facts.js'

const FORMAT = 'eggserve-facts 2'

/** The first line of the cache file of `namespace`. */
export function header(namespace: string): string {
  return `${FORMAT} ${namespace}\n`
}

/** What reading a cache file found. */
export interface ParsedLog {
  /** The header is not this version's, for this namespace (or there is none): nothing was read. */
  readonly foreign: boolean
  /** Records that failed their checksum, and a torn last line. */
  readonly corrupt: number
}

/** Call `onRecord` for every sound record of `bytes`, in file order; later records of an identity win. */
export function parseLog(
  bytes: Buffer,
  namespace: string,
  onRecord: (identity: string, facts: StoredFileFacts) => void,
): ParsedLog {
  const parser = new LogParser(namespace, onRecord)
  parser.feed(bytes, true)
  return parser.result()
}

/**
 * parseLog() for a file read piece by piece: the start-up read of a 100,000-record cache file
 * (24 MB) no longer holds the whole file in one buffer while the index is built.
 */
export class LogParser {
  readonly #namespace: string
  readonly #onRecord: (identity: string, facts: StoredFileFacts) => void
  /** Undefined until the header line has been read. */
  #foreign: boolean | undefined
  #corrupt = 0

  constructor(namespace: string, onRecord: (identity: string, facts: StoredFileFacts) => void) {
    this.#namespace = namespace
    this.#onRecord = onRecord
  }

  /**
   * Parse the whole lines at the start of `bytes` and say how many bytes they took: the rest
   * (a line not ended yet) is to be given again, with what follows it. `last`: nothing follows.
   */
  feed(bytes: Buffer, last: boolean): number {
    let start = 0
    if (this.#foreign === undefined) {
      const end = bytes.indexOf(10)
      if (end < 0) {
        if (last) this.#foreign = true
        return 0
      }
      this.#foreign = bytes.toString('utf8', 0, end + 1) !== header(this.#namespace)
      start = end + 1
    }
    if (this.#foreign) return bytes.length
    // Line by line from the bytes: one big string would stay alive through every slice of it.
    while (start < bytes.length) {
      const end = bytes.indexOf(10, start)
      if (end < 0) {
        if (!last) return start
        // A torn last line: a writer was killed in the middle of its write.
        this.#corrupt++
        return bytes.length
      }
      const entry = decode(bytes, start, end)
      start = end + 1
      if (entry === undefined) this.#corrupt++
      else this.#onRecord(entry.identity, entry.facts)
    }
    return start
  }

  /** What the bytes fed so far held. */
  result(): ParsedLog {
    return this.#foreign === false ? { foreign: false, corrupt: this.#corrupt } : { foreign: true, corrupt: 0 }
  }
}

// A record is one line of tab-separated fields, checksummed:
//   <crc32 hex> TAB <identity> TAB <algo>=<hex>,<algo>=<hex>... TAB <metadata sha256 or -> TAB <Requires-Python as JSON or ->
// Splitting on tabs costs a fraction of JSON.parse, which matters for 100,000 records at start-up.
// Identities and hex digests never hold a tab; Requires-Python is JSON-encoded, which escapes one.
const NONE = '-'
const NONE_BYTE = 45

export function encode(identity: string, facts: FileFacts): string {
  const digests = Object.entries(facts.digests)
    .map(([algorithm, hex]) => `${algorithm}=${hex}`)
    .join(',')
  const metadata = facts.metadata
  const body = `${identity}\t${digests}\t${metadata?.sha256 ?? NONE}\t${metadata?.requiresPython === undefined ? NONE : JSON.stringify(metadata.requiresPython)}`
  return `${checksum(body)}\t${body}\n`
}

// Fields are cut straight from the bytes: substrings of one line string would be V8 "sliced
// strings" keeping the whole line alive, for every digest of 100,000 records. The digests go
// from their hex text to the packed form the store keeps (packed-facts.ts) with no string of
// their own; a record the packed form cannot hold exactly is read into FileFacts as it says.
function decode(bytes: Buffer, start: number, end: number): { identity: string; facts: StoredFileFacts } | undefined {
  const bodyStart = start + 9
  if (end - start < 10 || bytes[start + 8] !== 9) return undefined
  if (crc32(bytes.subarray(bodyStart, end)) !== hexNumber(bytes, start, start + 8)) return undefined
  const tabs: number[] = []
  for (let i = bodyStart; i < end; i++) if (bytes[i] === 9) tabs.push(i)
  if (tabs.length !== 3) return undefined
  const [t1 = 0, t2 = 0, t3 = 0] = tabs
  const identity = bytes.toString('utf8', bodyStart, t1)
  packer.start()
  let packable = true
  for (let pair = t1 + 1; pair < t2;) {
    const comma = bytes.indexOf(44, pair)
    const pairEnd = comma < 0 || comma > t2 ? t2 : comma
    const eq = bytes.indexOf(61, pair)
    if (eq < 0 || eq > pairEnd) return undefined
    const algorithm = bytes.toString('latin1', pair, eq)
    if (!isHashAlgorithm(algorithm)) return undefined
    packable &&= packer.digest(algorithm, bytes, eq + 1, pairEnd)
    pair = pairEnd + 1
  }
  if (isNone(bytes, t2 + 1, t3))
    return { identity, facts: packable ? packer.finish() : unpacked(bytes, t1, t2, t3, end) }
  packable &&= packer.metadata(bytes, t2 + 1, t3)
  if (isNone(bytes, t3 + 1, end))
    return { identity, facts: packable ? packer.finish() : unpacked(bytes, t1, t2, t3, end) }
  const requiresPython = parseRequiresPython(bytes, t3 + 1, end)
  if (requiresPython === undefined) return undefined
  packable &&= packer.requiresPython(requiresPython)
  return { identity, facts: packable ? packer.finish() : unpacked(bytes, t1, t2, t3, end) }
}

// The number `bytes` start..end spell in lowercase hex, as checksum() writes it; -1 for anything
// else. Compared as numbers: two strings made per record to compare them cost a tenth of
// reading a 100,000-record cache file at start-up.
function hexNumber(bytes: Buffer, start: number, end: number): number {
  let value = 0
  for (let i = start; i < end; i++) {
    const c = bytes[i] ?? 0
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1
    if (digit < 0) return -1
    value = value * 16 + digit
  }
  return value
}

// One packer for every record: decode() is synchronous.
const packer = new FactsPacker()

function isNone(bytes: Buffer, start: number, end: number): boolean {
  return end - start === 1 && bytes[start] === NONE_BYTE
}

function parseRequiresPython(bytes: Buffer, start: number, end: number): string | undefined {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8', start, end))
    return typeof parsed === 'string' ? parsed : undefined
  } catch {
    return undefined
  }
}

// The facts of a sound record (decode() checked its fields) as FileFacts, field for field.
function unpacked(bytes: Buffer, t1: number, t2: number, t3: number, end: number): FileFacts {
  const digests: Partial<Record<HashAlgorithm, string>> = {}
  for (let pair = t1 + 1; pair < t2;) {
    const comma = bytes.indexOf(44, pair)
    const pairEnd = comma < 0 || comma > t2 ? t2 : comma
    const eq = bytes.indexOf(61, pair)
    digests[bytes.toString('latin1', pair, eq) as HashAlgorithm] = bytes.toString('latin1', eq + 1, pairEnd)
    pair = pairEnd + 1
  }
  if (isNone(bytes, t2 + 1, t3)) return { digests }
  const sha256 = bytes.toString('latin1', t2 + 1, t3)
  const requiresPython = isNone(bytes, t3 + 1, end) ? undefined : parseRequiresPython(bytes, t3 + 1, end)
  return { digests, metadata: requiresPython === undefined ? { sha256 } : { sha256, requiresPython } }
}

function checksum(text: string): string {
  return crc32(text).toString(16).padStart(8, '0')
}
