// Telling systemd how the daemon is doing (sd_notify(3)): READY=1, STATUS=, EXTEND_TIMEOUT_USEC=,
// RELOADING=1, STOPPING=1 and WATCHDOG=1, sent to the datagram socket NOTIFY_SOCKET names.
//
// The datagrams go from eggserve's own process (src/daemon/notify-datagram.ts, through koffi),
// so systemd attributes them to the main PID and the unit can keep NotifyAccess=main: no process
// started per message (one per watchdog ping adds up), and no message lost because a short-lived
// sender exited before systemd could tell which service it belongs to (systemd/systemd#2737).
// Messages go one at a time, each awaited, so they arrive in the order they were sent.
//
// Fallback, where koffi cannot load (a platform without its prebuilt binary): the systemd-notify
// command, part of the systemd package wherever NOTIFY_SOCKET is set. Its datagrams come from a
// child process, which an unprivileged process cannot send in its parent's name (SCM_CREDENTIALS,
// unix(7)), so that needs NotifyAccess=all in a drop-in (docs/systemd.md). systemd-notify since
// systemd 246 waits until systemd has read each message (BARRIER=1, sd_notify_barrier(3)) unless
// --no-block is given, so the message is attributed before the process exits.
import { spawn } from 'node:child_process'
import type { FastifyBaseLogger } from 'fastify'
import type { LifecycleEffects } from './lifecycle.js'
import { loadDatagramSender, type DatagramSend } from './notify-datagram.js'

/** The environment variables the notify protocol reads. */
export interface NotifyEnvironment {
  readonly NOTIFY_SOCKET?: string | undefined
  readonly WATCHDOG_USEC?: string | undefined
  readonly WATCHDOG_PID?: string | undefined
  readonly PATH?: string | undefined
}

/**
 * The watchdog's ping interval in ms: half of WATCHDOG_USEC (sd_watchdog_enabled(3) advises
 * pinging at half the timeout), when it is set and WATCHDOG_PID is unset or names `pid`.
 * @example watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42) // 15000
 */
export function watchdogIntervalMs(env: NotifyEnvironment, pid: number): number | undefined {
  const usec = /^\d+$/.test(env.WATCHDOG_USEC ?? '') ? Number(env.WATCHDOG_USEC) : 0
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && env.WATCHDOG_PID !== String(pid)) return undefined
  return Math.max(1, Math.floor(usec / 2000))
}

/** Options of SystemdNotifier. */
export interface NotifierOptions {
  readonly env: NotifyEnvironment
  readonly pid: number
  readonly logger: FastifyBaseLogger
  /** The fallback command that sends one message (default systemd-notify, found on PATH). */
  readonly command?: string
  /**
   * Loads the sender that writes from this process (default: koffi's, loaded on the first
   * message); when it rejects, messages go through `command` instead.
   */
  readonly loadSender?: (address: string) => Promise<DatagramSend>
}

/** What the daemon tells its service manager: systemd itself, or a --workers worker's primary. */
export interface ServiceNotifier {
  readonly enabled: boolean
  ready(status?: string): void
  status(text: string): void
  extendWhile<T>(
    work: Promise<T>,
    status: string,
    timing: { readonly everyMs: number; readonly extendMs: number },
  ): Promise<T>
  reloading(): void
  stopping(): void
  startWatchdog(): void
  stopWatchdog(): void
  close(): Promise<void>
}

/**
 * The lifecycle's systemd hooks, sent through `notifier`: READY=1 carries `status()` as its
 * STATUS= line; RELOADING=1 and STOPPING=1 as they come; the watchdog on and off.
 */
export function lifecycleNotifications(
  notifier: ServiceNotifier,
  status: () => string,
): Pick<LifecycleEffects, 'notify' | 'watchdog'> {
  return {
    notify: (what) => {
      switch (what) {
        case 'ready':
          notifier.ready(status())
          return
        case 'reloading':
          notifier.reloading()
          return
        case 'stopping':
          notifier.stopping()
      }
    },
    watchdog: (on) => {
      if (on) notifier.startWatchdog()
      else notifier.stopWatchdog()
    },
  }
}

/** Sends sd_notify messages in order; does nothing at all when NOTIFY_SOCKET is unset. */
export class SystemdNotifier implements ServiceNotifier {
  readonly #socket: string | undefined
  readonly #command: string
  readonly #path: string | undefined
  readonly #log: FastifyBaseLogger
  readonly #watchdogMs: number | undefined
  readonly #loadSender: (address: string) => Promise<DatagramSend>
  /** This process's own sender once loaded; undefined inside when the command is used instead. */
  #sender: Promise<DatagramSend | undefined> | undefined
  #queue: Promise<void> = Promise.resolve()
  /** Messages queued and not sent yet: a second identical one (a watchdog ping) is dropped. */
  readonly #pending = new Set<string>()
  #watchdog: NodeJS.Timeout | undefined
  #broken = false

  constructor(options: NotifierOptions) {
    const socket = options.env.NOTIFY_SOCKET
    this.#socket = socket === undefined || socket === '' ? undefined : socket
    this.#command = options.command ?? 'systemd-notify'
    this.#path = options.env.PATH
    this.#log = options.logger.child({ component: 'systemd-notify' })
    this.#watchdogMs = watchdogIntervalMs(options.env, options.pid)
    this.#loadSender = options.loadSender ?? loadDatagramSender
  }

  /** True when systemd listens (NOTIFY_SOCKET is set). */
  get enabled(): boolean {
    return this.#socket !== undefined
  }

  /** Start-up is complete (sd_notify(3) READY=1), with a status line. */
  ready(status?: string): void {
    this.send(status === undefined ? ['READY=1'] : ['READY=1', `STATUS=${status}`])
  }

  /** A free-form status line, shown by `systemctl status`. */
  status(text: string): void {
    this.send([`STATUS=${text}`])
  }

  /** Ask for `ms` more before systemd's start (or stop) timeout fires. */
  extendTimeout(ms: number, status?: string): void {
    const fields = [`EXTEND_TIMEOUT_USEC=${Math.round(ms * 1000)}`]
    this.send(status === undefined ? fields : [...fields, `STATUS=${status}`])
  }

  /**
   * Keep systemd's start timeout (TimeoutStartSec=, 90 s by default) from firing while `work`
   * (the first scan of a large or slow tree) runs: EXTEND_TIMEOUT_USEC= at once and then every
   * `everyMs`, each asking for `extendMs` more, so a scan that hangs still times out.
   */
  async extendWhile<T>(
    work: Promise<T>,
    status: string,
    timing: { readonly everyMs: number; readonly extendMs: number },
  ): Promise<T> {
    if (this.#socket === undefined) return work
    this.extendTimeout(timing.extendMs, status)
    const timer = setInterval(() => {
      this.extendTimeout(timing.extendMs)
    }, timing.everyMs).unref()
    try {
      return await work
    } finally {
      clearInterval(timer)
    }
  }

  /**
   * A reload has begun; READY=1 ends it. sd_notify(3) (systemd 253 and later) asks for
   * MONOTONIC_USEC= (CLOCK_MONOTONIC, which process.hrtime reads on Linux) with RELOADING=1, so
   * systemd can tell this reload from an older one; systemd 252 ignores the extra field.
   */
  reloading(): void {
    this.send(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`])
  }

  /** The stop has begun; the watchdog stops too (systemd stops watching a stopping service). */
  stopping(): void {
    this.stopWatchdog()
    this.send(['STOPPING=1'])
  }

  /** Ping WATCHDOG=1 every WATCHDOG_USEC/2 from the event loop, when systemd asked for it. */
  startWatchdog(): void {
    if (this.#socket === undefined || this.#watchdogMs === undefined || this.#watchdog !== undefined) return
    // From a timer of the event loop, so a blocked loop misses its pings and systemd restarts us.
    this.#watchdog = setInterval(() => {
      this.send(['WATCHDOG=1'])
    }, this.#watchdogMs)
    this.#watchdog.unref()
  }

  stopWatchdog(): void {
    clearInterval(this.#watchdog)
    this.#watchdog = undefined
  }

  /** Queue one datagram of `fields` (newline-separated, as systemd-notify joins its arguments). */
  send(fields: readonly string[]): void {
    if (this.#socket === undefined || this.#broken) return
    const message = fields.join('\n')
    if (this.#pending.has(message)) return
    this.#pending.add(message)
    this.#queue = this.#queue.then(async () => {
      this.#pending.delete(message)
      await this.#sendNow(fields)
    })
  }

  /** Stop the watchdog and wait until every queued message is sent. */
  async close(): Promise<void> {
    this.stopWatchdog()
    await this.#queue
  }

  async #sendNow(fields: readonly string[]): Promise<void> {
    const socket = this.#socket
    if (this.#broken || socket === undefined) return
    this.#sender ??= this.#ownSender(socket)
    const sender = await this.#sender
    const failure = sender === undefined ? await this.#runCommand(socket, fields) : await sendWith(sender, fields)
    if (failure !== undefined) this.#log.warn({ fields }, `Cannot notify systemd (${failure})`)
  }

  /** The sender from this process, or undefined (said once, at warn) when it cannot load. */
  async #ownSender(socket: string): Promise<DatagramSend | undefined> {
    try {
      return await this.#loadSender(socket)
    } catch (err: unknown) {
      const reason = err instanceof Error ? err.message : String(err)
      this.#log.warn(
        `Cannot send systemd notifications from eggserve's own process (${reason}): sending them through ${this.#command}, which needs NotifyAccess=all (docs/systemd.md)`,
      )
      return undefined
    }
  }

  /** One message through the fallback command; the reason when it failed. */
  async #runCommand(socket: string, fields: readonly string[]): Promise<string | undefined> {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: socket }
    if (this.#path !== undefined) env.PATH = this.#path
    return new Promise<string | undefined>((resolve) => {
      const child = spawn(this.#command, [...fields], { env, stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', (chunk: string) => {
        stderr += chunk
      })
      child.once('error', (err) => {
        // Without the command nothing can be sent: say so once, then stop trying.
        this.#broken = true
        resolve(`cannot run ${this.#command}: ${err.message}`)
      })
      child.once('close', (code) => {
        resolve(code === 0 ? undefined : `${this.#command} exited with ${String(code)}: ${stderr.trim()}`)
      })
    })
  }
}

/** One message through this process's own sender, its fields joined by newlines; the reason when it failed. */
async function sendWith(sender: DatagramSend, fields: readonly string[]): Promise<string | undefined> {
  try {
    await sender(fields.join('\n'))
    return undefined
  } catch (err: unknown) {
    return err instanceof Error ? err.message : String(err)
  }
}
