// eggserve's listening line: its first log line, whose message names the bound address (with
// --port 0 the only way to learn the port). Read from the parsed line's message, not searched
// for in the raw text: a request URL or a warning quoting the words must not be taken for it.

const LISTENING = /^eggserve listening on (http:\/\/\S+)$/

/** The address `line` (one stdout line, JSON) names if it is the listening line; undefined otherwise. */
export function listeningUrl(line: string): string | undefined {
  let record: unknown
  try {
    record = JSON.parse(line)
  } catch {
    return undefined
  }
  const msg: unknown = typeof record === 'object' && record !== null && 'msg' in record ? record.msg : undefined
  return typeof msg === 'string' ? LISTENING.exec(msg)?.[1] : undefined
}
