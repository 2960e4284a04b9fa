// A failure to listen, in words: said the same whether a single process listens or, with
// --workers, the primary listens for its workers.
import type { Config } from '../config.js'
import { describeErrno, errnoCode, ListenError } from '../errors.js'
import type { InheritedSocket } from './socket-activation.js'

/** Where the server listens, as a failure to listen names it. */
export function listenPlace(config: Pick<Config, 'host' | 'port'>, socket: InheritedSocket | undefined): string {
  return socket === undefined
    ? `${config.host}:${String(config.port)}`
    : `the socket systemd passed (fd ${String(socket.fd)}, "${socket.name}")`
}

/** The ListenError for `err`, met listening on `where`. */
export function listenError(where: string, err: unknown): ListenError {
  switch (errnoCode(err)) {
    case 'EADDRINUSE':
      return new ListenError(`Cannot listen on ${where}: the port is already in use`, { cause: err })
    case 'EACCES':
      return new ListenError(`Cannot listen on ${where}: permission denied (ports below 1024 need privileges)`, {
        cause: err,
      })
    case 'EADDRNOTAVAIL':
      return new ListenError(`Cannot listen on ${where}: the address is not available on this machine`, { cause: err })
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ListenError(`Cannot listen on ${where}: unknown host`, { cause: err })
    default: {
      // A failed system call in words; anything else (none is known) with its own message.
      const reason =
        err instanceof Error && 'syscall' in err ? describeErrno(err) : err instanceof Error ? err.message : String(err)
      return new ListenError(`Cannot listen on ${where}: ${reason}`, { cause: err })
    }
  }
}
