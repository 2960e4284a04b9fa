// Socket activation (sd_listen_fds(3)) with systemd's own tool: systemd-socket-activate binds the
// port and passes it on as fd 3 with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES, exactly as
// systemd does for eggserve.socket.
//
// systemd-socket-activate (--accept=no) execs its command once and cannot restart it, so the
// command here is a small bash supervisor that runs eggserve again each time it exits, handing
// every run the same inherited socket with LISTEN_PID set to that run's PID: what systemd does
// across `systemctl restart eggserve` while eggserve.socket holds the port. What the restart test
// proves: requests made in a loop while eggserve stops and a new one starts all succeed, among
// them requests made while no eggserve process was running at all (they waited in the socket's
// backlog), which is only possible because eggserve serves on the socket it was given instead of
// binding a port of its own (without socket activation nothing listens on that port).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { binPath, childEnv, httpGet, parseJsonObject, type LogLine } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'

// Runs eggserve again and again; LISTEN_PID is each run's own PID ($BASHPID of the
// subshell that execs node), as sd_listen_fds(3) requires.
const SUPERVISOR = `#!/bin/bash
while :; do
  ( export LISTEN_PID=$BASHPID; exec "$NODE" "$EGGSERVE" --cache-dir none --eggdir "$EGGDIR" $EXTRA )
  # A pause between runs, so that some requests surely come while nothing runs.
  sleep 1
done
`

/** A free loopback port (bound and released; systemd-socket-activate binds it next). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve()
    }),
  )
  return port
}

interface Activated {
  readonly lines: LogLine[]
  waitForLine(predicate: (line: LogLine) => boolean): Promise<LogLine>
  readonly stderr: () => string
}

/** Start systemd-socket-activate with `args` and the supervisor; stopped (and its eggserve) after the test. */
async function activate(
  t: TestContext,
  tool: string,
  options: { args: readonly string[]; eggdir: string; root: string; extra?: string },
): Promise<Activated> {
  const supervisor = join(options.root, 'supervise.sh')
  await writeFile(supervisor, SUPERVISOR, { mode: 0o755 })
  // systemd-socket-activate passes its command no environment but LISTEN_* and what -E names.
  const env = childEnv({
    NODE: process.execPath,
    EGGSERVE: binPath,
    EGGDIR: options.eggdir,
    EXTRA: options.extra ?? '',
  })
  const passed = ['PATH', 'HOME', 'XDG_CACHE_HOME', 'NODE', 'EGGSERVE', 'EGGDIR', 'EXTRA'].flatMap((name) =>
    env[name] === undefined ? [] : [`-E`, `${name}=${env[name]}`],
  )
  const child = spawn(tool, [...options.args, ...passed, supervisor], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: LogLine[] = []
  const waiters = new Set<() => void>()
  let stderr = ''
  let pending = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk
    for (const waiter of [...waiters]) waiter()
  })
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    pending += chunk
    const parts = pending.split('\n')
    pending = parts.pop() ?? ''
    for (const part of parts) {
      const line = parseJsonObject(part)
      if (line !== undefined) lines.push(line)
    }
    for (const waiter of [...waiters]) waiter()
  })
  // 'exit', not 'close': the eggserve it ran may still hold the pipes.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve()
    })
  })
  t.after(async () => {
    // The supervisor first (so nothing restarts), then the eggserve still running (the PIDs
    // are in the log lines).
    child.kill('SIGKILL')
    await exited
    for (const pid of new Set(lines.map((line) => line.pid))) {
      if (typeof pid !== 'number') continue
      try {
        process.kill(pid, 'SIGTERM')
        t.diagnostic(`SIGTERM ${pid}`)
      } catch {
        /* gone already */
      }
    }
  })
  const waitForLine = (predicate: (line: LogLine) => boolean): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find(predicate)
        if (found === undefined) return
        clearTimeout(timer)
        waiters.delete(check)
        resolve(found)
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`no such line; stderr: ${stderr}; lines: ${JSON.stringify(lines.slice(-5))}`))
      }, 20_000)
      waiters.add(check)
      check()
    })
  // systemd-socket-activate says when the socket is bound; it runs the command at the first connection.
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (stderr.includes('Listening on')) {
        waiters.delete(check)
        resolve()
      }
    }
    waiters.add(check)
    child.once('close', () => {
      reject(new Error(`systemd-socket-activate exited: ${stderr}`))
    })
    check()
  })
  return { lines, waitForLine, stderr: () => stderr }
}

const listening = (line: LogLine): boolean =>
  typeof line.msg === 'string' && line.msg.startsWith('eggserve listening on ')

/**
 * eggserve (with `extra` flags) on a tree holding alpha, behind systemd-socket-activate on a
 * free port; undefined (the test skipped) when a tool is missing.
 */
async function activateOnAlpha(
  t: TestContext,
  extra: string,
): Promise<{ port: number; url: string; server: Activated } | undefined> {
  const tool = needTool(t, 'systemd-socket-activate')
  if (tool === undefined || needTool(t, 'bash') === undefined) return undefined
  const root = await tempDir(t, 'eggserve-activate-')
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'alpha'), buildWheel({ name: 'alpha', version: '1.0' }))
  const port = await freePort()
  const server = await activate(t, tool, { args: ['-l', `127.0.0.1:${port}`, '--fdname=http'], eggdir, root, extra })
  return { port, url: `http://127.0.0.1:${port}/simple/alpha/`, server }
}

// One process, and a primary with two workers (the primary listens on the socket and hands
// connections over; it closes its copy of the socket before the workers drain).
for (const extra of ['', '--workers 2']) {
  await test(`under systemd-socket-activate, requests made while eggserve${extra === '' ? '' : ` ${extra}`} restarts all succeed`, async (t) => {
    const activated = await activateOnAlpha(t, extra)
    if (activated === undefined) return
    const { port, url, server } = activated

    // The first connection starts eggserve (systemd-socket-activate waits for it); it is answered.
    assert.equal((await httpGet(url)).status, 200)
    const first = await server.waitForLine(listening)
    assert.equal(first.msg, `eggserve listening on http://127.0.0.1:${port}`)
    // The process systemd would stop: the single process, or the primary (its "Serving" line).
    const firstPid = (await server.waitForLine((line) => line.msg === 'Serving')).pid
    assert.equal(typeof firstPid, 'number')

    // A new request, on a new connection, every 50 ms through the restart, none waiting for the
    // one before: some are made while no eggserve runs, and wait in the socket's backlog.
    const requests: Promise<{ status: number | string; at: number }>[] = []
    let running = true
    const loop = async (): Promise<void> => {
      while (running) {
        const at = performance.now()
        requests.push(
          httpGet(url).then(
            (response) => ({ status: response.status, at }),
            (err: unknown) => ({ status: (err as NodeJS.ErrnoException).code ?? String(err), at }),
          ),
        )
        await sleep(50)
      }
    }
    const looping = loop()
    await sleep(200)
    process.kill(firstPid as number, 'SIGTERM')
    const stopped = await server.waitForLine((line) => line.pid === firstPid && line.msg === 'Stopped')
    const stoppedAt = performance.now()
    // Every line after "Stopped" is the next run's (the first run's workers exited before it).
    const next = (line: LogLine): boolean => server.lines.indexOf(line) > server.lines.indexOf(stopped)
    const second = await server.waitForLine((line) => listening(line) && next(line))
    const secondAt = performance.now()
    await server.waitForLine((line) => line.msg === 'Serving' && next(line))
    await sleep(200)
    running = false
    await looping
    const results = await Promise.all(requests)

    assert.equal(second.msg, `eggserve listening on http://127.0.0.1:${port}`, 'the new run serves the same socket')
    const failed = results.filter((result) => result.status !== 200)
    assert.deepEqual(failed, [], `${failed.length} of ${results.length} requests failed`)
    // Requests made between the old process's last line and the new one's listening line: while
    // the supervisor paused, no eggserve ran; the socket held them.
    const whileNoneRan = results.filter((result) => result.at > stoppedAt && result.at < secondAt)
    t.diagnostic(`${results.length} requests, ${whileNoneRan.length} of them made while no eggserve ran`)
    assert.ok(whileNoneRan.length >= 1, 'some requests were made while no eggserve process ran')
  })
}

await test('--workers 2 under systemd-socket-activate: the primary listens on the passed socket, both workers serve it', async (t) => {
  const activated = await activateOnAlpha(t, '--workers 2')
  if (activated === undefined) return
  const { port, url, server } = activated
  assert.equal((await httpGet(url)).status, 200)
  const serving = await server.waitForLine((line) => line.msg === 'Serving' && 'pids' in line)
  assert.equal(serving.socket, 'http')
  const pids = serving.pids as number[] // the primary's "Serving" line lists its workers' PIDs
  assert.equal(pids.length, 2)
  for (const pid of pids) {
    const line = await server.waitForLine((candidate) => listening(candidate) && candidate.pid === pid)
    assert.equal(line.msg, `eggserve listening on http://127.0.0.1:${port}`)
  }
  for (let i = 0; i < 10; i++) assert.equal((await httpGet(url)).status, 200)
})

await test('of two sockets, eggserve serves on the one named "http" and says it ignores the other', async (t) => {
  const tool = needTool(t, 'systemd-socket-activate')
  if (tool === undefined || needTool(t, 'bash') === undefined) return
  const root = await tempDir(t, 'eggserve-activate-')
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'alpha'), buildWheel({ name: 'alpha', version: '1.0' }))
  const [other, http] = [await freePort(), await freePort()]
  const server = await activate(t, tool, {
    args: ['-l', `127.0.0.1:${other}`, '-l', `127.0.0.1:${http}`, '--fdname=metrics:http'],
    eggdir,
    root,
  })
  // A connection to either socket starts the command; the page is served on "http".
  assert.equal((await httpGet(`http://127.0.0.1:${http}/simple/alpha/`)).status, 200)
  const first = await server.waitForLine(listening)
  assert.equal(first.msg, `eggserve listening on http://127.0.0.1:${http}`)
  const ignored = await server.waitForLine(
    (line) => line.msg === 'Ignoring a socket systemd passed: eggserve serves on the one named "http"',
  )
  assert.deepEqual([ignored.fd, ignored.name], [3, 'metrics'])
})
