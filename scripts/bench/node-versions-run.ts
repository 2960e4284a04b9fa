// `npm run bench -- --node 20 --node 22 --node 24`: the page and download rows on several Nodes,
// side by side. One nginx and one eggserve per Node on the same tree, all started first (one at
// a time, each on an empty cache dir, until ready); then, per endpoint and round, each Node's
// eggserve is loaded in turn and then nginx, so drift on a shared machine spreads over all of
// them alike. Never two servers under load at once.
import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { nodeRuntime } from '../node-versions/runtime-cache.js'
import { wasInterrupted } from './cleanup.js'
import { getOk, pollUntil } from './http.js'
import { startNginx, type Nginx } from './nginx.js'
import type { BenchNode, NodeLoad, NodeVersionsTree } from './results.js'
import { startEggserve, type Eggserve } from './servers.js'
import { endpoints, medianRun, V1_JSON, wrkRequest, type Endpoint, type RunContext } from './tree-run.js'
import { firstWheel, projectFolder, shapeKey, type Tree } from './tree.js'
import { runWrk, type WrkResult } from './wrk.js'

/** A --node value: a supported major (its pinned runtime) or the path of a node binary. */
export async function resolveNode(value: string, log: (text: string) => void): Promise<BenchNode> {
  if (/^\d+$/.test(value)) {
    const runtime = await nodeRuntime(Number(value), { log })
    return { path: runtime.node, version: `v${runtime.version}`, source: `${runtime.spec} (npm registry)` }
  }
  let version: string
  try {
    version = execFileSync(value, ['--version'], { encoding: 'utf8' }).trim()
  } catch (err) {
    throw new Error(`--node ${value}: cannot run it (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    })
  }
  if (!/^v\d+\.\d+\.\d+/.test(version)) throw new Error(`--node ${value}: "${version}" is not a Node version`)
  return { path: value, version, source: value }
}

/** The load endpoints of --only (pages and downloads). */
function loadEndpoints(ctx: RunContext, project: string, smallFile: string): Endpoint[] {
  return endpoints(project, smallFile).filter((endpoint) => ctx.options.only.has(endpoint.name))
}

export async function benchNodeVersions(
  ctx: RunContext,
  tree: Tree,
  nodes: readonly BenchNode[],
): Promise<NodeVersionsTree> {
  const { log, options } = ctx
  const project = projectFolder(Math.floor(tree.shape.projects / 2))
  const smallFile = await firstWheel(tree.dir, project)
  const key = shapeKey(tree.shape)
  const result: NodeVersionsTree = {
    shape: tree.shape,
    files: tree.files,
    bytes: tree.bytes,
    project,
    smallFile,
    readyMs: [],
    loads: [],
  }
  const servers: Eggserve[] = []
  let nginx: Nginx | undefined
  try {
    for (const [i, node] of nodes.entries()) {
      if (wasInterrupted()) return result
      const cacheDir = join(ctx.runDir, `cache-${key}-node${i}`)
      await mkdir(cacheDir, { recursive: true })
      log(`eggserve on node ${node.version} (${node.source}), empty cache dir, until ready`)
      const server = await startEggserve({
        root: ctx.eggserveRoot,
        eggdir: tree.dir,
        cacheDir,
        logLevel: 'warn',
        env: ctx.env,
        label: `${key} node ${node.version}`,
        listenTimeoutMs: options.readyTimeoutS * 1000,
        node: node.path,
      })
      servers.push(server)
      const ready = await pollUntil(`${server.url}/health/ready`, (f) => f.status === 200, {
        intervalMs: 10,
        timeoutMs: options.readyTimeoutS * 1000,
      })
      if (ready.kind !== 'ok')
        throw new Error(`eggserve on node ${node.version} was not ready after ${options.readyTimeoutS} s`)
      result.readyMs.push(ready.at - server.spawnedAt)
      log(`  ready after ${(ready.at - server.spawnedAt).toFixed(0)} ms`)
    }
    nginx = await startNginx(tree.dir, join(ctx.runDir, `nginx-${key}`), ctx.env)
    for (const endpoint of loadEndpoints(ctx, project, smallFile)) {
      if (wasInterrupted()) break
      result.loads.push(await measureOnEach(ctx, endpoint, servers, nodes, nginx))
    }
  } finally {
    for (const server of servers) await server.stop()
    if (nginx !== undefined) await nginx.stop()
  }
  return result
}

/** One endpoint: the same bytes from every Node, then `rounds` rounds of each Node in turn and nginx. */
async function measureOnEach(
  ctx: RunContext,
  endpoint: Endpoint,
  servers: readonly Eggserve[],
  nodes: readonly BenchNode[],
  nginx: Nginx,
): Promise<NodeLoad> {
  const bodies: Buffer[] = []
  for (const server of servers) {
    const fetched = await getOk(`${server.url}${endpoint.path}`, endpoint.headers)
    if (endpoint.name === 'simple-json' && fetched.contentType?.startsWith(V1_JSON) !== true) {
      throw new Error(
        `${server.url}${endpoint.path} with Accept: ${V1_JSON} answered ${fetched.contentType ?? 'no content type'}`,
      )
    }
    bodies.push(fetched.body)
  }
  const body = bodies[0] ?? Buffer.alloc(0)
  // Every Node must send the same bytes, or the rows would not compare like with like.
  for (const [i, other] of bodies.entries()) {
    if (!other.equals(body))
      throw new Error(
        `${endpoint.path}: node ${nodes[i]?.version ?? '?'} sent other bytes than node ${nodes[0]?.version ?? '?'}`,
      )
  }
  let nginxPath = endpoint.path
  if (endpoint.staticName !== undefined) {
    await writeFile(join(nginx.staticDir, endpoint.staticName), body)
    nginxPath = `/static/${endpoint.staticName}`
  }
  const nginxUrl = `${nginx.url}${nginxPath}`
  const reference = await getOk(nginxUrl)
  if (reference.body.length !== body.length)
    throw new Error(
      `nginx's ${nginxPath} has ${reference.body.length} bytes, eggserve's ${endpoint.path} ${body.length}`,
    )

  const rounds = ctx.options.rounds
  ctx.log(
    `  wrk ${endpoint.path}${endpoint.headers.accept === undefined ? '' : ' (JSON)'} on ${nodes.map((n) => n.version).join(', ')}, then nginx; ${rounds} round${rounds > 1 ? 's' : ''}`,
  )
  const eggRounds: WrkResult[][] = servers.map(() => [])
  const nginxRounds: WrkResult[] = []
  for (let round = 0; round < rounds && !wasInterrupted(); round++) {
    for (const [i, server] of servers.entries()) {
      eggRounds[i]?.push(
        await runWrk(wrkRequest(ctx, endpoint, `${server.url}${endpoint.path}`, `node${i}-${endpoint.name}`)),
      )
    }
    nginxRounds.push(await runWrk({ ...wrkRequest(ctx, endpoint, nginxUrl, `nginx-${endpoint.name}`), headers: {} }))
  }
  const by = endpoint.kind === 'big' ? 'mbps' : 'rps'
  const eggs = eggRounds.map((runs) => medianRun(runs, by))
  const nginxResult = medianRun(nginxRounds, by)
  ctx.log(
    `    ${nodes.map((n, i) => `${n.version} ${eggs[i]?.[by].toFixed(0) ?? '-'}`).join('; ')}; nginx ${nginxResult[by].toFixed(0)} ${by === 'mbps' ? 'MB/s' : 'req/s'}`,
  )
  const request = wrkRequest(ctx, endpoint, nginxUrl, 'connections')
  return {
    name: endpoint.name,
    label: endpoint.label,
    kind: endpoint.kind,
    eggPath: endpoint.path,
    nginxPath,
    bodyBytes: body.length,
    connections: request.connections,
    eggs,
    eggRounds,
    nginx: nginxResult,
    nginxRounds,
  }
}
