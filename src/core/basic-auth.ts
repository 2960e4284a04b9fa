// HTTP Basic credentials (RFC 7617), parsed from an Authorization header.

/** A user name and password as sent. */
export interface BasicCredentials {
  readonly user: string
  readonly password: string
}

const MAX_HEADER = 4096

/**
 * The credentials of a `Basic` Authorization header, or undefined when there are none (absent,
 * another scheme, not base64, no colon). Credentials are decoded as UTF-8 (RFC 7617 §2.1),
 * falling back to latin-1 for bytes that are not UTF-8 (Python's requests encodes str as latin-1).
 * @example parseBasicAuth('Basic YWxpY2U6c2VjcmV0') // { user: 'alice', password: 'secret' }
 */
export function parseBasicAuth(header: string | undefined): BasicCredentials | undefined {
  if (header === undefined || header.length > MAX_HEADER) return undefined
  const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header)
  const encoded = match?.[1]
  if (encoded === undefined) return undefined
  const bytes = Buffer.from(encoded, 'base64')
  const text = decode(bytes)
  const colon = text.indexOf(':')
  if (colon < 0) return undefined
  return { user: text.slice(0, colon), password: text.slice(colon + 1) }
}

function decode(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return Buffer.from(bytes).toString('latin1')
  }
}
