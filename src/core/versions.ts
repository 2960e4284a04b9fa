// PEP 440 version syntax (the "Version specifiers" spec, appendix "Parsing version strings").
// Without the surrounding whitespace the spec tolerates: these versions come from filenames.

// The spec's canonical regular expression, without named groups we do not use.
const PEP440 = new RegExp(
  '^v?' +
  '(?:(?:[0-9]+)!)?' + // epoch
  '(?:[0-9]+(?:\\.[0-9]+)*)' + // release
  '(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?:[0-9]+)?)?' + // pre-release
  '(?:(?:-(?:[0-9]+))|(?:[-_.]?(?:post|rev|r)[-_.]?(?:[0-9]+)?))?' + // post-release
  '(?:[-_.]?(?:dev)[-_.]?(?:[0-9]+)?)?' + // dev release
  '(?:\\+(?:[a-z0-9]+(?:[-_.][a-z0-9]+)*))?' + // local version label
  '$',
  'i',
)

/** True when `version` is a valid PEP 440 version string. */
export function isPep440Version (version: string): boolean {
  return PEP440.test(version)
}
