// A real sd_notify listener for tests: an AF_UNIX SOCK_DGRAM socket, bound and read by a small
// Python program (Node can bind no datagram Unix socket), that prints each datagram it receives
// as one JSON line with its sender's PID. It stands where systemd's notify socket would, and reads
// the PID as systemd does: SO_PASSCRED, so the kernel attaches each datagram's SCM_CREDENTIALS
// (unix(7)), the PID NotifyAccess=main compares with the service's main PID.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { findExecutable, needTool } from './tools.js'

// Receives with room for ancillary data and closes any descriptor passed along: systemd-notify
// sends BARRIER=1 with a pipe's end and waits until the receiver has closed it
// (sd_notify_barrier(3)), as systemd does once it has processed the messages before it.
const LISTENER = `
import array, json, os, socket, struct, sys
address = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(("\\0" + address[1:]) if address.startswith("@") else address)
if not address.startswith("@"):
    os.chmod(address, 0o777)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"bound": True}), flush=True)
while True:
    data, ancillary, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                os.close(fd)
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("3i", payload[:12])[0]
    print(json.dumps({"message": data.decode(), "pid": pid}), flush=True)
`

/** A bound notify socket and the datagrams it has received. */
export interface NotifySocket {
  /** What NOTIFY_SOCKET is set to: a path, or "@name" for the abstract namespace. */
  readonly address: string
  /** Every datagram so far, in order of arrival. */
  readonly messages: string[]
  /** The sender's PID of each of `messages` (SCM_CREDENTIALS), at the same index. */
  readonly senders: number[]
  /** The first datagram (from index `from` on) matching `predicate`. */
  waitFor(predicate: (message: string) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<string>
}

/** The Python that binds the socket, or undefined once the test is skipped. */
function python(t: TestContext): string | undefined {
  return needTool(t, 'python3', findExecutable('/usr/bin/python3') ?? findExecutable('python3'))
}

/**
 * Bind a notify socket at `dir`/notify.sock (or, with `abstract`, an abstract name) and collect
 * what it receives until the test ends. Undefined when python3 is missing (the test is skipped).
 */
export async function listenForNotifications(
  t: TestContext,
  dir: string,
  options: { abstract?: boolean } = {},
): Promise<NotifySocket | undefined> {
  const interpreter = python(t)
  if (interpreter === undefined) return undefined
  const address =
    options.abstract === true
      ? `@eggserve-test-${process.pid}-${Math.random().toString(36).slice(2)}`
      : join(dir, 'notify.sock')
  const child = spawn(interpreter, ['-c', LISTENER, address], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => {
    child.kill('SIGKILL')
  })
  const messages: string[] = []
  const senders: number[] = []
  const waiters = new Set<() => void>()
  let stderr = ''
  let bound = false
  let pending = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk
  })
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      const parsed: unknown = JSON.parse(line)
      if (typeof parsed !== 'object' || parsed === null) continue
      if ('bound' in parsed) bound = true
      if ('message' in parsed && typeof parsed.message === 'string') {
        messages.push(parsed.message)
        senders.push('pid' in parsed && typeof parsed.pid === 'number' ? parsed.pid : -1)
      }
    }
    for (const waiter of [...waiters]) waiter()
  })
  const waitUntil = async (done: () => boolean, what: string, timeoutMs: number): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!done()) return
        clearTimeout(timer)
        waiters.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(
          new Error(
            `${what} within ${timeoutMs} ms; received so far: ${JSON.stringify(messages)}; listener stderr: ${stderr}`,
          ),
        )
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  }
  await waitUntil(() => bound, 'the notify listener did not bind its socket', 10_000)
  return {
    address,
    messages,
    senders,
    async waitFor(predicate, { from = 0, timeoutMs = 15_000 } = {}) {
      let found: string | undefined
      await waitUntil(
        () => {
          found = messages.slice(from).find(predicate)
          return found !== undefined
        },
        'no matching notification',
        timeoutMs,
      )
      return found ?? ''
    },
  }
}
