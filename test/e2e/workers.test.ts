// --workers 2 end to end: the real daemon (a primary and two node:cluster workers on one port)
// with NOTIFY_SOCKET set as systemd sets it. Checked: READY=1 once, after both workers listen;
// each file hashed once on a fresh tree (the hashing counter of /metrics, which adds up every
// process's, equals the number of files); an upload through one worker listed at once with its
// digests by every worker, without anyone hashing it; SIGHUP handled once (one RELOADING=1 and
// one READY=1, each worker reloading once); a killed worker replaced, with no READY=1 for it;
// SIGTERM: one STOPPING=1, exit 0 and no worker left behind; every notification from the
// primary's own PID (what NotifyAccess=main accepts), none from a worker or a helper process.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { parseSamples, sampleValue } from '../helpers/metrics-text.js'
import { listenForNotifications } from '../helpers/notify-socket.js'
import { httpGet, runCli, startServer, type LogLine, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'
import { multipart, uploadParts } from '../helpers/upload-form.js'

const BARRIER = 'BARRIER=1'
const PROJECTS = ['alpha', 'beta', 'gamma'] as const
// Fresh connections are handed to the workers in turn (node:cluster's round-robin): this many
// requests reach each worker several times.
const REQUESTS = 12

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await probe()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(50)
  }
}

async function metric(server: ServerHandle, name: string): Promise<number | undefined> {
  const res = await httpGet(`${server.url}/metrics`)
  assert.equal(res.status, 200)
  return sampleValue(parseSamples(res.body.toString('utf8')), name)
}

function pidsOf(line: LogLine): number[] {
  const pids = line.pids
  assert.ok(Array.isArray(pids) && pids.every((pid) => typeof pid === 'number'), JSON.stringify(line))
  return pids
}

await test('--workers 2: one READY=1, one hashing per file, uploads seen by every worker, SIGHUP once, a dead worker replaced, a clean stop', async (t) => {
  const promtool = needTool(t, 'promtool')
  if (promtool === undefined) return
  const root = await tempDir(t, 'eggserve-workers-')
  const notify = await listenForNotifications(t, root)
  if (notify === undefined) return
  const eggdir = join(root, 'eggs')
  for (const name of PROJECTS) await writeDist(join(eggdir, name), buildWheel({ name, version: '1.0' }))
  const server = await startServer(t, {
    eggdir,
    args: [
      '--workers',
      '2',
      '--cache-dir',
      join(root, 'cache'),
      '--hash-workers',
      '0',
      '--metrics',
      '--authenticate',
      '.',
    ],
    env: { NOTIFY_SOCKET: notify.address },
  })
  const serving = await server.waitForLine((line) => line.msg === 'Serving' && 'pids' in line)
  const pids = pidsOf(serving)
  assert.equal(pids.length, 2)
  assert.ok(!pids.includes(server.process.pid ?? -1))
  // Both workers logged their own start; the primary's READY=1 came after both.
  // (Each process writes its own lines: the workers' may reach the pipe after the primary's.)
  const workerPids = (): Set<unknown> =>
    new Set(server.lines.filter((line) => line.msg === 'Worker serving').map((line) => line.pid))
  await waitFor('both workers serving', () => Promise.resolve(workerPids().size >= 2 ? true : undefined))
  assert.deepEqual(workerPids(), new Set(pids))

  await waitFor('/health/ready', async () =>
    (await httpGet(`${server.url}/health/ready`)).status === 200 ? true : undefined,
  )
  // Every page once from each worker (each asks the primary for facts it lacks).
  for (let i = 0; i < REQUESTS; i++) {
    const res = await httpGet(`${server.url}/simple/${PROJECTS[i % PROJECTS.length] ?? ''}/`)
    assert.equal(res.status, 200)
  }
  assert.equal(await metric(server, 'eggserve_hashed_files_total'), PROJECTS.length)
  assert.equal(await metric(server, 'eggserve_index_files'), PROJECTS.length)
  const scraped = await httpGet(`${server.url}/metrics`)
  const verdict = spawnSync(promtool, ['check', 'metrics'], { input: scraped.body, encoding: 'utf8' })
  assert.equal(verdict.status, 0, `${verdict.stdout}${verdict.stderr}`)

  // An upload through one worker: every worker lists it at once, with its digests, and nobody reads it.
  const wheel = buildWheel({ name: 'alpha', version: '2.0' })
  const form = multipart(await uploadParts(wheel, { name: 'alpha', version: '2.0' }))
  const uploaded = await fetch(`${server.url}/`, {
    method: 'POST',
    body: form.body,
    headers: { 'content-type': form.contentType },
  })
  assert.equal(uploaded.status, 200, await uploaded.text())
  const sha256 = createHash('sha256').update(wheel.bytes).digest('hex')
  for (let i = 0; i < REQUESTS; i++) {
    const page = await httpGet(`${server.url}/simple/alpha/`)
    assert.equal(page.status, 200)
    assert.ok(page.body.toString('utf8').includes(`${wheel.filename}#sha256=${sha256}`), `request ${i}`)
  }
  assert.equal(await metric(server, 'eggserve_hashed_files_total'), PROJECTS.length)

  // SIGHUP to the primary: handled once, forwarded once to each worker.
  const reloadFrom = notify.messages.length
  const reopenedBefore = server.lines.filter((line) => line.msg === 'Reopened the log file (SIGHUP)').length
  server.process.kill('SIGHUP')
  await notify.waitFor((message) => message.startsWith('READY=1'), { from: reloadFrom })
  const reopenedLines = (): LogLine[] =>
    server.lines.filter((line) => line.msg === 'Reopened the log file (SIGHUP)').slice(reopenedBefore)
  await waitFor('three reopen lines', () => Promise.resolve(reopenedLines().length >= 3 ? true : undefined))
  await sleep(200)
  const reopened = reopenedLines()
  assert.deepEqual(reopened.map((line) => line.pid).sort(), [server.process.pid, ...pids].sort())

  // A worker that dies is replaced; the service stays up and systemd hears no new READY=1.
  const [victim, survivor] = pids as [number, number]
  const crashFrom = notify.messages.length
  process.kill(victim, 'SIGKILL')
  const restarted = await server.waitForLine((line) => line.msg === 'Worker restarted', 30_000)
  assert.equal(
    server.lines.filter((line) => typeof line.msg === 'string' && line.msg.includes(`(pid ${victim}) exited`)).length,
    1,
  )
  const replacement = Number(restarted.workerPid)
  assert.ok(Number.isInteger(replacement) && replacement !== victim && alive(replacement))
  await waitFor('/health/ready after the restart', async () =>
    (await httpGet(`${server.url}/health/ready`)).status === 200 ? true : undefined,
  )
  for (let i = 0; i < REQUESTS; i++) assert.equal((await httpGet(`${server.url}/simple/beta/`)).status, 200)

  assert.equal(await server.stop('SIGTERM'), 0)
  for (const pid of [survivor, replacement]) assert.equal(alive(pid), false, `worker ${pid} is gone`)

  // The primary is the service's main PID; a systemd-notify child would add BARRIER=1 datagrams
  // with its own PID.
  assert.deepEqual(new Set(notify.senders), new Set([server.process.pid]), JSON.stringify(notify.messages))
  assert.equal(notify.messages.includes(BARRIER), false)
  const own = notify.messages.filter((message) => message !== BARRIER)
  assert.match(own[0] ?? '', /^EXTEND_TIMEOUT_USEC=30000000\nSTATUS=Starting 2 workers$/)
  assert.equal(own.filter((message) => message.startsWith('READY=1')).length, 2, JSON.stringify(own))
  assert.equal(own.filter((message) => message.startsWith('RELOADING=1')).length, 1)
  const afterCrash = notify.messages.slice(crashFrom).filter((message) => message !== BARRIER)
  assert.deepEqual(
    afterCrash.filter((message) => !message.startsWith('STATUS=')),
    ['STOPPING=1'],
    `after the crash: status lines, then STOPPING=1 once: ${JSON.stringify(own)}`,
  )
  assert.ok(afterCrash.includes(`STATUS=Restarting worker 1 (pid ${victim} exited)`))
  assert.equal(own.at(-1), 'STOPPING=1')
})

await test('--workers: a worker that cannot start stops the service, with its message once', async (t) => {
  const root = await tempDir(t, 'eggserve-workers-bad-')
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'alpha'), buildWheel({ name: 'alpha', version: '1.0' }))
  // A file in the wrong folder: a layout problem, reported by the first worker before the second starts.
  await writeDist(join(eggdir, 'beta'), buildWheel({ name: 'alpha', version: '2.0' }))
  const run = await runCli([
    '--eggdir',
    eggdir,
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--workers',
    '2',
    '--cache-dir',
    'none',
  ])
  assert.equal(run.code, 1, run.stderr)
  assert.equal(run.stderr.match(/The layout of/g)?.length, 1, run.stderr)
  assert.match(run.stdout, /A worker could not start; stopping/)
})
