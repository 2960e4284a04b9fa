// The systemd protocols' pure parts: which sockets were passed (sd_listen_fds(3)), which one
// serves HTTP, whether and how often to ping the watchdog (sd_watchdog_enabled(3)); the notify
// socket's address (unix(7)); that the notifier does nothing at all without NOTIFY_SOCKET; and
// that a datagram sent through koffi reaches a real socket from this very process.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { httpSocket, inheritedSockets, takeInheritedSockets } from '../../src/daemon/socket-activation.js'
import { loadDatagramSender, notifySocketAddress } from '../../src/daemon/notify-datagram.js'
import { SystemdNotifier, watchdogIntervalMs } from '../../src/daemon/systemd-notify.js'
import { ListenError } from '../../src/errors.js'
import { memoryLogger } from '../helpers/build-app.js'
import { listenForNotifications } from '../helpers/notify-socket.js'
import { tempDir } from '../helpers/temp-tree.js'

await describe('inheritedSockets()', async () => {
  await test('descriptors from 3 on, named from LISTEN_FDNAMES, "unknown" where unnamed', () => {
    assert.deepEqual(inheritedSockets({ LISTEN_FDS: '2', LISTEN_PID: '7', LISTEN_FDNAMES: 'metrics:http' }, 7), [
      { fd: 3, name: 'metrics' },
      { fd: 4, name: 'http' },
    ])
    assert.deepEqual(inheritedSockets({ LISTEN_FDS: '2', LISTEN_PID: '7' }, 7), [
      { fd: 3, name: 'unknown' },
      { fd: 4, name: 'unknown' },
    ])
  })
  await test('none when unset, or when LISTEN_PID names another process (the variables were meant for a parent)', () => {
    assert.equal(inheritedSockets({}, 7), undefined)
    assert.equal(inheritedSockets({ LISTEN_FDS: '1', LISTEN_PID: '8' }, 7), undefined)
    assert.equal(inheritedSockets({ LISTEN_FDS: '1' }, 7), undefined)
  })
  await test('a count that is not one is a ListenError', () => {
    for (const count of ['0', 'x', '-1'])
      assert.throws(() => inheritedSockets({ LISTEN_FDS: count, LISTEN_PID: '7' }, 7), ListenError)
  })
  await test('the variables are removed once taken, and left alone when they are not ours', () => {
    const ours: Record<string, string | undefined> = {
      LISTEN_FDS: '1',
      LISTEN_PID: '7',
      LISTEN_FDNAMES: 'http',
      OTHER: 'x',
    }
    assert.deepEqual(takeInheritedSockets(ours, 7), [{ fd: 3, name: 'http' }])
    assert.deepEqual(ours, { OTHER: 'x' })
    const theirs: Record<string, string | undefined> = { LISTEN_FDS: '1', LISTEN_PID: '8' }
    assert.equal(takeInheritedSockets(theirs, 7), undefined)
    assert.deepEqual(theirs, { LISTEN_FDS: '1', LISTEN_PID: '8' })
  })
})

await describe('httpSocket()', async () => {
  await test('the one named "http", else the only one', () => {
    assert.deepEqual(
      httpSocket([
        { fd: 3, name: 'metrics' },
        { fd: 4, name: 'http' },
      ]),
      { fd: 4, name: 'http' },
    )
    assert.deepEqual(httpSocket([{ fd: 3, name: 'unknown' }]), { fd: 3, name: 'unknown' })
  })
  await test('several without an "http" one: a ListenError saying how to name it', () => {
    assert.throws(
      () =>
        httpSocket([
          { fd: 3, name: 'a' },
          { fd: 4, name: 'b' },
        ]),
      (err: unknown) =>
        err instanceof ListenError &&
        err.message ===
          'Cannot tell which of the 2 sockets systemd passed (a, b) to serve on: name it "http" (FileDescriptorName=http in the .socket unit)',
    )
  })
})

await describe('watchdogIntervalMs()', async () => {
  const cases: [Record<string, string>, number | undefined][] = [
    [{ WATCHDOG_USEC: '30000000' }, 15_000],
    [{ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 15_000],
    [{ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '43' }, undefined],
    [{ WATCHDOG_USEC: '0' }, undefined],
    [{ WATCHDOG_USEC: 'soon' }, undefined],
    [{}, undefined],
    [{ WATCHDOG_USEC: '1' }, 1],
  ]
  for (const [env, expected] of cases) {
    await test(`${JSON.stringify(env)} → ${String(expected)}`, () => {
      assert.equal(watchdogIntervalMs(env, 42), expected)
    })
  }
})

await test('without NOTIFY_SOCKET the notifier sends nothing and runs nothing', async () => {
  const logs: Record<string, unknown>[] = []
  // A command that does not exist: running it would log "Cannot notify systemd".
  const notifier = new SystemdNotifier({
    env: { WATCHDOG_USEC: '2000' },
    pid: 42,
    logger: memoryLogger(logs),
    command: '/nonexistent/systemd-notify',
  })
  assert.equal(notifier.enabled, false)
  notifier.ready('Serving')
  notifier.reloading()
  notifier.startWatchdog()
  notifier.stopping()
  assert.equal(
    await notifier.extendWhile(Promise.resolve('scanned'), 'Scanning', { everyMs: 1, extendMs: 3 }),
    'scanned',
  )
  await notifier.close()
  assert.deepEqual(logs, [])
})

await test('without koffi, a missing systemd-notify: each said once, and nothing more is tried', async () => {
  const logs: Record<string, unknown>[] = []
  let loads = 0
  const notifier = new SystemdNotifier({
    env: { NOTIFY_SOCKET: '/run/systemd/notify' },
    pid: 42,
    logger: memoryLogger(logs),
    command: '/nonexistent/systemd-notify',
    loadSender: () => {
      loads++
      return Promise.reject(new Error('no prebuilt binary here'))
    },
  })
  notifier.ready()
  notifier.status('one')
  notifier.status('two')
  await notifier.close()
  assert.equal(loads, 1)
  assert.deepEqual(
    logs.map((line) => line.msg),
    [
      "Cannot send systemd notifications from eggserve's own process (no prebuilt binary here): sending them through /nonexistent/systemd-notify, which needs NotifyAccess=all (docs/systemd.md)",
      'Cannot notify systemd (cannot run /nonexistent/systemd-notify: spawn /nonexistent/systemd-notify ENOENT)',
    ],
  )
})

await describe('notifySocketAddress()', async () => {
  await test('a path: AF_UNIX, then the path and its NUL', () => {
    assert.deepEqual(
      notifySocketAddress('/run/systemd/notify'),
      Buffer.concat([Buffer.from([1, 0]), Buffer.from('/run/systemd/notify\0')]),
    )
  })
  await test('"@name": sun_path starts with NUL, and the name has no terminator', () => {
    assert.deepEqual(notifySocketAddress('@sd-notify'), Buffer.from('\x01\x00\0sd-notify', 'latin1'))
  })
  await test('neither a path nor an abstract name, or longer than sun_path: undefined (systemd-notify is left to it)', () => {
    assert.equal(notifySocketAddress('vsock:2:1234'), undefined)
    assert.equal(notifySocketAddress('run/notify'), undefined)
    assert.notEqual(notifySocketAddress(`/${'x'.repeat(106)}`), undefined)
    assert.equal(notifySocketAddress(`/${'x'.repeat(107)}`), undefined)
    assert.notEqual(notifySocketAddress(`@${'x'.repeat(107)}`), undefined)
    assert.equal(notifySocketAddress(`@${'x'.repeat(108)}`), undefined)
  })
})

await test("koffi's sender: datagrams reach a real socket, path or abstract, from this process; an absent one is an error", async (t) => {
  const root = await tempDir(t, 'eggserve-datagram-')
  for (const abstract of [false, true]) {
    const notify = await listenForNotifications(t, root, { abstract })
    if (notify === undefined) return
    const send = await loadDatagramSender(notify.address)
    await send('READY=1\nSTATUS=one')
    await send('STATUS=two')
    await notify.waitFor((message) => message === 'STATUS=two')
    assert.deepEqual(notify.messages, ['READY=1\nSTATUS=one', 'STATUS=two'])
    assert.deepEqual(notify.senders, [process.pid, process.pid])
  }
  const absent = await loadDatagramSender(`${root}/nobody-listens.sock`)
  await assert.rejects(absent('READY=1'), { message: `sendto(${root}/nobody-listens.sock) failed: ENOENT` })
  await assert.rejects(loadDatagramSender('vsock:2:1'), /neither a path nor an abstract @name/)
})
