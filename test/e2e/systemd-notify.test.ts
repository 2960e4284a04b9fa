// systemd readiness (Type=notify) end to end: the real daemon, started with NOTIFY_SOCKET set as
// systemd sets it, sends its messages through the real systemd-notify to a real datagram socket
// (test/helpers/notify-socket.ts), and the socket receives exactly what systemd would: the scan's
// timeout extension, READY=1 once listening, the warm-up's STATUS=, RELOADING=1 (with
// MONOTONIC_USEC=) and READY=1 around SIGHUP, WATCHDOG=1 while serving, STOPPING=1 at SIGTERM.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { listenForNotifications } from '../helpers/notify-socket.js'
import { startServer } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'

// systemd-notify follows each message with BARRIER=1 (and waits for it: sd_notify_barrier(3)),
// which is its own synchronisation, not one of eggserve's messages.
const BARRIER = 'BARRIER=1'
const WATCHDOG = 'WATCHDOG=1'

await test('systemd hears the scan, READY=1, warm-up status, a SIGHUP reload, watchdog pings and STOPPING=1, in order', async (t) => {
  if (needTool(t, 'systemd-notify') === undefined) return
  const root = await tempDir(t, 'eggserve-notify-')
  const notify = await listenForNotifications(t, root)
  if (notify === undefined) return
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'alpha'), buildWheel({ name: 'alpha', version: '1.0' }))
  await writeDist(join(eggdir, 'beta'), buildWheel({ name: 'beta', version: '2.0' }))
  // WATCHDOG_USEC=400 ms: a ping every 200 ms. WATCHDOG_PID unset counts as "this process".
  const server = await startServer(t, {
    eggdir,
    args: ['--cache-dir', 'none', '--hash-workers', '0'],
    env: { NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: '400000' },
  })
  const serving = `Serving ${server.url}`
  // Both files are cold (no cache): READY=1 comes while they are hashed, and a STATUS= line
  // when the warm-up is over.
  await notify.waitFor((message) => message === `STATUS=${serving}; every file is hashed`)
  const pingsSoFar = (): number => notify.messages.filter((message) => message === WATCHDOG).length
  await notify.waitFor(() => pingsSoFar() >= 3)

  const beforeReload = process.hrtime.bigint() / 1000n
  const reloadFrom = notify.messages.length
  server.process.kill('SIGHUP')
  await notify.waitFor((message) => message.startsWith('READY=1'), { from: reloadFrom })
  const afterReload = process.hrtime.bigint() / 1000n
  assert.equal(await server.stop('SIGTERM'), 0)

  const own = notify.messages.filter((message) => message !== BARRIER && message !== WATCHDOG)
  assert.deepEqual(
    own.map((message) => message.replace(/^MONOTONIC_USEC=\d+$/m, 'MONOTONIC_USEC=<now>')),
    [
      'EXTEND_TIMEOUT_USEC=30000000\nSTATUS=Scanning the package store',
      `READY=1\nSTATUS=${serving}; hashing in the background: 0/2 files`,
      `STATUS=${serving}; every file is hashed`,
      'RELOADING=1\nMONOTONIC_USEC=<now>',
      `READY=1\nSTATUS=${serving}; every file is hashed`,
      'STOPPING=1',
    ],
  )
  // MONOTONIC_USEC is CLOCK_MONOTONIC in microseconds, the clock this process reads too.
  const monotonic = BigInt(/MONOTONIC_USEC=(\d+)/.exec(own[3] ?? '')?.[1] ?? '0')
  assert.ok(
    monotonic >= beforeReload && monotonic <= afterReload,
    `MONOTONIC_USEC=${monotonic} lies between ${beforeReload} and ${afterReload}`,
  )

  // Pings only while systemd watches: after READY=1, and none once STOPPING=1 is sent.
  const sequence = notify.messages.filter((message) => message !== BARRIER)
  const firstReady = sequence.findIndex((message) => message.startsWith('READY=1'))
  const stopping = sequence.indexOf('STOPPING=1')
  const pings = sequence.flatMap((message, index) => (message === WATCHDOG ? [index] : []))
  assert.ok(pings.length >= 3)
  assert.ok(
    pings.every((index) => index > firstReady && index < stopping),
    `pings at ${pings.join(', ')}, READY=1 at ${firstReady}, STOPPING=1 at ${stopping}`,
  )
  // Every message came with its barrier: systemd-notify waited for each to be received.
  assert.equal(notify.messages.filter((message) => message === BARRIER).length, sequence.length)
})

await test('an abstract notify socket ("@name") works too, and WATCHDOG_PID naming another process means no pings', async (t) => {
  if (needTool(t, 'systemd-notify') === undefined) return
  const root = await tempDir(t, 'eggserve-notify-')
  const notify = await listenForNotifications(t, root, { abstract: true })
  if (notify === undefined) return
  const server = await startServer(t, {
    eggdir: await tempDir(t, 'eggserve-notify-eggs-'),
    args: ['--cache-dir', 'none'],
    env: { NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' },
  })
  await notify.waitFor((message) => message.startsWith('READY=1'))
  // Pings would come every 100 ms: a second would carry several, were they sent.
  await sleep(1000)
  const from = notify.messages.length
  server.process.kill('SIGHUP')
  await notify.waitFor((message) => message.startsWith('READY=1'), { from })
  assert.equal(await server.stop('SIGTERM'), 0)
  await notify.waitFor((message) => message === 'STOPPING=1')
  assert.deepEqual(
    notify.messages.filter((message) => message === WATCHDOG),
    [],
  )
})
