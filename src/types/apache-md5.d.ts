// apache-md5 is CommonJS (`module.exports = fn`), but its own declaration says `export default`,
// which NodeNext resolution reads as a `.default` property; this declaration says what it is.
declare module 'apache-md5' {
  /** The `$apr1$` hash of `password` with the salt of `salt` (a full hash), or a new salt. */
  export default function aprMd5 (password: string, salt?: string): string
}
