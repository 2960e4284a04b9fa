// What the server saw a client do, read from eggserve's own access log: one
// {"msg":"request","method","url","statusCode"} line per request, per client group (each
// group gets its own server, so every line there is that client's).
import { httpGet, type ServerHandle } from '../spawn-server.js'

/** One logged request. */
export interface LoggedRequest {
  readonly method: string
  readonly url: string
  readonly status: number
}

let markers = 0

/** A position in the server's log; pass it to {@link requestsSince}. */
export function mark(server: ServerHandle): number {
  return server.lines.length
}

/**
 * Every request logged since `since`, once the log has caught up: a request's line is
 * written when its response closes, a moment after the client may have exited. A marker
 * request of our own is sent and waited for; the client's requests closed before it began.
 */
export async function requestsSince(server: ServerHandle, since: number): Promise<LoggedRequest[]> {
  const marker = `/simple/matrix-log-marker-${process.pid}-${++markers}/`
  await httpGet(`${server.url}${marker}`)
  await server.waitForLine((line) => line.msg === 'request' && line.url === marker, 10_000)
  const found: LoggedRequest[] = []
  for (const line of server.lines.slice(since)) {
    if (line.msg !== 'request' || line.url === marker) continue
    found.push({ method: String(line.method), url: String(line.url), status: Number(line.statusCode) })
  }
  return found
}

/** "GET /url 200" lines, for messages. */
export function formatRequests(requests: readonly LoggedRequest[]): string {
  return requests.map((r) => `${r.method} ${r.url} ${r.status}`).join('\n')
}

/** The last path segment, percent-decoded: the filename of a file URL. */
export function lastSegment(url: string): string {
  const path = url.split('?')[0] ?? url
  const segment = path.slice(path.lastIndexOf('/') + 1)
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
