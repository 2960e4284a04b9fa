// Small HTTP helpers on Node's fetch: one-off requests and polling until a condition holds.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { wasInterrupted } from './cleanup.js'

export interface Fetched {
  readonly status: number
  readonly body: Buffer
  readonly contentType: string | undefined
}

/** GET `url` with `headers`; no Accept-Encoding (wrk sends none either), the whole body read. */
export async function get(url: string, headers: Readonly<Record<string, string>> = {}): Promise<Fetched> {
  const response = await fetch(url, { headers: { 'accept-encoding': 'identity', ...headers }, redirect: 'manual' })
  const body = Buffer.from(await response.arrayBuffer())
  return { status: response.status, body, contentType: response.headers.get('content-type') ?? undefined }
}

/** GET and require a 200, with a clear error otherwise. */
export async function getOk(url: string, headers: Readonly<Record<string, string>> = {}): Promise<Fetched> {
  const fetched = await get(url, headers)
  if (fetched.status !== 200)
    throw new Error(
      `GET ${url} answered ${fetched.status}, expected 200: ${fetched.body.subarray(0, 300).toString('utf8')}`,
    )
  return fetched
}

export type PollOutcome =
  | { readonly kind: 'ok'; readonly at: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'absent'; readonly status: number }

/**
 * Poll `url` every `intervalMs` until `accept` says yes (returns performance.now() of that
 * response's arrival). A status in `absentStatuses` on the first answer means the endpoint
 * does not exist in this build.
 */
export async function pollUntil(
  url: string,
  accept: (fetched: Fetched) => boolean,
  options: {
    readonly intervalMs: number
    readonly timeoutMs: number
    readonly absentStatuses?: readonly number[]
    readonly headers?: Readonly<Record<string, string>>
  },
): Promise<PollOutcome> {
  const deadline = performance.now() + options.timeoutMs
  let first = true
  while (performance.now() < deadline && !wasInterrupted()) {
    let fetched: Fetched | undefined
    try {
      fetched = await get(url, options.headers)
    } catch {
      // Not answering yet (or a reset): keep polling.
    }
    if (fetched !== undefined) {
      const at = performance.now()
      if (first && options.absentStatuses?.includes(fetched.status) === true)
        return { kind: 'absent', status: fetched.status }
      first = false
      if (accept(fetched)) return { kind: 'ok', at }
    }
    await sleep(options.intervalMs)
  }
  return { kind: 'timeout' }
}
