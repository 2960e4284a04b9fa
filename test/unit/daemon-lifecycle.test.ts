// The daemon's lifecycle: every transition of the pure table, then the driver running the
// effects in order (signals during start-up, a second signal while draining, SIGHUP while
// draining, the grace period, stop() twice, failures), and once with a real server.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { request } from 'node:http'
import { describe, test, type TestContext } from 'node:test'
import Fastify from 'fastify'
import {
  Lifecycle,
  transition,
  type LifecycleEffects,
  type LifecycleEvent,
  type LifecycleState,
} from '../../src/daemon/lifecycle.js'
import { memoryLogger } from '../helpers/build-app.js'

const STATES: readonly LifecycleState[] = [
  { name: 'starting' },
  { name: 'stopDeferred', signal: 'SIGTERM' },
  { name: 'serving' },
  { name: 'serving', reloads: 2 },
  { name: 'draining', signal: 'SIGTERM' },
  { name: 'forcing' },
  { name: 'releasing' },
  { name: 'flushing' },
  { name: 'stopped' },
]

const EVENTS: readonly LifecycleEvent[] = [
  { type: 'stop', signal: 'SIGINT' },
  { type: 'hangup' },
  { type: 'reloaded' },
  { type: 'started' },
  { type: 'startFailed' },
  { type: 'graceExpired' },
  { type: 'drained' },
  { type: 'released' },
  { type: 'flushed' },
]

const HANGUP = ['reopenLog', 'logReopened', 'reload']
// systemd hears of a reload only while serving: RELOADING=1 first, READY=1 once reloaded.
const NOTIFIED_HANGUP = ['notify', ...HANGUP]
const DRAIN = ['stopWatchdog', 'notify', 'logShutdown', 'startGraceTimer', 'closeServer']

/** A state's key in TABLE: its name, with the reloads still running when there are any. */
function keyOf(state: LifecycleState): string {
  return state.name === 'serving' && state.reloads !== undefined ? `serving(${state.reloads})` : state.name
}

/** Every step that does something: "state event" → [next state, effects]. Any other pair changes nothing. */
const TABLE: Readonly<Record<string, readonly [LifecycleState, readonly string[]]>> = {
  // A stop during start-up waits for it (the first signal is the one reported).
  'starting stop': [{ name: 'stopDeferred', signal: 'SIGINT' }, []],
  'starting hangup': [{ name: 'starting' }, HANGUP],
  'starting started': [{ name: 'serving' }, ['notify', 'startWatchdog']],
  'starting startFailed': [{ name: 'stopped' }, ['detachSignals', 'resolveStopped']],
  'stopDeferred hangup': [{ name: 'stopDeferred', signal: 'SIGTERM' }, HANGUP],
  'stopDeferred started': [{ name: 'draining', signal: 'SIGTERM' }, DRAIN],
  'stopDeferred startFailed': [{ name: 'stopped' }, ['detachSignals', 'resolveStopped']],
  'serving stop': [{ name: 'draining', signal: 'SIGINT' }, DRAIN],
  'serving hangup': [{ name: 'serving', reloads: 1 }, NOTIFIED_HANGUP],
  'serving(2) stop': [{ name: 'draining', signal: 'SIGINT' }, DRAIN],
  'serving(2) hangup': [{ name: 'serving', reloads: 3 }, NOTIFIED_HANGUP],
  // The first of two reloads is over: READY=1 waits for the second.
  'serving(2) reloaded': [{ name: 'serving', reloads: 1 }, []],
  // A second signal while draining stops waiting for the in-flight requests.
  'draining stop': [{ name: 'forcing' }, ['closeConnections']],
  'draining hangup': [{ name: 'draining', signal: 'SIGTERM' }, HANGUP],
  'draining graceExpired': [{ name: 'forcing' }, ['logGraceOver', 'closeConnections']],
  'draining drained': [{ name: 'releasing' }, ['clearGraceTimer', 'releaseResources']],
  'forcing stop': [{ name: 'forcing' }, ['closeConnections']],
  'forcing hangup': [{ name: 'forcing' }, HANGUP],
  'forcing graceExpired': [{ name: 'forcing' }, ['logGraceOver', 'closeConnections']],
  'forcing drained': [{ name: 'releasing' }, ['clearGraceTimer', 'releaseResources']],
  'releasing hangup': [{ name: 'releasing' }, HANGUP],
  'releasing released': [{ name: 'flushing' }, ['detachSignals', 'logStopped', 'flushLogs']],
  'flushing flushed': [{ name: 'stopped' }, ['resolveStopped']],
}

await describe('transition()', async () => {
  for (const state of STATES) {
    for (const event of EVENTS) {
      const key = `${keyOf(state)} ${event.type}`
      const [next, effects] = TABLE[key] ?? [state, []]
      await test(`${key} → ${next.name}${effects.length === 0 ? '' : `: ${effects.join(', ')}`}`, () => {
        const step = transition(state, event)
        assert.deepEqual(step.state, next)
        assert.deepEqual(
          step.effects.map((effect) => effect.type),
          effects,
        )
      })
    }
  }

  await test('the table lists only pairs that exist', () => {
    const pairs = new Set(STATES.flatMap((state) => EVENTS.map((event) => `${keyOf(state)} ${event.type}`)))
    for (const key of Object.keys(TABLE)) assert.ok(pairs.has(key), key)
  })

  await test('the shutdown line names the signal that started the stop', () => {
    const logShutdown = (step: { effects: readonly { type: string }[] }): unknown =>
      step.effects.find((effect) => effect.type === 'logShutdown')
    assert.deepEqual(logShutdown(transition({ name: 'serving' }, { type: 'stop', signal: 'SIGINT' })), {
      type: 'logShutdown',
      signal: 'SIGINT',
    })
    assert.deepEqual(logShutdown(transition({ name: 'serving' }, { type: 'stop' })), {
      type: 'logShutdown',
      signal: undefined,
    })
    assert.deepEqual(logShutdown(transition({ name: 'stopDeferred', signal: 'SIGTERM' }, { type: 'started' })), {
      type: 'logShutdown',
      signal: 'SIGTERM',
    })
  })

  await test('systemd is told READY=1 at start, RELOADING=1 then READY=1 around a reload, STOPPING=1 at the stop', () => {
    const notified = (step: { effects: readonly { type: string; status?: string }[] }): (string | undefined)[] =>
      step.effects.filter((effect) => effect.type === 'notify').map((effect) => effect.status)
    assert.deepEqual(notified(transition({ name: 'starting' }, { type: 'started' })), ['ready'])
    assert.deepEqual(notified(transition({ name: 'serving' }, { type: 'hangup' })), ['reloading'])
    assert.deepEqual(notified(transition({ name: 'serving', reloads: 1 }, { type: 'reloaded' })), ['ready'])
    assert.deepEqual(notified(transition({ name: 'serving' }, { type: 'stop' })), ['stopping'])
    assert.deepEqual(
      notified(transition({ name: 'stopDeferred', signal: 'SIGTERM' }, { type: 'started' })),
      ['stopping'],
      'a stop during start-up is never reported ready',
    )
  })
})

/** A promise settled from outside. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve = (): void => undefined
  let reject: (err: Error) => void = () => undefined
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Let promise callbacks run. */
const settle = (): Promise<void> =>
  new Promise((resolve) => {
    setImmediate(resolve)
  })

/** A Lifecycle whose effects are recorded, whose asynchronous effects the test settles, and whose signals come from an emitter. */
function harness(graceMs = 1000): {
  lifecycle: Lifecycle
  signals: EventEmitter
  calls: string[]
  /** What systemd was told (notify) and the watchdog switched on and off, in order. */
  notes: string[]
  messages: () => string[]
  logs: Record<string, unknown>[]
  server: ReturnType<typeof deferred>
  resources: ReturnType<typeof deferred>
  flush: ReturnType<typeof deferred>
} {
  const calls: string[] = []
  const notes: string[] = []
  const logs: Record<string, unknown>[] = []
  const server = deferred()
  const resources = deferred()
  const flush = deferred()
  const effects: LifecycleEffects = {
    closeServer: () => {
      calls.push('closeServer')
      return server.promise
    },
    closeConnections: () => {
      calls.push('closeConnections')
    },
    reopenLog: () => {
      calls.push('reopenLog')
    },
    reload: () => {
      calls.push('reload')
      return Promise.resolve()
    },
    releaseResources: () => {
      calls.push('releaseResources')
      return resources.promise
    },
    flushLogs: () => {
      calls.push('flushLogs')
      return flush.promise
    },
    notify: (status) => {
      notes.push(status)
    },
    watchdog: (on) => {
      notes.push(`watchdog ${on ? 'on' : 'off'}`)
    },
  }
  const lifecycle = new Lifecycle({ effects, logger: memoryLogger(logs), graceMs })
  const signals = new EventEmitter()
  lifecycle.handleSignals(signals)
  return {
    lifecycle,
    signals,
    calls,
    notes,
    logs,
    messages: () => logs.map((line) => String(line.msg)),
    server,
    resources,
    flush,
  }
}

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const

function handlerCount(signals: EventEmitter): number {
  return SIGNALS.reduce((sum, signal) => sum + signals.listenerCount(signal), 0)
}

/** The state's name (a function, so that one assertion does not narrow the type for the next). */
function phase(lifecycle: Lifecycle): string {
  return lifecycle.state.name
}

/** Whether `promise` has settled by now. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending')
  return (await Promise.race([promise.then(() => true), settle().then(() => marker)])) !== marker
}

await describe('Lifecycle', async () => {
  await test('SIGTERM during start-up: start-up ends first, then the server drains, the rest stops and "Stopped" is the last line', async () => {
    const { lifecycle, signals, calls, messages, logs, server, resources, flush } = harness()
    assert.equal(handlerCount(signals), 3, 'handlers are installed before listening')
    signals.emit('SIGTERM', 'SIGTERM')
    signals.emit('SIGINT', 'SIGINT')
    assert.deepEqual(lifecycle.state, { name: 'stopDeferred', signal: 'SIGTERM' })
    assert.deepEqual(calls, [], 'nothing is closed while starting')
    lifecycle.dispatch({ type: 'started' })
    assert.deepEqual(lifecycle.state, { name: 'draining', signal: 'SIGTERM' })
    assert.deepEqual(calls, ['closeServer'])
    assert.deepEqual(logs[0], {
      ...logs[0],
      msg: 'Shutting down: no new connections; in-flight requests may finish',
      signal: 'SIGTERM',
      graceMs: 1000,
    })
    server.resolve()
    await settle()
    assert.equal(phase(lifecycle), 'releasing')
    assert.deepEqual(calls, ['closeServer', 'releaseResources'])
    assert.equal(handlerCount(signals), 3, 'signals are handled until everything is released')
    resources.resolve()
    await settle()
    assert.equal(phase(lifecycle), 'flushing')
    assert.equal(handlerCount(signals), 0, 'handlers are removed')
    assert.deepEqual(messages().at(-1), 'Stopped')
    assert.equal(await isSettled(lifecycle.stopped), false, 'stopped waits for the log to be written out')
    flush.resolve()
    await lifecycle.stopped
    assert.equal(phase(lifecycle), 'stopped')
    assert.deepEqual(calls, ['closeServer', 'releaseResources', 'flushLogs'])
  })

  await test('a second signal while draining closes the remaining connections, and so does a third', async () => {
    const { lifecycle, signals, calls, server } = harness()
    lifecycle.dispatch({ type: 'started' })
    signals.emit('SIGTERM', 'SIGTERM')
    assert.equal(phase(lifecycle), 'draining')
    signals.emit('SIGINT', 'SIGINT')
    assert.equal(phase(lifecycle), 'forcing')
    signals.emit('SIGTERM', 'SIGTERM')
    assert.deepEqual(calls, ['closeServer', 'closeConnections', 'closeConnections'])
    server.resolve()
    await settle()
    assert.equal(phase(lifecycle), 'releasing')
  })

  await test('the grace period running out closes the remaining connections, with a warning; once the server has closed, the timer is gone', async (t: TestContext) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const { lifecycle, calls, logs, server } = harness(2000)
    lifecycle.dispatch({ type: 'started' })
    void lifecycle.stop()
    t.mock.timers.tick(1999)
    assert.deepEqual(calls, ['closeServer'])
    t.mock.timers.tick(1)
    assert.deepEqual(calls, ['closeServer', 'closeConnections'])
    assert.deepEqual(logs.at(-1), {
      ...logs.at(-1),
      level: 40,
      msg: 'Grace period over: closing the remaining connections',
      graceMs: 2000,
    })
    assert.equal(phase(lifecycle), 'forcing')
    server.resolve()
    await settle()
    assert.equal(phase(lifecycle), 'releasing')
  })

  await test('the grace timer is cleared when the server closes in time', async (t: TestContext) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const { lifecycle, calls, messages, server } = harness(2000)
    lifecycle.dispatch({ type: 'started' })
    void lifecycle.stop()
    server.resolve()
    await settle()
    t.mock.timers.tick(5000)
    assert.deepEqual(calls, ['closeServer', 'releaseResources'])
    assert.ok(!messages().includes('Grace period over: closing the remaining connections'))
  })

  await test('SIGHUP reopens the log and reloads the passwords, while draining too, without disturbing the stop', async () => {
    const { lifecycle, signals, calls, messages, server, resources, flush } = harness()
    signals.emit('SIGHUP', 'SIGHUP')
    lifecycle.dispatch({ type: 'started' })
    signals.emit('SIGHUP', 'SIGHUP')
    assert.deepEqual(calls, ['reopenLog', 'reload', 'reopenLog', 'reload'])
    void lifecycle.stop()
    signals.emit('SIGHUP', 'SIGHUP')
    assert.deepEqual(lifecycle.state, { name: 'draining', signal: undefined })
    assert.deepEqual(calls.slice(4), ['closeServer', 'reopenLog', 'reload'])
    assert.equal(messages().filter((message) => message === 'Reopened the log file (SIGHUP)').length, 3)
    server.resolve()
    resources.resolve()
    flush.resolve()
    await lifecycle.stopped
    signals.emit('SIGHUP', 'SIGHUP')
    assert.equal(calls.filter((call) => call === 'reopenLog').length, 3, 'no handler once stopped')
  })

  await test('systemd hears READY=1, RELOADING=1 and READY=1 once the reload is over, then STOPPING=1; the watchdog runs between READY and STOPPING', async () => {
    const { lifecycle, signals, notes, server, resources, flush } = harness()
    signals.emit('SIGHUP', 'SIGHUP')
    assert.deepEqual(notes, [], 'a reload during start-up is not reported')
    lifecycle.dispatch({ type: 'started' })
    assert.deepEqual(notes, ['ready', 'watchdog on'])
    signals.emit('SIGHUP', 'SIGHUP')
    assert.deepEqual(notes.slice(2), ['reloading'])
    await settle()
    assert.deepEqual(notes.slice(2), ['reloading', 'ready'], 'READY=1 once reload() has settled')
    void lifecycle.stop()
    assert.deepEqual(notes.slice(4), ['watchdog off', 'stopping'])
    server.resolve()
    resources.resolve()
    flush.resolve()
    await lifecycle.stopped
    assert.equal(notes.length, 6)
  })

  await test('a reload that fails is logged and still ends with READY=1', async () => {
    const logs: Record<string, unknown>[] = []
    const notes: string[] = []
    const lifecycle = new Lifecycle({
      logger: memoryLogger(logs),
      graceMs: 1000,
      effects: {
        closeServer: () => Promise.resolve(),
        closeConnections: () => undefined,
        reopenLog: () => undefined,
        reload: () => Promise.reject(new Error('certificate unreadable')),
        releaseResources: () => Promise.resolve(),
        flushLogs: () => Promise.resolve(),
        notify: (status) => {
          notes.push(status)
        },
        watchdog: () => undefined,
      },
    })
    lifecycle.dispatch({ type: 'started' })
    lifecycle.dispatch({ type: 'hangup' })
    await settle()
    assert.deepEqual(notes, ['ready', 'reloading', 'ready'])
    assert.ok(
      logs.some(
        (line) =>
          line.msg === 'Cannot reload' &&
          (line.err as { message?: string } | undefined)?.message === 'certificate unreadable',
      ),
    )
  })

  await test('stop() twice: both resolve when stopped; the second closes the remaining connections', async () => {
    const { lifecycle, calls, server, resources, flush } = harness()
    lifecycle.dispatch({ type: 'started' })
    const first = lifecycle.stop()
    const second = lifecycle.stop()
    assert.deepEqual(calls, ['closeServer', 'closeConnections'])
    assert.equal(await isSettled(first), false)
    server.resolve()
    resources.resolve()
    flush.resolve()
    await Promise.all([first, second])
    assert.equal(phase(lifecycle), 'stopped')
    await lifecycle.stop()
    assert.deepEqual(
      calls,
      ['closeServer', 'closeConnections', 'releaseResources', 'flushLogs'],
      'a stop once stopped does nothing',
    )
  })

  await test('a failed start removes the handlers and resolves stopped; later events change nothing', async () => {
    const { lifecycle, signals, calls } = harness()
    signals.emit('SIGTERM', 'SIGTERM')
    lifecycle.dispatch({ type: 'startFailed' })
    assert.equal(handlerCount(signals), 0)
    await lifecycle.stopped
    lifecycle.dispatch({ type: 'started' })
    assert.equal(phase(lifecycle), 'stopped')
    assert.deepEqual(calls, [])
  })

  await test('a server or a part that fails to close is logged, and the stop goes on to the end', async () => {
    const { lifecycle, calls, logs, server, resources, flush } = harness()
    lifecycle.dispatch({ type: 'started' })
    const stopped = lifecycle.stop()
    server.reject(new Error('onClose hook failed'))
    await settle()
    resources.reject(new Error('worker would not stop'))
    await settle()
    flush.resolve()
    await stopped
    assert.deepEqual(calls, ['closeServer', 'releaseResources', 'flushLogs'])
    const errors = logs
      .filter((line) => line.level === 50)
      .map((line) => [line.msg, (line.err as { message?: string } | undefined)?.message])
    assert.deepEqual(errors, [
      ['Cannot close the server', 'onClose hook failed'],
      ['Cannot stop the background work, the index or the password worker cleanly', 'worker would not stop'],
    ])
    assert.equal(logs.at(-1)?.msg, 'Stopped')
  })
})

await test('with a real server: a stop drains, a second stop ends a request that would never finish', async (t: TestContext) => {
  const app = Fastify()
  const entered = deferred()
  const hanging = deferred()
  app.get('/slow', async () => {
    entered.resolve()
    await hanging.promise
    return 'late'
  })
  t.after(async () => {
    hanging.resolve()
    await app.close()
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const calls: string[] = []
  const lifecycle = new Lifecycle({
    logger: memoryLogger([]),
    graceMs: 60_000,
    effects: {
      closeServer: () => app.close(),
      closeConnections: () => {
        app.server.closeAllConnections()
      },
      reopenLog: () => undefined,
      reload: () => Promise.resolve(),
      notify: () => undefined,
      watchdog: () => undefined,
      releaseResources: () => {
        calls.push('releaseResources')
        return Promise.resolve()
      },
      flushLogs: () => Promise.resolve(),
    },
  })
  lifecycle.dispatch({ type: 'started' })
  const outcome = new Promise<string>((resolve) => {
    const req = request(`${address}/slow`, (res) => {
      res.resume()
      res.on('end', () => {
        resolve(`status ${res.statusCode ?? 0}`)
      })
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code ?? err.message)
    })
    req.end()
  })
  await entered.promise
  void lifecycle.stop()
  await settle()
  assert.equal(phase(lifecycle), 'draining', 'the in-flight request holds the drain')
  assert.equal(calls.length, 0)
  void lifecycle.stop()
  assert.equal(await outcome, 'ECONNRESET', 'the second stop closed the connection')
  await lifecycle.stopped
  assert.deepEqual(calls, ['releaseResources'])
})
