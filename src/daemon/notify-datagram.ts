// Sending an sd_notify(3) datagram from eggserve's own process: socket(AF_UNIX, SOCK_DGRAM |
// SOCK_CLOEXEC), sendto() NOTIFY_SOCKET, close(), as libsystemd's sd_notify() does, called
// through koffi, a foreign function interface whose prebuilt binaries come as per-platform npm
// packages (no compiler at install). Node has no datagram Unix socket of its own (node:dgram is
// UDP only, node:net streams only).
//
// Why from this process: the kernel stamps each datagram with its sender's PID (SCM_CREDENTIALS,
// unix(7)), and systemd accepts messages from the main PID alone under NotifyAccess=main
// (systemd.service(5)); a helper process would need NotifyAccess=all. koffi is loaded here, on
// the first message, and only when NOTIFY_SOCKET is set: a start outside systemd never loads it.
import { endianness } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'

/** Sends one datagram; resolves once the kernel took it, rejects with the reason otherwise. */
export type DatagramSend = (message: string) => Promise<void>

// Linux's values (include/linux/socket.h, include/linux/net.h, asm-generic/fcntl.h), the same on
// every architecture koffi ships for Linux; other systems have no systemd.
const AF_UNIX = 1
const SOCK_DGRAM = 2
const SOCK_CLOEXEC = 0o2000000
const MSG_DONTWAIT = 0x40
const MSG_NOSIGNAL = 0x4000
// sizeof(sockaddr_un.sun_path) (unix(7)).
const SUN_PATH_MAX = 108
// A full socket queue (systemd not reading) is waited out with growing pauses instead of
// blocking the event loop in sendto(): 10 ms, doubling up to 1 s, about 30 s in all.
const FULL_QUEUE_RETRIES = 36

/**
 * The sockaddr_un NOTIFY_SOCKET names: a filesystem path (NUL-terminated), or with a leading
 * "@" an abstract name (unix(7): sun_path starts with a NUL byte and the name fills the rest
 * of the address length, with no terminator). Undefined for anything else (such as systemd
 * 254's "vsock:" addresses), which is left to systemd-notify.
 * @example notifySocketAddress('@x') // <Buffer 01 00 00 78> on little-endian machines
 */
export function notifySocketAddress(address: string): Buffer | undefined {
  const abstract = address.startsWith('@')
  if (!abstract && !address.startsWith('/')) return undefined
  const name = Buffer.from(abstract ? `\0${address.slice(1)}` : `${address}\0`)
  if (name.length > SUN_PATH_MAX) return undefined
  const sockaddr = Buffer.alloc(2 + name.length)
  if (endianness() === 'LE') sockaddr.writeUInt16LE(AF_UNIX, 0)
  else sockaddr.writeUInt16BE(AF_UNIX, 0)
  name.copy(sockaddr, 2)
  return sockaddr
}

/**
 * A sender to `address` (NOTIFY_SOCKET), through koffi; rejects when koffi cannot be loaded on
 * this platform (no prebuilt binary, no Linux) or the address is not one it can reach, so the
 * caller falls back to the systemd-notify command.
 */
export async function loadDatagramSender(address: string): Promise<DatagramSend> {
  if (process.platform !== 'linux') throw new Error(`sd_notify needs Linux, not ${process.platform}`)
  const sockaddr = notifySocketAddress(address)
  if (sockaddr === undefined) throw new Error(`NOTIFY_SOCKET=${address} is neither a path nor an abstract @name`)
  const { default: koffi } = await import('koffi')
  // null: the symbols of the process itself, whose C library (glibc or musl) has these three.
  const libc = koffi.load(null)
  // koffi's declarations are typed `(...args: any[]) => any`; these are the C prototypes given.
  const socket = libc.func('int socket(int domain, int type, int protocol)') as (
    a: number,
    b: number,
    c: number,
  ) => number
  const sendto = libc.func(
    'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)',
  ) as (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number
  const close = libc.func('int close(int fd)') as (fd: number) => number
  const errorName = (code: number): string =>
    Object.entries(koffi.os.errno).find(([, value]) => value === code)?.[0] ?? `errno ${String(code)}`

  return async (message) => {
    const bytes = Buffer.from(message)
    const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
    if (fd < 0) throw new Error(`socket(AF_UNIX, SOCK_DGRAM) failed: ${errorName(koffi.errno())}`)
    try {
      for (let attempt = 0; ; attempt++) {
        if (sendto(fd, bytes, bytes.length, MSG_DONTWAIT | MSG_NOSIGNAL, sockaddr, sockaddr.length) >= 0) return
        const code = koffi.errno()
        const full = code === koffi.os.errno.EAGAIN || code === koffi.os.errno.EINTR
        if (!full || attempt >= FULL_QUEUE_RETRIES) throw new Error(`sendto(${address}) failed: ${errorName(code)}`)
        await sleep(Math.min(1000, 10 * 2 ** attempt))
      }
    } finally {
      close(fd)
    }
  }
}
