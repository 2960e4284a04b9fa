// nginx, the reference server: Debian's nginx serving a tree statically on loopback, in the
// foreground as our child (daemon off), with its configuration, pid, logs and temp folders
// in a state folder of the run. Routes have eggserve's shapes, without hashes or negotiation
// (startOffloadNginx instead runs the shipped contrib/nginx/eggserve.conf in front of eggserve):
//   /packages/<folder>/<file>, /<folder>/<file>   the file (sendfile; Range, ETag and If-Range built in)
//   /simple/                                      nginx's autoindex of the project folders
//   /static/<name>                                a file under STATE/static: a copy of a page eggserve
//                                                 rendered, so both serve the same bytes
//   /health                                       200 "ok"
import { execFile, spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { onCleanup } from './cleanup.js'
import { pollUntil } from './http.js'
import { freePort } from './servers.js'

const execFileAsync = promisify(execFile)

/** A running nginx. */
export interface Nginx {
  readonly url: string
  readonly port: number
  /** STATE/static: files served at /static/<name>. */
  readonly staticDir: string
  stop(): Promise<void>
}

/**
 * A path for nginx.conf, in double quotes. Paths with characters nginx would read as syntax
 * (quotes, backslashes, `$` variables, `;`, braces, newlines) are refused rather than escaped.
 */
function quoted(path: string): string {
  if (/["\\$;{}\n\r]/.test(path))
    throw new Error(
      `nginx cannot be configured with the path ${JSON.stringify(path)} (quotes, \\, $, ;, braces or newlines)`,
    )
  return `"${path}"`
}

/** The main and http-level settings of both configurations: as fast as nginx serves static files (sendfile, no access log, a worker per core). */
function preamble(options: { readonly stateDir: string; readonly asRoot: boolean }): string {
  const state = (name: string): string => quoted(join(options.stateDir, name))
  return `# Written by scripts/bench/nginx.ts for one benchmark run.
# As root, nginx would run its workers as "nobody", who may not read the tree (e.g. one under
# /root); as anyone else the user directive does not apply.
${options.asRoot ? 'user root root;' : ''}
daemon off;
worker_processes auto;
pid ${state('nginx.pid')};
error_log ${state('error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { application/zip whl egg zip; application/x-gzip gz tgz; text/html html; application/json json; }
  default_type application/octet-stream;
  client_body_temp_path ${state('client-body')};
  proxy_temp_path ${state('proxy')};
  fastcgi_temp_path ${state('fastcgi')};
  uwsgi_temp_path ${state('uwsgi')};
  scgi_temp_path ${state('scgi')};`
}

/** The reference server's configuration: the tree, statically. */
export function nginxConfig(options: {
  readonly dir: string
  readonly stateDir: string
  readonly port: number
  readonly asRoot: boolean
}): string {
  return `${preamble(options)}
  server {
    listen 127.0.0.1:${options.port};
    location = /health { return 200 "ok\\n"; }
    location /static/ { alias ${quoted(`${join(options.stateDir, 'static')}/`)}; }
    location /packages/ { alias ${quoted(`${options.dir}/`)}; }
    location /simple/ { alias ${quoted(`${options.dir}/`)}; autoindex on; }
    location / { root ${quoted(options.dir)}; }
  }
}
`
}

/**
 * nginx in front of an eggserve started with --x-accel-redirect /_eggfiles: the shipped
 * contrib/nginx/eggserve.conf with its three EDIT lines filled in (the port, eggserve's
 * address, the tree), after the same preamble as the reference server's.
 */
export function offloadNginxConfig(options: {
  readonly shipped: string
  readonly dir: string
  readonly stateDir: string
  readonly port: number
  readonly eggservePort: number
  readonly asRoot: boolean
}): string {
  let server = options.shipped
  for (const [from, to] of [
    ['listen 80;', `listen 127.0.0.1:${options.port};`],
    ['server 127.0.0.1:31001;', `server 127.0.0.1:${options.eggservePort};`],
    ['alias /srv/eggs/;', `alias ${quoted(`${options.dir}/`)};`],
  ] as const) {
    if (server.split(from).length !== 2) throw new Error(`contrib/nginx/eggserve.conf should hold "${from}" once`)
    server = server.replace(from, to)
  }
  return `${preamble(options)}
${server}
}
`
}

/** Start nginx over `dir` (an absolute path) on a free loopback port; state goes in `stateDir`. */
export async function startNginx(dir: string, stateDir: string, env: NodeJS.ProcessEnv): Promise<Nginx> {
  return startNginxWith(stateDir, env, (port) => nginxConfig({ dir, stateDir, port, asRoot: process.getuid?.() === 0 }))
}

/** Start nginx with the shipped offload config in front of eggserve on `eggservePort`, sending files of `dir`. */
export async function startOffloadNginx(options: {
  readonly shippedConfig: string
  readonly dir: string
  readonly stateDir: string
  readonly eggservePort: number
  readonly env: NodeJS.ProcessEnv
}): Promise<Nginx> {
  const shipped = await readFile(options.shippedConfig, 'utf8')
  const { dir, stateDir, eggservePort } = options
  return startNginxWith(stateDir, options.env, (port) =>
    offloadNginxConfig({ shipped, dir, stateDir, port, eggservePort, asRoot: process.getuid?.() === 0 }),
  )
}

async function startNginxWith(
  stateDir: string,
  env: NodeJS.ProcessEnv,
  config: (port: number) => string,
): Promise<Nginx> {
  const port = await freePort()
  const staticDir = join(stateDir, 'static')
  await mkdir(staticDir, { recursive: true })
  const conf = join(stateDir, 'nginx.conf')
  await writeFile(conf, config(port))
  // -p: the prefix for relative paths; -e: the error log before the configuration is read (the
  // default, /var/log/nginx/error.log, is not writable for most users).
  const args = ['-p', stateDir, '-e', join(stateDir, 'error.log'), '-c', conf]
  try {
    await execFileAsync('nginx', ['-t', '-q', ...args], { env })
  } catch (err) {
    throw new Error(`nginx rejects its configuration ${conf}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    })
  }
  const child = spawn('nginx', args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096)
  })
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      stderr += String(err)
      resolve(null)
    })
    child.once('exit', (code) => {
      resolve(code)
    })
  })
  let gone = false
  void exited.then(() => {
    gone = true
  })

  // True once nginx has exited, false after `ms`; the timer is cancelled either way, so a
  // pending one never keeps the process alive.
  const exitsWithin = async (ms: number): Promise<boolean> => {
    const timer = new AbortController()
    try {
      return await Promise.race([
        exited.then(() => true),
        sleep(ms, false, { signal: timer.signal }).catch(() => false),
      ])
    } finally {
      timer.abort()
    }
  }
  // SIGQUIT is nginx's graceful stop; SIGTERM its fast one, for a master that lingers.
  const stop = async (): Promise<void> => {
    if (gone) return
    child.kill('SIGQUIT')
    for (const [signal, waitMs] of [
      ['SIGTERM', 10_000],
      ['SIGKILL', 5_000],
    ] as const) {
      if (await exitsWithin(waitMs)) return
      child.kill(signal)
    }
    await exited
  }
  const unregister = onCleanup(`nginx on port ${port} (pid ${String(child.pid)})`, stop, () => {
    if (!gone) child.kill('SIGTERM')
  })

  const url = `http://127.0.0.1:${port}`
  const ready = await Promise.race([
    pollUntil(`${url}/health`, (fetched) => fetched.status === 200, { intervalMs: 20, timeoutMs: 15_000 }),
    exited.then(() => ({ kind: 'exited' as const })),
  ])
  if (ready.kind !== 'ok') {
    await stop()
    unregister()
    const log = await readFile(join(stateDir, 'error.log'), 'utf8').catch(() => '')
    throw new Error(`nginx did not answer ${url}/health (${ready.kind}): ${`${stderr}\n${log}`.trim()}`)
  }
  return {
    url,
    port,
    staticDir,
    stop: async () => {
      await stop()
      unregister()
    },
  }
}
