// Listening sockets handed over by systemd (sd_listen_fds(3)): with eggserve.socket, systemd
// binds the port (80 too, with no capability for eggserve) and keeps it open across restarts,
// so connections made while eggserve restarts wait in the socket's backlog instead of being
// refused. Node listens on an inherited descriptor itself (net.Server#listen({ fd })).
import { ListenError } from '../errors.js'

/** sd_listen_fds(3): the first passed descriptor is 3 (SD_LISTEN_FDS_START). */
const LISTEN_FDS_START = 3
/** The FileDescriptorName= of eggserve.socket: the socket the index is served on. */
export const HTTP_SOCKET_NAME = 'http'

/** One passed descriptor and its name ("unknown" when systemd gave none, as sd_listen_fds_with_names(3) says). */
export interface InheritedSocket {
  readonly fd: number
  readonly name: string
}

/** The variables of the protocol. */
export interface ListenEnvironment {
  readonly LISTEN_FDS?: string | undefined
  readonly LISTEN_PID?: string | undefined
  readonly LISTEN_FDNAMES?: string | undefined
}

/**
 * The sockets passed to process `pid`, or undefined when none were (LISTEN_FDS unset, or
 * LISTEN_PID naming another process: the variables were meant for a parent).
 * @example inheritedSockets({ LISTEN_FDS: '2', LISTEN_PID: '7', LISTEN_FDNAMES: 'metrics:http' }, 7)
 * // [{ fd: 3, name: 'metrics' }, { fd: 4, name: 'http' }]
 */
export function inheritedSockets(env: ListenEnvironment, pid: number): InheritedSocket[] | undefined {
  if (env.LISTEN_FDS === undefined || env.LISTEN_FDS === '') return undefined
  if (env.LISTEN_PID !== String(pid)) return undefined
  const count = /^\d+$/.test(env.LISTEN_FDS) ? Number(env.LISTEN_FDS) : NaN
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new ListenError(
      `Cannot use the sockets systemd passed: LISTEN_FDS is "${env.LISTEN_FDS}", not a positive count`,
    )
  }
  const names = env.LISTEN_FDNAMES === undefined || env.LISTEN_FDNAMES === '' ? [] : env.LISTEN_FDNAMES.split(':')
  return Array.from({ length: count }, (_, index) => ({
    fd: LISTEN_FDS_START + index,
    name: names[index] ?? 'unknown',
  }))
}

/** The socket to serve HTTP on: the one named "http", or the only one passed. */
export function httpSocket(sockets: readonly InheritedSocket[]): InheritedSocket {
  const named = sockets.find((socket) => socket.name === HTTP_SOCKET_NAME)
  if (named !== undefined) return named
  const [only] = sockets
  if (only !== undefined && sockets.length === 1) return only
  const names = sockets.map((socket) => socket.name).join(', ')
  throw new ListenError(
    `Cannot tell which of the ${sockets.length} sockets systemd passed (${names}) to serve on: name it "${HTTP_SOCKET_NAME}" (FileDescriptorName=${HTTP_SOCKET_NAME} in the .socket unit)`,
  )
}

/**
 * Take the sockets passed to this process and remove the protocol's variables from `env`
 * (sd_listen_fds(3)'s unset_environment), so that no child process takes them for its own.
 */
export function takeInheritedSockets(
  env: Record<string, string | undefined>,
  pid: number,
): InheritedSocket[] | undefined {
  const sockets = inheritedSockets(env, pid)
  if (sockets !== undefined) {
    delete env.LISTEN_FDS
    delete env.LISTEN_PID
    delete env.LISTEN_FDNAMES
  }
  return sockets
}
