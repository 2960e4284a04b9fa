// The Host header's syntax (RFC 9110 §7.2: Host = uri-host [ ":" port ], with uri-host and
// port from RFC 3986 §3.2.2 and §3.2.3). A server answers 400 to anything else (RFC 9112 §3.2).

// reg-name = *( unreserved / pct-encoded / sub-delims ), which covers IPv4address too.
const REG_NAME_AND_PORT = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*(?::[0-9]*)?$/
// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
const IPV_FUTURE = /^[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/
const PORT = /^(?::[0-9]*)?$/
const H16 = /^[0-9A-Fa-f]{1,4}$/
const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/

/**
 * True when `value` is a syntactically valid Host field value: a registered name or IPv4
 * address, or a bracketed IPv6 / IPvFuture literal, with an optional port. It may be empty
 * (a target URI without authority), which leaves nothing to build URLs from.
 * @example isValidHost('pypi.example.com:8080') // true
 * @example isValidHost('[::1]:31001') // true
 * @example isValidHost('a.example, b.example') // false
 */
export function isValidHost(value: string): boolean {
  if (!value.startsWith('[')) return REG_NAME_AND_PORT.test(value)
  const close = value.indexOf(']')
  if (close < 0 || !PORT.test(value.slice(close + 1))) return false
  const literal = value.slice(1, close)
  return IPV_FUTURE.test(literal) || isIPv6Address(literal)
}

/**
 * RFC 3986 IPv6address: eight 16-bit groups, the last two possibly an IPv4 address, with at
 * most one "::" standing for one or more zero groups. No zone identifier.
 */
export function isIPv6Address(value: string): boolean {
  const halves = value.split('::')
  if (halves.length > 2) return false
  const groups = (half: string | undefined): string[] => (half === undefined || half === '' ? [] : half.split(':'))
  const head = groups(halves[0])
  const tail = groups(halves[1])
  const all = [...head, ...tail]
  // An IPv4 address may only end the address (not precede a final "::"), and counts for two groups.
  const last = (halves.length === 2 ? tail : head).at(-1)
  const ipv4 = last?.includes('.') === true
  if (ipv4 && !IPV4.test(last)) return false
  const hex = ipv4 ? all.slice(0, -1) : all
  if (!hex.every((group) => H16.test(group))) return false
  const count = hex.length + (ipv4 ? 2 : 0)
  return halves.length === 2 ? count <= 7 : count === 8
}
