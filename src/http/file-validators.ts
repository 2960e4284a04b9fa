// A download's validators (RFC 9110 §8.8): the strong ETag and the Last-Modified date of a
// stored file, with the header form of that date. Both depend on the StoredFile alone, so they
// are computed once per StoredFile object: a file held in memory (SmallFileCache) is the same
// object on every request, and a replaced file is a new one (a new identity), whose validators
// are computed afresh. Hashing the identity and formatting the date on every request cost more
// than the synchronous stat that checks the file is unchanged (a profile of the small-file row).
import { httpDate, type Validators } from '../core/conditional.js'
import type { StoredFile } from '../storage/storage.js'
import { strongEtag } from './etag.js'

/** The validators of one stored file, and Last-Modified formatted (not yet clamped to Date). */
export interface FileValidators extends Validators {
  readonly lastModified: string
}

// Weak: an entry lives as long as its StoredFile, held by the cache or by one response.
const computed = new WeakMap<StoredFile, FileValidators>()

/** Strong entity tag from a file identity: it changes whenever the bytes may have changed. */
export function etagFor(identity: string): string {
  // The identity (device:inode:size:mtime:ctime) is opaque storage detail; send a digest of it.
  return strongEtag(identity)
}

/** The validators of `file`, computed the first time this object is asked about. */
export function fileValidators(file: StoredFile): FileValidators {
  let validators = computed.get(file)
  if (validators === undefined) {
    validators = { etag: etagFor(file.identity), lastModifiedMs: file.mtimeMs, lastModified: httpDate(file.mtimeMs) }
    computed.set(file, validators)
  }
  return validators
}
