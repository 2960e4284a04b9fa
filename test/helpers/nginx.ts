// A real nginx (Debian's /usr/sbin/nginx) in front of eggserve, for reverse-proxy tests: its
// own temporary config, pid, logs and temp folders, one loopback port (and optionally a TLS
// port with a self-signed certificate made by openssl), stopped by PID after the test.
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { killOnExit } from './exit-cleanup.js'
import { runProcess } from './spawn-server.js'
import { tempDir } from './temp-tree.js'
import { findExecutable, needTool } from './tools.js'

/** A running nginx. */
export interface NginxHandle {
  /** e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string
  /** e.g. https://127.0.0.1:40124, when started with `tls`. */
  readonly tlsUrl: string | undefined
  /** The self-signed certificate of the TLS port (PEM), to trust in clients. */
  readonly certificate: string | undefined
  readonly pid: number
  /** nginx's error log so far. */
  errorLog(): Promise<string>
  /** nginx's access log so far (the combined format). */
  accessLog(): Promise<string>
  /** Stop it (SIGQUIT, then SIGKILL if it lingers); also done after the test. */
  stop(): Promise<void>
}

/** Options of {@link startNginx}: a `server` body, or whole `http` contents of one's own. */
export type NginxOptions =
  | {
      /** The body of the `server` block: `location` blocks and the like. `listen` lines are added. */
      readonly server: string
      /** The plain-HTTP port (see {@link freePort}); default: a free one. */
      readonly port?: number
      /** Also listen with TLS on another port, with a certificate for 127.0.0.1 and localhost. */
      readonly tls?: boolean
    }
  | {
      /**
       * What goes into the `http` block after the temp paths and logs, e.g. a shipped config file:
       * its `server` must listen on 127.0.0.1:`port`.
       */
      readonly http: string
      readonly port: number
    }

/** A TCP port free on 127.0.0.1 right now (for a server that cannot be told to pick one). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve()
    })
  })
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/**
 * Start nginx with `options.server` inside one `server` block. Returns undefined when nginx (or,
 * for TLS, openssl) is missing and the test was skipped (with CI=true the test fails instead).
 */
export async function startNginx(t: TestContext, options: NginxOptions): Promise<NginxHandle | undefined> {
  const nginx = needTool(t, 'nginx', findExecutable('/usr/sbin/nginx') ?? findExecutable('nginx'))
  if (nginx === undefined) return undefined
  const tlsAsked = 'server' in options && options.tls === true
  const openssl = tlsAsked ? needTool(t, 'openssl') : undefined
  if (tlsAsked && openssl === undefined) return undefined
  const dir = await tempDir(t, 'eggserve-nginx-')
  const certificate = openssl === undefined ? undefined : await makeCertificate(openssl, dir)
  const port = options.port ?? (await freePort())
  const tlsPort = certificate === undefined ? undefined : await freePort()
  const conf = join(dir, 'nginx.conf')
  await writeFile(
    conf,
    config({
      dir,
      body: 'server' in options ? serverBlock({ dir, port, tlsPort, server: options.server }) : options.http,
    }),
  )
  // -e: the error log from the very start (not Debian's /var/log/nginx); -p: relative paths.
  const child = spawn(nginx, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk
  })
  let exited = false
  const done = new Promise<void>((resolve) => {
    child.once('close', () => {
      exited = true
      resolve()
    })
  })
  const forget = killOnExit(() => {
    child.kill('SIGKILL')
  })
  const pid = child.pid ?? 0
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGQUIT')
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
      }, 5000)
      await done
      clearTimeout(timer)
    }
    forget()
  }
  t.after(stop)
  const errorLog = (): Promise<string> => readFile(join(dir, 'error.log'), 'utf8').catch(() => '')
  const accessLog = (): Promise<string> => readFile(join(dir, 'access.log'), 'utf8').catch(() => '')
  for (const p of [port, tlsPort]) {
    if (p !== undefined) await waitForPort(p, () => (exited ? `nginx exited before listening: ${stderr}` : undefined))
  }
  return {
    url: `http://127.0.0.1:${String(port)}`,
    tlsUrl: tlsPort === undefined ? undefined : `https://127.0.0.1:${String(tlsPort)}`,
    certificate,
    pid,
    errorLog,
    accessLog,
    stop,
  }
}

function serverBlock(options: { dir: string; port: number; tlsPort: number | undefined; server: string }): string {
  const { dir, port, tlsPort, server } = options
  const tls =
    tlsPort === undefined
      ? ''
      : `listen 127.0.0.1:${String(tlsPort)} ssl;\n    ssl_certificate ${join(dir, 'cert.pem')};\n    ssl_certificate_key ${join(dir, 'key.pem')};`
  return `server {
    listen 127.0.0.1:${String(port)};
    ${tls}
    server_name localhost;
    ${server}
  }`
}

function config(options: { dir: string; body: string }): string {
  const { dir, body } = options
  // One process in the foreground (no daemon, no workers under another user): its PID is
  // the child's, and it can write its temporary folders, which belong to the test's user.
  return `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
events { worker_connections 64; }
http {
  access_log ${join(dir, 'access.log')};
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  ${body}
}
`
}

async function makeCertificate(openssl: string, dir: string): Promise<string> {
  const result = await runProcess(openssl, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ])
  if (result.code !== 0) throw new Error(`openssl could not make a certificate: ${result.stderr}`)
  return readFile(join(dir, 'cert.pem'), 'utf8')
}

async function waitForPort(port: number, failed: () => string | undefined): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.end()
        resolve(true)
      })
      socket.once('error', () => {
        resolve(false)
      })
    })
    if (open) return
    const why = failed()
    if (why !== undefined) throw new Error(why)
    if (attempt > 600) throw new Error(`nginx is not listening on 127.0.0.1:${String(port)} after 30 s`)
    await sleep(50)
  }
}
