// --workers N: this process (the primary) starts N worker processes with node:cluster and
// serves nothing itself. It owns what there is one of:
// - the listening socket (it binds --host/--port, or listens on the socket systemd passed,
//   accepts every connection and hands it to the worker with the fewest open connections:
//   cluster-balancer.ts says why not node:cluster's round-robin);
// - the reading of files: workers ask it for facts, so each file is hashed once (its
//   MemoizingAnalyzer shares one computation between concurrent asks) and the persistent cache
//   has one writer;
// - uploads and removals made through one worker, passed on to every other worker before the
//   uploading client hears of success;
// - signals: SIGTERM, SIGINT and SIGHUP are handled here once (the same Lifecycle as a single
//   process) and forwarded; systemd hears READY=1 once every worker listens, and
//   /health/ready is ready once every worker has finished its warm-up;
// - workers that die: logged and replaced (after a pause when one dies again soon after starting).
import type { Config } from '../config.js'
import { createLogger, type LoggerHandle } from '../logger.js'
import { registerHashingMetrics } from '../metrics/index-metrics.js'
import { indexServicesFor } from '../services.js'
import { primaryMetrics } from './cluster-metrics.js'
import { Primary } from './cluster-supervisor.js'
import { tuneHeap } from './heap-pacing.js'
import { httpSocket, takeInheritedSockets } from './socket-activation.js'
import { SystemdNotifier } from './systemd-notify.js'

/**
 * Start `count` workers serving `config` and watch over them; resolves with the exit code once
 * they have all stopped (after a signal), or a worker could not start (its message is on stderr).
 */
export async function startPrimary(config: Config, count: number): Promise<number> {
  // The primary hashes every file for its workers: the same heap as a single process's.
  tuneHeap()
  const log = createLogger({ file: config.logFile, level: config.logLevel })
  try {
    return await start(config, count, log)
  } catch (err) {
    log.release()
    await log.flush()
    throw err
  }
}

async function start(config: Config, count: number, log: LoggerHandle): Promise<number> {
  const { logger } = log
  // As a single process does: the variables are taken and removed, so that no worker takes
  // them for its own (sd_listen_fds(3), sd_notify(3)); workers learn the socket from the primary.
  const sockets = takeInheritedSockets(process.env, process.pid)
  const socket = sockets === undefined ? undefined : httpSocket(sockets)
  const notifier = new SystemdNotifier({ env: { ...process.env }, pid: process.pid, logger })
  delete process.env.NOTIFY_SOCKET
  delete process.env.WATCHDOG_USEC
  delete process.env.WATCHDOG_PID
  const { metrics, telemetry } = await primaryMetrics(config)
  const services = await indexServicesFor(config, logger, metrics)
  registerHashingMetrics(metrics, services.reader.stats)
  const primary = new Primary({ config, count, log, notifier, socket, services, telemetry })
  return primary.run()
}
