// systemd readiness (Type=notify) end to end: the real daemon, started with NOTIFY_SOCKET set as
// systemd sets it, sends its messages to a real datagram socket (test/helpers/notify-socket.ts),
// and the socket receives exactly what systemd would: the scan's timeout extension, READY=1 once
// listening, the warm-up's STATUS=, RELOADING=1 (with MONOTONIC_USEC=) and READY=1 around SIGHUP,
// WATCHDOG=1 while serving, STOPPING=1 at SIGTERM. Each datagram's sender PID (SCM_CREDENTIALS)
// is eggserve's main process, as NotifyAccess=main requires; the fallback through the
// systemd-notify command, where koffi cannot load, sends from a child process instead.
import assert from 'node:assert/strict'
import { chmod, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { listenForNotifications, type NotifySocket } from '../helpers/notify-socket.js'
import { startServer } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'

// systemd-notify follows each message with BARRIER=1 (and waits for it: sd_notify_barrier(3)),
// which is its own synchronisation, not one of eggserve's messages.
const BARRIER = 'BARRIER=1'
const WATCHDOG = 'WATCHDOG=1'

/**
 * As root, the daemon runs as nobody (setpriv): root may put another process's PID in a
 * datagram's credentials (systemd-notify run by root claims its parent's), a service's dynamic
 * user may not, and the PID checks below must tell the two senders apart. `root` is made
 * traversable for nobody. Undefined when not root; null when setpriv is missing (skipped).
 */
async function unprivileged(t: TestContext, root: string): Promise<string[] | undefined | null> {
  if (process.getuid?.() !== 0) return undefined
  const setpriv = needTool(t, 'setpriv')
  if (setpriv === undefined) return null
  await chmod(root, 0o755)
  return [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups']
}

/** A temporary root with the notify listener in it, and how to run the daemon; undefined once skipped. */
async function setUp(
  t: TestContext,
): Promise<
  { readonly eggdir: string; readonly notify: NotifySocket; readonly run: { readonly wrapper?: string[] } } | undefined
> {
  const root = await tempDir(t, 'eggserve-notify-')
  const wrapper = await unprivileged(t, root)
  if (wrapper === null) return undefined
  const notify = await listenForNotifications(t, root)
  if (notify === undefined) return undefined
  return { eggdir: join(root, 'eggs'), notify, run: wrapper === undefined ? {} : { wrapper } }
}

// A module resolve hook (node:module register()), given to the daemon with NODE_OPTIONS
// --import, under which importing "koffi" fails as it does where the package or its platform's
// prebuilt binary is missing. Nothing in eggserve knows about it.
const KOFFI_FAILS = `export async function resolve(specifier, context, next) {
  if (specifier === 'koffi') {
    const err = new Error("Cannot find package 'koffi' imported from the test's resolve hook")
    err.code = 'ERR_MODULE_NOT_FOUND'
    throw err
  }
  return next(specifier, context)
}`
const WITHOUT_KOFFI = `--import=data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(KOFFI_FAILS)}`)})`,
)}`

await test('systemd hears the scan, READY=1, warm-up status, a SIGHUP reload, watchdog pings and STOPPING=1, in order, all from the main PID', async (t) => {
  const fixture = await setUp(t)
  if (fixture === undefined) return
  const { eggdir, notify, run } = fixture
  await writeDist(join(eggdir, 'alpha'), buildWheel({ name: 'alpha', version: '1.0' }))
  await writeDist(join(eggdir, 'beta'), buildWheel({ name: 'beta', version: '2.0' }))
  // WATCHDOG_USEC=400 ms: a ping every 200 ms. WATCHDOG_PID unset counts as "this process".
  const server = await startServer(t, {
    eggdir,
    args: ['--cache-dir', 'none', '--hash-workers', '0'],
    env: { NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: '400000' },
    ...run,
  })
  const mainPid = server.process.pid
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

  // Every datagram came from eggserve's main process (setpriv execs it: same PID), and none
  // from a systemd-notify child (whose BARRIER=1 datagrams carry its own PID).
  assert.deepEqual(new Set(notify.senders), new Set([mainPid]), JSON.stringify(notify.messages))
  assert.equal(notify.senders.length, notify.messages.length)
  assert.equal(notify.messages.includes(BARRIER), false)
  const own = notify.messages.filter((message) => message !== WATCHDOG)
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
  const sequence = notify.messages
  const firstReady = sequence.findIndex((message) => message.startsWith('READY=1'))
  const stopping = sequence.indexOf('STOPPING=1')
  const pings = sequence.flatMap((message, index) => (message === WATCHDOG ? [index] : []))
  assert.ok(pings.length >= 3)
  assert.ok(
    pings.every((index) => index > firstReady && index < stopping),
    `pings at ${pings.join(', ')}, READY=1 at ${firstReady}, STOPPING=1 at ${stopping}`,
  )
})

await test('an abstract notify socket ("@name") works too, and WATCHDOG_PID naming another process means no pings', async (t) => {
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
  assert.deepEqual(notify.messages, [
    'EXTEND_TIMEOUT_USEC=30000000\nSTATUS=Scanning the package store',
    `READY=1\nSTATUS=Serving ${server.url}; every file is hashed`,
    'RELOADING=1\nMONOTONIC_USEC=' + (/MONOTONIC_USEC=(\d+)/.exec(notify.messages[2] ?? '')?.[1] ?? '?'),
    `READY=1\nSTATUS=Serving ${server.url}; every file is hashed`,
    'STOPPING=1',
  ])
  assert.deepEqual(new Set(notify.senders), new Set([server.process.pid]))
})

await test('where koffi cannot load: one warning, then the same messages through systemd-notify, from a child process', async (t) => {
  if (needTool(t, 'systemd-notify') === undefined) return
  const fixture = await setUp(t)
  if (fixture === undefined) return
  const { eggdir, notify, run } = fixture
  await mkdir(eggdir)
  const server = await startServer(t, {
    eggdir,
    args: ['--cache-dir', 'none'],
    env: { NOTIFY_SOCKET: notify.address, NODE_OPTIONS: WITHOUT_KOFFI },
    ...run,
  })
  await notify.waitFor((message) => message.startsWith('READY=1'))
  assert.equal(await server.stop('SIGTERM'), 0)
  await notify.waitFor((message) => message === 'STOPPING=1')

  const warnings = server.lines.filter((line) => line.component === 'systemd-notify')
  assert.deepEqual(
    warnings.map((line) => [line.level, line.msg]),
    [
      [
        40,
        "Cannot send systemd notifications from eggserve's own process (Cannot find package 'koffi' imported from the test's resolve hook): sending them through systemd-notify, which needs NotifyAccess=all (docs/systemd.md)",
      ],
    ],
  )
  const own = notify.messages.flatMap((message, index) =>
    message === BARRIER ? [] : [{ message, sender: notify.senders[index] }],
  )
  assert.deepEqual(
    own.map(({ message }) => message),
    [
      'EXTEND_TIMEOUT_USEC=30000000\nSTATUS=Scanning the package store',
      `READY=1\nSTATUS=Serving ${server.url}; every file is hashed`,
      'STOPPING=1',
    ],
  )
  // Each message came with systemd-notify's barrier, and from a process other than eggserve's
  // main one: what systemd 252 drops under NotifyAccess=main (hence the drop-in docs/systemd.md
  // asks for), and what the PID checks above would catch.
  assert.equal(notify.messages.filter((message) => message === BARRIER).length, own.length)
  for (const { message, sender } of own)
    assert.ok(sender !== server.process.pid && sender !== undefined && sender > 0, `${message} from ${String(sender)}`)
})
