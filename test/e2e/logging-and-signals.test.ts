// Operating the daemon: the access log (stdout or --log FILE), log rotation with SIGHUP,
// and graceful shutdown on SIGTERM/SIGINT with in-flight downloads and --shutdown-timeout.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, readFile, rename, truncate, writeFile } from 'node:fs/promises'
import { Agent, type IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { exitReport, probePath, type ExitReport } from '../helpers/exit-probe.js'
import {
  httpGet,
  openRequest,
  parseJsonObject,
  pollUntil,
  startServer,
  type LogLine,
  type ServerHandle,
} from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { ALICE, basic, writePasswords } from '../helpers/users.js'

const WHEEL = buildWheel({ name: 'logdemo', version: '1.0' })
// Big enough that the download cannot sit whole in the socket buffers of a reader that
// pauses (loopback buffers grow to a few MB), so it is really in flight at the signal.
const BIG_SIZE = 50 * 1024 * 1024
const BIG = 'bigdemo-1.0.tar.gz'

/** The parsed JSON lines of a log file (other lines kept as { raw }). */
async function readLog(path: string): Promise<LogLine[]> {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => parseJsonObject(line) ?? { raw: line })
}

/** The request line logged for `url` in `lines`, if any. */
function requestLine(lines: readonly LogLine[], url: string): LogLine | undefined {
  return lines.find((line) => line.msg === 'request' && line.url === url)
}

function assertRequestLine(
  line: LogLine | undefined,
  expected: { method: string; url: string; statusCode: number },
): void {
  assert.ok(line !== undefined, `a request line for ${expected.url}`)
  assert.equal(line.remoteAddress, '127.0.0.1', JSON.stringify(line))
  assert.equal(line.method, expected.method)
  assert.equal(line.url, expected.url)
  assert.equal(line.statusCode, expected.statusCode)
  assert.equal(typeof line.responseTime, 'number', JSON.stringify(line))
  assert.ok(Number(line.responseTime) >= 0)
}

/** A 50 MB file of non-repeating bytes (cheap to make: one random block, each copy with its index stamped in). */
function bigFile(): Buffer {
  const block = Buffer.alloc(64 * 1024)
  createHash('sha256').update('block').digest().copy(block)
  for (let offset = 32; offset < block.length; offset += 32)
    createHash('sha256')
      .update(block.subarray(offset - 32, offset))
      .digest()
      .copy(block, offset)
  const out = Buffer.allocUnsafe(BIG_SIZE)
  for (let offset = 0, index = 0; offset < BIG_SIZE; offset += block.length, index++) {
    block.copy(out, offset)
    out.writeUInt32BE(index, offset)
  }
  return out
}

/** A download read by hand: nothing is read until resume() is called. */
async function pausedDownload(
  url: string,
): Promise<{ response: IncomingMessage; received: () => number; finish: () => Promise<Buffer> }> {
  const response = await openRequest(url)
  response.pause()
  const chunks: Buffer[] = []
  let count = 0
  const done = new Promise<Buffer>((resolve, reject) => {
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      count += chunk.length
    })
    response.once('end', () => {
      resolve(Buffer.concat(chunks))
    })
    response.once('error', reject)
    response.once('aborted', () => {
      reject(new Error(`download aborted after ${count} bytes`))
    })
  })
  done.catch(() => undefined)
  return {
    response,
    received: () => count,
    finish: async () => {
      response.resume()
      return done
    },
  }
}

/**
 * GET over a raw socket that is destroyed as soon as Content-Length bytes of body arrived:
 * the response is complete, and the client does not wait for the server to hang up.
 */
async function rawGet(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0)
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
    })
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const end = received.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = received.subarray(0, end).toString('latin1')
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? NaN)
      const body = received.subarray(end + 4)
      if (body.length < length) return
      socket.destroy()
      resolve({ status: Number(head.split(' ')[1]), body })
    })
    socket.once('error', reject)
    socket.once('close', () => {
      reject(new Error(`connection closed early: ${received.length} bytes`))
    })
  })
}

/** True when a new TCP connection to the port is refused. */
async function refused(port: number): Promise<boolean> {
  const socket = connect({ host: '127.0.0.1', port })
  try {
    await once(socket, 'connect')
    return false
  } catch {
    return true
  } finally {
    socket.destroy()
  }
}

async function stopWithin(
  server: ServerHandle,
  signal: NodeJS.Signals,
  ms: number,
): Promise<{ code: number | null; elapsed: number }> {
  const started = performance.now()
  // The timer is cancelled once the process has exited, so it does not keep the test file alive.
  const timer = new AbortController()
  const deadline = sleep(ms, 'timeout' as const, { signal: timer.signal }).catch(() => 'cancelled' as const)
  const code = await Promise.race([server.stop(signal), deadline])
  timer.abort()
  assert.ok(typeof code !== 'string', `eggserve still running ${ms} ms after ${signal}; stderr: ${server.stderr}`)
  return { code, elapsed: performance.now() - started }
}

await test('requests are logged on stdout with address, method, URL, status and duration', async (t) => {
  const eggdir = await tempDir(t, 'eggserve-log-')
  await writeDist(join(eggdir, 'logdemo'), WHEEL)
  const server = await startServer(t, { eggdir })
  await httpGet(`${server.url}/logdemo/`)
  await httpGet(`${server.url}/packages/logdemo/${WHEEL.filename}`, { method: 'HEAD' })
  await httpGet(`${server.url}/nothing-here/`)
  assertRequestLine(await server.waitForLine((line) => line.url === '/logdemo/'), {
    method: 'GET',
    url: '/logdemo/',
    statusCode: 200,
  })
  assertRequestLine(await server.waitForLine((line) => line.msg === 'request' && line.method === 'HEAD'), {
    method: 'HEAD',
    url: `/packages/logdemo/${WHEEL.filename}`,
    statusCode: 200,
  })
  assertRequestLine(await server.waitForLine((line) => line.url === '/nothing-here/'), {
    method: 'GET',
    url: '/nothing-here/',
    statusCode: 404,
  })
  // One line per request, not Fastify's two.
  assert.equal(server.lines.filter((line) => line.url === '/logdemo/').length, 1)
  // SIGHUP with logs on stdout: nothing to reopen, and the server carries on.
  server.process.kill('SIGHUP')
  await server.waitForLine((line) => line.msg === 'Reopened the log file (SIGHUP)')
  assert.equal((await httpGet(`${server.url}/health`)).status, 200)
  assert.deepEqual(server.badLines, [])
  assert.equal(await server.stop(), 0, server.stderr)
})

await test('complete downloads are logged as complete, with their remote address', async (t) => {
  // Each request on its own connection (Connection: close), as pip and curl often do. The
  // client reads every byte, so every line must count them all and keep the remote address.
  const eggdir = await tempDir(t, 'eggserve-log-')
  await writeDist(join(eggdir, 'logdemo'), WHEEL)
  const server = await startServer(t, { eggdir })
  const url = `/packages/logdemo/${WHEEL.filename}`
  const rounds = 100
  for (let i = 0; i < rounds; i++) {
    // Half of them the way a client that trusts Content-Length does: it hangs up as soon as
    // it has every byte, without waiting for the server to close the connection.
    const download = i % 2 === 0 ? await httpGet(`${server.url}${url}`) : await rawGet(server.port, url)
    assert.equal(download.status, 200)
    assert.ok(download.body.equals(WHEEL.bytes), 'the client got the whole file')
  }
  await pollUntil(() => Promise.resolve(server.lines.filter((line) => line.url === url).length === rounds), 5000)
  const lines = server.lines.filter((line) => line.msg === 'request' && line.url === url)
  assert.equal(lines.length, rounds)
  const wrong = lines.filter(
    (line) =>
      typeof line.bytesSent !== 'number' || line.bytesSent < WHEEL.bytes.length || line.remoteAddress !== '127.0.0.1',
  )
  assert.equal(
    wrong.length,
    0,
    `${wrong.length} of ${rounds} complete downloads logged with too few bytes or without remoteAddress, e.g. ${JSON.stringify(wrong.slice(0, 2))}`,
  )
  assert.equal(await server.stop(), 0, server.stderr)
})

await test('a download the client abandons is still logged with its remote address', async (t) => {
  const eggdir = await tempDir(t, 'eggserve-log-')
  await writeDist(join(eggdir, 'bigdemo'), { filename: BIG, bytes: bigFile() })
  const server = await startServer(t, { eggdir })
  const download = await pausedDownload(`${server.url}/bigdemo/${BIG}`)
  assert.equal(download.response.statusCode, 200)
  download.response.destroy()
  const line = await server.waitForLine((entry) => entry.msg === 'request' && entry.url === `/bigdemo/${BIG}`)
  assert.ok(typeof line.bytesSent === 'number' && line.bytesSent < bigFile().length, JSON.stringify(line))
  assertRequestLine(line, { method: 'GET', url: `/bigdemo/${BIG}`, statusCode: 200 })
  assert.equal(await server.stop(), 0, server.stderr)
})

await test('--log FILE: request lines are appended; SIGHUP after a rename reopens FILE', async (t) => {
  const root = await tempDir(t, 'eggserve-log-')
  const eggdir = join(root, 'eggdir')
  await writeDist(join(eggdir, 'logdemo'), WHEEL)
  const logFile = join(root, 'eggserve.log')
  const previous = '{"msg":"a line from an earlier run"}\n'
  await writeFile(logFile, previous)
  const server = await startServer(t, { eggdir, args: ['--log', logFile], logFile })
  // HEAD for the file: a GET's line can wrongly lose its address (see the test above), and
  // that is not what this test is about.
  const fileUrl = `/logdemo/${WHEEL.filename}`
  assert.equal((await httpGet(`${server.url}${fileUrl}`, { method: 'HEAD' })).status, 200)
  assert.equal((await httpGet(`${server.url}/logdemo/`)).status, 200)

  const logged = await pollUntil(async () => requestLine(await readLog(logFile), '/logdemo/') !== undefined, 5000)
  assert.notEqual(logged, undefined, `no request line in ${logFile}: ${await readFile(logFile, 'utf8')}`)
  const text = await readFile(logFile, 'utf8')
  assert.ok(text.startsWith(previous), 'the earlier content is kept')
  const lines = await readLog(logFile)
  assert.match(String(lines[1]?.msg), /^eggserve listening on http:\/\/127\.0\.0\.1:\d+$/)
  assertRequestLine(requestLine(lines, fileUrl), { method: 'HEAD', url: fileUrl, statusCode: 200 })
  assertRequestLine(requestLine(lines, '/logdemo/'), { method: 'GET', url: '/logdemo/', statusCode: 200 })
  assert.equal(server.lines.length + server.badLines.length, 0, 'nothing on stdout')

  // logrotate's "create" mode: move the file away, then SIGHUP.
  const rotated = `${logFile}.1`
  await rename(logFile, rotated)
  server.process.kill('SIGHUP')
  const reopened = await pollUntil(
    async () => (await readLog(logFile)).some((line) => line.msg === 'Reopened the log file (SIGHUP)'),
    5000,
  )
  assert.notEqual(reopened, undefined, 'a fresh log file at the original path after SIGHUP')
  assert.equal((await httpGet(`${server.url}/simple/logdemo/`)).status, 200)
  const afterRotation = await pollUntil(
    async () => requestLine(await readLog(logFile), '/simple/logdemo/') !== undefined,
    5000,
  )
  assert.notEqual(afterRotation, undefined, `no request line in the new ${logFile}`)
  assert.equal(requestLine(await readLog(rotated), '/simple/logdemo/'), undefined, 'nothing new in the rotated file')
  assert.ok((await readFile(rotated, 'utf8')).startsWith(previous))

  assert.equal(await server.stop(), 0, server.stderr)
  assert.ok(
    (await readLog(logFile)).some((line) => line.msg === 'Stopped'),
    'the last line reaches the file before exit',
  )
  assert.equal(server.stderr, '')
})

// Also with --workers 2: the primary closes its listening socket, and the worker, which never
// listened itself (the primary handed it the connection), waits for that connection to end.
for (const workers of [[], ['--workers', '2']]) {
  await test(`SIGTERM during a slow 50 MB download${workers.length === 0 ? '' : ' (--workers 2)'}: the download completes and the exit code is 0`, async (t) => {
    const eggdir = await tempDir(t, 'eggserve-signal-')
    const big = bigFile()
    await writeDist(join(eggdir, 'bigdemo'), { filename: BIG, bytes: big })
    const server = await startServer(t, { eggdir, args: workers })
    const download = await pausedDownload(`${server.url}/packages/bigdemo/${BIG}`)
    assert.equal(download.response.statusCode, 200)
    assert.equal(download.response.headers['content-length'], String(BIG_SIZE))

    server.process.kill('SIGTERM')
    await server.waitForLine((line) => line.msg === 'Shutting down: no new connections; in-flight requests may finish')
    // Stopped accepting: a new connection is refused while the download is still open.
    assert.ok(await pollUntil(() => refused(server.port), 2000), 'new connections refused after SIGTERM')
    assert.equal(server.process.exitCode, null, 'still running while the download is in flight')
    // The slow client: it has read nothing yet (the rest waits in the server); now it reads everything.
    assert.ok(download.received() < BIG_SIZE)
    await sleep(300)
    // Neither the process serving the download nor the primary has stopped: each waits for its
    // connections to end first (with --workers 2 the other worker, holding none, may have).
    const stopped = server.lines.filter((line) => line.msg === 'Stopped')
    assert.ok(stopped.length < (workers.length === 0 ? 1 : 2), JSON.stringify(stopped))
    assert.ok(!stopped.some((line) => line.pid === server.process.pid))
    const body = await download.finish()
    assert.equal(body.length, BIG_SIZE)
    assert.ok(body.equals(big), "the downloaded bytes are the file's")
    assert.equal(await server.exited, 0, server.stderr)
    assert.ok(server.lines.some((line) => line.msg === 'Stopped'))
    assertRequestLine(requestLine(server.lines, `/packages/bigdemo/${BIG}`), {
      method: 'GET',
      url: `/packages/bigdemo/${BIG}`,
      statusCode: 200,
    })
  })
}

await test('--shutdown-timeout 1 with a client that never reads: exit 0 within a few seconds', async (t) => {
  const eggdir = await tempDir(t, 'eggserve-signal-')
  await writeDist(join(eggdir, 'bigdemo'), { filename: BIG, bytes: bigFile() })
  const server = await startServer(t, { eggdir, args: ['--shutdown-timeout', '1'] })
  const download = await pausedDownload(`${server.url}/bigdemo/${BIG}`)
  t.after(() => {
    download.response.destroy()
  })
  assert.equal(download.response.statusCode, 200)
  const { code, elapsed } = await stopWithin(server, 'SIGTERM', 5000)
  assert.equal(code, 0, server.stderr)
  // It waited for the grace period, then gave up on the client.
  assert.ok(elapsed >= 900, `exited after ${Math.round(elapsed)} ms, before the 1 s grace period was over`)
  t.diagnostic(`exited ${Math.round(elapsed)} ms after SIGTERM`)
  assert.ok(server.lines.some((line) => line.msg === 'Grace period over: closing the remaining connections'))
  assert.ok(download.received() < BIG_SIZE)
})

await test('SIGTERM as soon as the listening line is out still exits 0', async (t) => {
  // A supervisor (or a test) may stop the daemon as soon as it announced its address.
  const eggdir = await tempDir(t, 'eggserve-signal-')
  await writeDist(join(eggdir, 'logdemo'), WHEEL)
  const server = await startServer(t, { eggdir, untilServing: false })
  const code = await server.stop('SIGTERM')
  assert.equal(
    code,
    0,
    `exit code ${String(code)} (null: killed by the signal's default action, no handler yet); signal ${String(server.process.signalCode)}; last lines: ${JSON.stringify(server.lines)}`,
  )
})

await test('SIGTERM exits 0 even when nobody reads stdout any more', async (t) => {
  // A log collector that died (or a `| head` that had enough) leaves stdout broken (EPIPE).
  // Stopping must not depend on the logs being written.
  const eggdir = await tempDir(t, 'eggserve-signal-')
  await writeDist(join(eggdir, 'logdemo'), WHEEL)
  const server = await startServer(t, { eggdir })
  server.process.stdout?.destroy()
  await sleep(100)
  server.process.kill('SIGTERM')
  const timer = new AbortController()
  const outcome = await Promise.race([
    server.exited,
    sleep(3000, 'still running' as const, { signal: timer.signal }).catch(() => 'cancelled' as const),
  ])
  timer.abort()
  assert.equal(outcome, 0, `after SIGTERM with stdout closed: ${String(outcome)}; stderr: ${server.stderr}`)
})

await test('SIGINT exits 0', async (t) => {
  const eggdir = await tempDir(t, 'eggserve-signal-')
  await writeDist(join(eggdir, 'logdemo'), WHEEL)
  const server = await startServer(t, { eggdir })
  assert.equal((await httpGet(`${server.url}/health`)).status, 200)
  const { code } = await stopWithin(server, 'SIGINT', 5000)
  assert.equal(code, 0, server.stderr)
  assert.ok(server.lines.some((line) => line.msg === 'Stopped'))
  assert.equal(server.stderr, '')
})

await test('SIGTERM with nothing in flight exits 0 at once', async (t) => {
  const eggdir = await tempDir(t, 'eggserve-signal-')
  await writeDist(join(eggdir, 'logdemo'), WHEEL)
  const server = await startServer(t, { eggdir })
  // An idle keep-alive connection must not hold the shutdown up.
  const agent = new Agent({ keepAlive: true })
  t.after(() => {
    agent.destroy()
  })
  const response = await openRequest(`${server.url}/health`, { agent })
  assert.equal(response.headers.connection, 'keep-alive')
  response.resume()
  await once(response, 'end')
  const { code, elapsed } = await stopWithin(server, 'SIGTERM', 3000)
  assert.equal(code, 0, server.stderr)
  t.diagnostic(`exited ${Math.round(elapsed)} ms after SIGTERM`)
})

/** The probe's report, which it writes once eggserve's main() has returned; fails without one. */
function reportOf(server: ServerHandle): ExitReport {
  const report = exitReport(server.stderr)
  assert.ok(report !== undefined, `no exit report on stderr: ${server.stderr}`)
  return report
}

/**
 * Nothing but the log's own writes may be pending once main() has returned: no timer, socket,
 * server, watcher or worker thread (anything else would hold the exit back after "Stopped").
 */
function assertNothingLingers(server: ServerHandle): void {
  const report = reportOf(server)
  assert.equal(report.workers, 0, `worker threads still running after main() returned: ${JSON.stringify(report)}`)
  // A log line still being written to stdout (a pipe) is the one thing allowed.
  const others = report.resources.filter((resource) => resource !== 'FSReqCallback' && resource !== 'PipeWrap')
  assert.deepEqual(others, [], `still holding the event loop after main() returned: ${JSON.stringify(report)}`)
  assert.equal(
    server.lines.at(-1)?.msg,
    'Stopped',
    `"Stopped" is the last line: ${JSON.stringify(server.lines.slice(-4))}`,
  )
}

const PROBE = [process.execPath, '--import', 'tsx', probePath]

await test('SIGTERM before start-up is complete: start-up ends first, "Stopped" is the last line and nothing lingers', async (t) => {
  const root = await tempDir(t, 'eggserve-signal-')
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'logdemo'), WHEEL)
  // Uploads on: start-up then has a step after the listening line (looking for leftovers).
  const passwords = await writePasswords(root, [ALICE])
  const server = await startServer(t, {
    eggdir,
    args: ['-P', passwords, '--cache-dir', 'none'],
    untilServing: false,
    wrapper: PROBE,
  })
  assert.equal(await server.stop('SIGTERM'), 0, server.stderr)
  const messages = server.lines.map((line) => String(line.msg))
  assert.ok(
    messages.indexOf('Serving') < messages.indexOf('Shutting down: no new connections; in-flight requests may finish'),
    JSON.stringify(messages),
  )
  assertNothingLingers(server)
})

for (const workers of ['0', '2']) {
  await test(`SIGTERM while a huge file is being hashed (--hash-workers ${workers}): hashing stops at once and nothing lingers`, async (t) => {
    const root = await tempDir(t, 'eggserve-signal-')
    const eggdir = join(root, 'eggs')
    await writeDist(join(eggdir, 'logdemo'), WHEEL)
    // A sparse file of 1 TiB: no disk space, and minutes of hashing (zeros still have to be read).
    const huge = join(eggdir, 'huge', 'huge-1.0.tar.gz')
    await mkdir(join(eggdir, 'huge'))
    await writeFile(huge, '')
    await truncate(huge, 2 ** 40)
    const passwords = await writePasswords(root, [ALICE])
    const server = await startServer(t, {
      eggdir,
      args: ['-P', passwords, '-a', 'update,list', '--cache-dir', 'none', '--hash-workers', workers],
      wrapper: PROBE,
    })
    // Keep-alive connections, and a login (the bcrypt worker starts).
    const agent = new Agent({ keepAlive: true })
    t.after(() => {
      agent.destroy()
    })
    for (const path of ['/health', '/simple/', '/simple/logdemo/']) {
      const response = await openRequest(`${server.url}${path}`, { agent, headers: { authorization: basic(ALICE) } })
      assert.equal(response.statusCode, 200, path)
      response.resume()
      await once(response, 'end')
    }
    const pid = server.process.pid ?? 0
    const bytesRead = async (): Promise<number | undefined> => {
      const io = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => undefined)
      return io === undefined ? undefined : Number(/^rchar: (\d+)$/m.exec(io)?.[1])
    }
    // Hashing the huge file is under way.
    const before = (await bytesRead()) ?? 0
    assert.ok(
      (await pollUntil(async () => ((await bytesRead()) ?? 0) > before + 2 ** 20, 60_000)) !== undefined,
      'the server reads the huge file',
    )

    server.process.kill('SIGTERM')
    await server.waitForLine((line) => line.msg === 'Shutting down: no new connections; in-flight requests may finish')
    const atSignal = (await bytesRead()) ?? 0
    // What comes first: the exit, or another GiB read (the hashing went on: the exit waits for
    // it). No clock: a loaded machine only makes both slower.
    const state = { exited: false }
    const outcome = await Promise.race([
      server.exited.then(() => {
        state.exited = true
        return 'exited' as const
      }),
      (async () => {
        for (;;) {
          const now = await bytesRead()
          if (state.exited || now === undefined) return 'exited' as const
          if (now - atSignal > 2 ** 30) return 'still hashing' as const
          await sleep(20)
        }
      })(),
    ])
    assert.equal(
      outcome,
      'exited',
      `after SIGTERM the server read another GiB of the file it was hashing instead of stopping; last lines: ${JSON.stringify(server.lines.slice(-3))}`,
    )
    assert.equal(await server.exited, 0, server.stderr)
    assertNothingLingers(server)
  })
}
