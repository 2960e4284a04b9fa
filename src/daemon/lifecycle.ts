// The daemon's life from start-up to exit as an explicit state machine: which event (a signal,
// close(), the end of start-up, the server having closed, the grace period running out) does
// what in which state. transition() is pure; Lifecycle runs the effects it names through
// injected functions, so every path can be tested without a process, a socket or a clock.
// New behaviour belongs in the table: another effect on a transition or another event, not a
// flag in a closure. systemd's notifications (READY=1, RELOADING=1, STOPPING=1, the watchdog)
// are effects of the transitions they report.
import type { FastifyBaseLogger } from 'fastify'

/** Where the daemon is. */
export type LifecycleState =
  /** Building the app, listening, logging the start-up notes. Signals are handled already. */
  | { readonly name: 'starting' }
  /**
   * A stop came during start-up. Start-up finishes first, so that nothing (watching, background
   * hashing, a log line) starts after "Stopped"; then the stop is carried out.
   */
  | { readonly name: 'stopDeferred'; readonly signal: string | undefined }
  /**
   * Start-up complete: serving requests. `reloads` counts SIGHUP reloads still running: systemd
   * hears READY=1 again once the last one is over (absent: none).
   */
  | { readonly name: 'serving'; readonly reloads?: number }
  /** No new connections; in-flight requests may finish until the grace period is over. */
  | { readonly name: 'draining'; readonly signal: string | undefined }
  /** The grace period is over or a second stop came: the remaining connections are closed. */
  | { readonly name: 'forcing' }
  /** The server has closed: background work, the index and the password worker stop. */
  | { readonly name: 'releasing' }
  /** Signals are no longer handled; "Stopped" is logged and the log written out. */
  | { readonly name: 'flushing' }
  /** Nothing is left running. */
  | { readonly name: 'stopped' }

/** What happens to the daemon. */
export type LifecycleEvent =
  /** SIGTERM, SIGINT (`signal` names it) or close(). */
  | { readonly type: 'stop'; readonly signal?: string | undefined }
  /** SIGHUP: reopen the log file (logrotate moved it), re-read the password file and the TLS certificate. */
  | { readonly type: 'hangup' }
  /** reload() is over. */
  | { readonly type: 'reloaded' }
  /** Start-up is complete. */
  | { readonly type: 'started' }
  /** Start-up failed (the port is in use): the caller cleans up and reports the error. */
  | { readonly type: 'startFailed' }
  | { readonly type: 'graceExpired' }
  /** The server has closed: every connection has ended. */
  | { readonly type: 'drained' }
  /** releaseResources() is over. */
  | { readonly type: 'released' }
  /** flushLogs() is over. */
  | { readonly type: 'flushed' }

/** What a transition asks for, in order. */
export type LifecycleEffect =
  | { readonly type: 'logShutdown'; readonly signal: string | undefined }
  | { readonly type: 'startGraceTimer' }
  | { readonly type: 'clearGraceTimer' }
  | { readonly type: 'closeServer' }
  | { readonly type: 'logGraceOver' }
  | { readonly type: 'closeConnections' }
  | { readonly type: 'reopenLog' }
  | { readonly type: 'logReopened' }
  | { readonly type: 'reload' }
  | { readonly type: 'releaseResources' }
  | { readonly type: 'detachSignals' }
  | { readonly type: 'logStopped' }
  | { readonly type: 'flushLogs' }
  | { readonly type: 'resolveStopped' }
  /** Tell systemd (sd_notify(3)): READY=1, RELOADING=1 or STOPPING=1. */
  | { readonly type: 'notify'; readonly status: ServiceStatus }
  | { readonly type: 'startWatchdog' }
  | { readonly type: 'stopWatchdog' }

/** What systemd is told about the service (Type=notify). */
export type ServiceStatus = 'ready' | 'reloading' | 'stopping'

/** The next state and the effects that go with the step. */
export interface Transition {
  readonly state: LifecycleState
  readonly effects: readonly LifecycleEffect[]
}

const STAY = (state: LifecycleState): Transition => ({ state, effects: [] })

function beginDraining(signal: string | undefined): Transition {
  return {
    state: { name: 'draining', signal },
    effects: [
      { type: 'stopWatchdog' },
      { type: 'notify', status: 'stopping' },
      { type: 'logShutdown', signal },
      { type: 'startGraceTimer' },
      { type: 'closeServer' },
    ],
  }
}

/** The step `event` makes from `state`. An event that means nothing in a state changes nothing. */
export function transition(state: LifecycleState, event: LifecycleEvent): Transition {
  switch (event.type) {
    case 'stop':
      return onStop(state, event.signal)
    case 'hangup':
      return onHangup(state)
    case 'reloaded': {
      if (state.name !== 'serving' || state.reloads === undefined) return STAY(state)
      // READY=1 once the last reload running is over (sd_notify(3): RELOADING=1 ... READY=1).
      if (state.reloads > 1) return STAY({ name: 'serving', reloads: state.reloads - 1 })
      return { state: { name: 'serving' }, effects: [{ type: 'notify', status: 'ready' }] }
    }
    case 'started':
      if (state.name === 'starting')
        return { state: { name: 'serving' }, effects: [{ type: 'notify', status: 'ready' }, { type: 'startWatchdog' }] }
      if (state.name === 'stopDeferred') return beginDraining(state.signal)
      return STAY(state)
    case 'startFailed':
      if (state.name !== 'starting' && state.name !== 'stopDeferred') return STAY(state)
      return { state: { name: 'stopped' }, effects: [{ type: 'detachSignals' }, { type: 'resolveStopped' }] }
    case 'graceExpired':
      // In 'forcing' too: a second signal closed the connections, but the server has not closed yet.
      if (state.name !== 'draining' && state.name !== 'forcing') return STAY(state)
      return { state: { name: 'forcing' }, effects: [{ type: 'logGraceOver' }, { type: 'closeConnections' }] }
    case 'drained':
      if (state.name !== 'draining' && state.name !== 'forcing') return STAY(state)
      return { state: { name: 'releasing' }, effects: [{ type: 'clearGraceTimer' }, { type: 'releaseResources' }] }
    case 'released':
      if (state.name !== 'releasing') return STAY(state)
      return {
        state: { name: 'flushing' },
        effects: [{ type: 'detachSignals' }, { type: 'logStopped' }, { type: 'flushLogs' }],
      }
    case 'flushed':
      if (state.name !== 'flushing') return STAY(state)
      return { state: { name: 'stopped' }, effects: [{ type: 'resolveStopped' }] }
  }
}

function onHangup(state: LifecycleState): Transition {
  // Until the handlers are removed, SIGHUP works in every state: a log rotated during a long
  // drain is reopened too. Open connections are not touched: only later logins see new users,
  // only new TLS handshakes the new certificate.
  if (state.name === 'flushing' || state.name === 'stopped') return STAY(state)
  const reload: LifecycleEffect[] = [{ type: 'reopenLog' }, { type: 'logReopened' }, { type: 'reload' }]
  // systemd hears of reloads only while the service is up: not before READY=1, not once stopping.
  if (state.name !== 'serving') return { state, effects: reload }
  return {
    state: { name: 'serving', reloads: (state.reloads ?? 0) + 1 },
    effects: [{ type: 'notify', status: 'reloading' }, ...reload],
  }
}

function onStop(state: LifecycleState, signal: string | undefined): Transition {
  switch (state.name) {
    // The first stop's signal is the one reported.
    case 'starting':
      return STAY({ name: 'stopDeferred', signal })
    case 'serving':
      return beginDraining(signal)
    // A second stop while draining: stop waiting for the in-flight requests.
    case 'draining':
    case 'forcing':
      return { state: { name: 'forcing' }, effects: [{ type: 'closeConnections' }] }
    default:
      return STAY(state)
  }
}

/** The work behind the effects: the daemon's parts, or a test's recorders. */
export interface LifecycleEffects {
  /**
   * Stop accepting connections, and end each keep-alive connection once its response in flight
   * is over; settles once every connection has ended.
   */
  closeServer(): Promise<void>
  /** End the connections still open, in-flight requests included. */
  closeConnections(): void
  /** Reopen the log file; a no-op for stdout. */
  reopenLog(): void
  /** Re-read what may have changed on disk (the password file, the TLS certificate); settles when done. */
  reload(): Promise<void>
  /** Stop background work, the index services and the password worker. */
  releaseResources(): Promise<void>
  /** Write out what the log has buffered. */
  flushLogs(): Promise<void>
  /** Tell systemd; a no-op unless it listens (NOTIFY_SOCKET). */
  notify(status: ServiceStatus): void
  /** Start (true) or stop (false) pinging systemd's watchdog, when WatchdogSec= asks for it. */
  watchdog(on: boolean): void
}

/** Where signals come from: `process`, or an EventEmitter in tests. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
}

/** Options of Lifecycle. */
export interface LifecycleOptions {
  readonly effects: LifecycleEffects
  readonly logger: FastifyBaseLogger
  /** How long in-flight requests may run after a stop (--shutdown-timeout). */
  readonly graceMs: number
}

/** The state machine at work: holds the state, runs each transition's effects, owns the grace timer. */
export class Lifecycle {
  readonly #effects: LifecycleEffects
  readonly #logger: FastifyBaseLogger
  readonly #graceMs: number
  #state: LifecycleState = { name: 'starting' }
  #graceTimer: NodeJS.Timeout | undefined
  #detach: (() => void) | undefined
  #resolveStopped: () => void = () => undefined
  /** Resolves once the daemon has stopped (or failed to start); never rejects. */
  readonly stopped: Promise<void>

  constructor(options: LifecycleOptions) {
    this.#effects = options.effects
    this.#logger = options.logger
    this.#graceMs = options.graceMs
    this.stopped = new Promise((resolve) => {
      this.#resolveStopped = resolve
    })
  }

  get state(): LifecycleState {
    return this.#state
  }

  /**
   * Handle SIGTERM and SIGINT (stop) and SIGHUP (hangup) until the daemon has stopped. Done
   * before listening: a SIGTERM as soon as the listening line is out must drain and exit 0,
   * not kill the process with the signal's default action.
   */
  handleSignals(source: SignalSource): void {
    const onStop = (signal: NodeJS.Signals): void => {
      this.dispatch({ type: 'stop', signal })
    }
    const onHangup = (): void => {
      this.dispatch({ type: 'hangup' })
    }
    source.on('SIGTERM', onStop)
    source.on('SIGINT', onStop)
    source.on('SIGHUP', onHangup)
    this.#detach = () => {
      source.off('SIGTERM', onStop)
      source.off('SIGINT', onStop)
      source.off('SIGHUP', onHangup)
    }
  }

  /** Stop gracefully, as SIGTERM does; resolves once stopped. */
  stop(): Promise<void> {
    this.dispatch({ type: 'stop' })
    return this.stopped
  }

  /** Take the step `event` makes, running its effects in order. */
  dispatch(event: LifecycleEvent): void {
    const { state, effects } = transition(this.#state, event)
    this.#state = state
    for (const effect of effects) this.#run(effect)
  }

  #run(effect: LifecycleEffect): void {
    switch (effect.type) {
      case 'logShutdown':
        this.#logger.info(
          { signal: effect.signal, graceMs: this.#graceMs },
          'Shutting down: no new connections; in-flight requests may finish',
        )
        return
      case 'startGraceTimer':
        this.#graceTimer = setTimeout(() => {
          this.dispatch({ type: 'graceExpired' })
        }, this.#graceMs)
        return
      case 'clearGraceTimer':
        clearTimeout(this.#graceTimer)
        return
      case 'closeServer':
        this.#settle(this.#effects.closeServer(), 'drained', 'Cannot close the server')
        return
      case 'logGraceOver':
        this.#logger.warn({ graceMs: this.#graceMs }, 'Grace period over: closing the remaining connections')
        return
      case 'closeConnections':
        this.#effects.closeConnections()
        return
      case 'reopenLog':
        this.#effects.reopenLog()
        return
      case 'logReopened':
        this.#logger.info('Reopened the log file (SIGHUP)')
        return
      case 'reload':
        // A reload that fails keeps what was loaded before; the failure is logged.
        this.#settle(this.#effects.reload(), 'reloaded', 'Cannot reload')
        return
      case 'notify':
        this.#effects.notify(effect.status)
        return
      case 'startWatchdog':
        this.#effects.watchdog(true)
        return
      case 'stopWatchdog':
        this.#effects.watchdog(false)
        return
      case 'releaseResources':
        this.#settle(
          this.#effects.releaseResources(),
          'released',
          'Cannot stop the background work, the index or the password worker cleanly',
        )
        return
      case 'detachSignals':
        this.#detach?.()
        this.#detach = undefined
        return
      case 'logStopped':
        this.#logger.info('Stopped')
        return
      case 'flushLogs':
        this.#settle(this.#effects.flushLogs(), 'flushed', 'Cannot write out the log')
        return
      case 'resolveStopped':
        this.#resolveStopped()
    }
  }

  // An asynchronous effect moves the machine on when it settles. A failure is logged and the
  // stop goes on: a part that cannot be closed must not keep the others running or the process
  // from exiting.
  #settle(work: Promise<void>, next: 'drained' | 'released' | 'flushed' | 'reloaded', failure: string): void {
    void work
      .then(undefined, (err: unknown) => {
        this.#logger.error({ err }, failure)
      })
      .then(() => {
        this.dispatch({ type: next })
      })
  }
}
