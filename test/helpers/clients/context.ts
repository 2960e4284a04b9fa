// What every client group shares: the fixture, where things go, and a server (plus a tamper
// proxy in front of it) of its own, so that the server's access log is that client's alone.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { MatrixFixture } from '../matrix-fixture.js'
import { startServer, type ServerHandle } from '../spawn-server.js'
import { runCheck } from './matrix.js'
import { startTamperProxy, type TamperProxy } from './tamper-proxy.js'

/** Shared by all groups of one matrix run. */
export interface MatrixContext {
  readonly fixture: MatrixFixture
  /** Scratch space; removed after the run. */
  readonly work: string
  readonly pyenvVersions: string
  /** Limit for each client command. */
  readonly timeoutMs: number
}

/** A group's own server and the proxy in front of it. */
export interface GroupServer {
  readonly server: ServerHandle
  readonly proxy: TamperProxy
  /**
   * The PEP 503 tree (trailing slash) through the proxy, which passes everything through
   * unchanged unless armed: clients always use this, so the proxy sees what they received.
   */
  readonly index: string
}

/** Start eggserve on the fixture (with extra `args`, e.g. --simple-hash-algo md5) and a proxy to it. */
export async function startGroupServer(
  t: TestContext,
  ctx: MatrixContext,
  args: readonly string[] = [],
): Promise<GroupServer> {
  const server = await startServer(t, { eggdir: ctx.fixture.eggdir, args })
  const proxy = await startTamperProxy(t, server.url)
  return { server, proxy, index: `${proxy.url}/simple/` }
}

let counter = 0

/** A new empty directory under the run's scratch space, named for what it is for. */
export async function scratchDir(ctx: Pick<MatrixContext, 'work'>, label: string): Promise<string> {
  const dir = join(ctx.work, `${String(++counter).padStart(3, '0')}-${label.replace(/[^\w.-]+/g, '_')}`)
  await mkdir(dir, { recursive: true })
  return dir
}

/** The last check of every group: no 5xx answered to this client, and only JSON on the server's stdout. */
export async function serverCleanCheck(
  t: TestContext,
  client: string,
  servers: readonly ServerHandle[],
): Promise<void> {
  await runCheck(t, client, 'server-clean', () => {
    const problems: string[] = []
    let requests = 0
    for (const server of servers) {
      for (const line of server.lines) {
        if (line.msg !== 'request') continue
        requests++
        if (Number(line.statusCode) >= 500)
          problems.push(`${String(line.method)} ${String(line.url)} -> ${String(line.statusCode)}`)
      }
      if (server.badLines.length > 0)
        problems.push(`non-JSON log lines: ${JSON.stringify(server.badLines.slice(0, 3))}`)
    }
    if (problems.length > 0) throw new Error(`server problems: ${problems.join('; ')}`)
    return Promise.resolve(`${requests} requests, none answered 5xx`)
  })
}

/** Which PEP 691 representation a client should receive for its Accept header. */
export type PageFormat = 'json' | 'html'

const FORMAT_TYPES: Readonly<Record<PageFormat, readonly string[]>> = {
  json: ['application/vnd.pypi.simple.v1+json'],
  html: ['text/html', 'application/vnd.pypi.simple.v1+html'],
}

/**
 * Every project page (`/simple/<name>/`, 200) the client received through the proxy came in
 * the representation it should get by content negotiation (PEP 691).
 */
export async function negotiationCheck(
  t: TestContext,
  client: string,
  served: readonly GroupServer[],
  expected: PageFormat,
  why: string,
): Promise<void> {
  await runCheck(t, client, 'negotiation', () => {
    const pages = served
      .flatMap((s) => s.proxy.responses)
      .filter(
        (r) => r.status === 200 && /^\/simple\/[^/]+\/(\?.*)?$/.test(r.url) && !r.url.includes('matrix-log-marker'),
      )
    ensure(pages.length > 0, 'the client fetched no project page')
    const wrong = pages.filter(
      (r) => !FORMAT_TYPES[expected].some((type) => r.contentType.toLowerCase().startsWith(type)),
    )
    ensure(
      wrong.length === 0,
      `${why}, so it should get ${expected.toUpperCase()} pages, but got: ${wrong
        .slice(0, 5)
        .map((r) => `${r.url} as ${r.contentType || '(no Content-Type)'}`)
        .join('; ')}`,
    )
    const types = [...new Set(pages.map((r) => r.contentType))].join(', ')
    return Promise.resolve(`${pages.length} project pages, all ${types}`)
  })
}

/** Throw with `message` unless `condition`. */
export function ensure(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message)
}
