// Who uploaded a file: a sidecar `<file>.uploader` written by the upload API next to the file
// it publishes, holding the authenticated user name. Files put in place by other means (copied
// into the eggdir, or uploaded while uploads were open to anyone) have none: the UI then shows no uploader.

/** Suffix of uploader sidecars. */
export const UPLOADER_SUFFIX = '.uploader'

/** Longest user name kept (htpasswd names are short; this only bounds a damaged file). */
export const MAX_UPLOADER_BYTES = 256

/**
 * The user name a sidecar holds: its UTF-8 text on one line, control characters removed, trimmed;
 * undefined when empty.
 * @example uploaderName(Buffer.from('alice\n')) // 'alice'
 */
export function uploaderName (content: Uint8Array): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  const name = Buffer.from(content).toString('utf8').replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim()
  return name === '' ? undefined : name
}
