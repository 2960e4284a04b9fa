// Cache-Control for responses that need credentials (RFC 9111 §5.2.2.7: "private" instead of "public").

/**
 * The Cache-Control value for a response only its authenticated user may see: `public` becomes
 * `private`, and `private` is added when absent, so no shared cache (a proxy) keeps it.
 * @example privateCacheControl('max-age=0, must-revalidate') // 'private, max-age=0, must-revalidate'
 */
export function privateCacheControl(value: string): string {
  const directives = value
    .split(',')
    .map((directive) => directive.trim())
    .filter((directive) => directive !== '')
  const kept = directives.filter((directive) => !/^(public|private)$/i.test(directive))
  return ['private', ...kept].join(', ')
}
