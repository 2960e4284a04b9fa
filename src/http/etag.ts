// The one way eggserve makes an entity tag (RFC 9110 §8.8.3): pages, a wheel's core metadata
// and distributions all send a digest, never the raw input (a file identity names its device
// and inode, which are nobody's business).
import { createHash } from 'node:crypto'

/**
 * A strong ETag: the first 27 characters of the base64url sha256 of `input` (162 bits, far
 * past any chance of two versions colliding; shorter than the full 43), in double quotes.
 * @example strongEtag('hello') // '"LPJNul-wow4m6DsqxbninhsWHlw"'
 */
export function strongEtag(input: string | Uint8Array): string {
  return `"${createHash('sha256').update(input).digest('base64url').slice(0, 27)}"`
}
