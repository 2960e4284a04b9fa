// Yanking for a directory store (PEP 592): a sidecar `<file>.yanked` marks the
// file yanked and holds the reason; removing the sidecar un-yanks it.

/** Suffix of yank sidecars. */
export const YANK_SUFFIX = '.yanked'

/**
 * The reason a sidecar gives: its UTF-8 text on one line (control characters and runs of
 * whitespace become one space), trimmed; '' when the sidecar is empty.
 * @example yankReason(Buffer.from('broken build\n')) // 'broken build'
 */
// eslint-disable-next-line no-control-regex -- control characters are what is replaced
const SPACE_AND_CONTROL = /[\s\u0000-\u001f\u007f]+/g

export function yankReason(content: Uint8Array): string {
  return Buffer.from(content).toString('utf8').replace(SPACE_AND_CONTROL, ' ').trim()
}
