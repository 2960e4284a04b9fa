// --workers 2 end to end: how the primary spreads connections over its workers. It hands each
// new connection to the worker holding the fewest, so a burst of keep-alive connections (wrk's
// 10, pip runs in parallel) splits 5/5 every time; node:cluster's round-robin handed them to
// whichever worker acknowledged its previous one first, and bursts split 7/3 or 3/7 by timing.
// Which worker served a connection: each connection asks for its own URL, and the worker's
// access-log line for that URL carries its PID.
import assert from 'node:assert/strict'
import { Agent } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { openRequest, runCli, startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const BURST = 10

/**
 * Open `BURST` keep-alive connections at once (one request each, all in flight together) and
 * keep them open; resolves with how many each worker PID took.
 */
async function burst(server: ServerHandle, label: string, agents: Agent[]): Promise<Map<number, number>> {
  const agent = new Agent({ keepAlive: true })
  agents.push(agent)
  const urls = Array.from({ length: BURST }, (_, index) => `/simple/alpha/?burst=${label}&connection=${index}`)
  const responses = await Promise.all(urls.map((path) => openRequest(`${server.url}${path}`, { agent })))
  const ports = new Set<number | undefined>()
  for (const response of responses) {
    assert.equal(response.statusCode, 200)
    ports.add(response.socket.localPort)
    response.resume()
  }
  assert.equal(ports.size, BURST, 'each request had a connection of its own')
  const perPid = new Map<number, number>()
  for (const url of urls) {
    const line = await server.waitForLine((candidate) => candidate.msg === 'request' && candidate.url === url)
    const pid = Number(line.pid)
    perPid.set(pid, (perPid.get(pid) ?? 0) + 1)
  }
  return perPid
}

await test("--workers 2: each burst of keep-alive connections splits 5/5; a dead worker's share goes to the other, and its replacement gets the next ones", async (t) => {
  const root = await tempDir(t, 'eggserve-balance-')
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'alpha'), buildWheel({ name: 'alpha', version: '1.0' }))
  const server = await startServer(t, {
    eggdir,
    args: ['--workers', '2', '--cache-dir', 'none', '--hash-workers', '0'],
    startTimeoutMs: 60_000,
  })
  const serving = await server.waitForLine((line) => line.msg === 'Serving' && 'pids' in line)
  const [first, second] = serving.pids as [number, number]
  const agents: Agent[] = []
  t.after(() => {
    for (const agent of agents) agent.destroy()
  })

  // Three bursts, each held open while the next comes: 5/5, 10/10, 15/15.
  for (const label of ['a', 'b', 'c']) {
    const spread = await burst(server, label, agents)
    assert.deepEqual(
      [spread.get(first), spread.get(second)],
      [BURST / 2, BURST / 2],
      `burst ${label}: ${JSON.stringify([...spread])}`,
    )
  }

  // The first worker dies with its 15 connections. Until its replacement serves, every new
  // connection goes to the survivor.
  process.kill(first, 'SIGKILL')
  await server.waitForLine((line) => typeof line.msg === 'string' && line.msg.includes(`(pid ${first}) exited`))
  const alone = await burst(server, 'alone', agents)
  assert.deepEqual([...alone], [[second, BURST]])

  // The replacement holds none and the survivor 25: the next burst goes to the replacement alone.
  const restarted = await server.waitForLine((line) => line.msg === 'Worker restarted', 30_000)
  const replacement = Number(restarted.workerPid)
  const next = await burst(server, 'next', agents)
  assert.deepEqual([...next], [[replacement, BURST]])

  assert.equal(await server.stop('SIGTERM'), 0)
})

await test('--workers 2 on a port in use: the primary cannot listen; the first worker reports it once, exit 1', async (t) => {
  const root = await tempDir(t, 'eggserve-balance-busy-')
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'alpha'), buildWheel({ name: 'alpha', version: '1.0' }))
  const first = await startServer(t, { eggdir, args: ['--cache-dir', 'none'] })
  const second = await runCli([
    ...['--eggdir', eggdir, '--port', String(first.port), '--host', '127.0.0.1'],
    ...['--workers', '2', '--cache-dir', 'none'],
  ])
  assert.equal(second.code, 1, JSON.stringify(second))
  assert.equal(
    second.stderr,
    `eggserve: Cannot listen on 127.0.0.1:${first.port}: the port is already in use\n`,
    JSON.stringify(second),
  )
  assert.match(second.stdout, /A worker could not start; stopping/)
})
