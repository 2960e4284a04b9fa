// HTTPS without a proxy (--tls-cert, --tls-key): real pip installs through it trusting a test CA
// made here with openssl, a SIGHUP makes new connections get a renewed certificate while an open
// keep-alive connection goes on with its own, and unusable files stop start-up in one line.
import assert from 'node:assert/strict'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { Agent, get as httpsGet } from 'node:https'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { connect, TLSSocket, type PeerCertificate } from 'node:tls'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { createVenv, output } from '../helpers/python.js'
import { runCli, runProcess, startServer, type LogLine, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'

/** A test CA and server certificates it signed, for 127.0.0.1, in `dir`. */
interface Pki {
  readonly ca: string
  /** Make a server certificate and key named `name` (CN = name); returns their paths. */
  issue(name: string): Promise<{ cert: string; key: string }>
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  const result = await runProcess('openssl', args, { cwd })
  assert.equal(result.code, 0, `openssl ${args.join(' ')}: ${result.stderr}`)
}

async function makePki(t: TestContext, dir: string): Promise<Pki | undefined> {
  if (needTool(t, 'openssl') === undefined) return undefined
  // An elliptic-curve key (NIST's 256-bit curve): fast to make.
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=eggserve test CA'],
    dir,
  )
  await writeFile(join(dir, 'server.ext'), 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n')
  return {
    ca: join(dir, 'ca.pem'),
    async issue(name) {
      await openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir)
      await openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-days',
          '2',
          '-extfile',
          'server.ext',
          '-out',
          `${name}.pem`,
        ],
        dir,
      )
      return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) }
    },
  }
}

/** A server on a certificate issued as "first", from files it reads again on SIGHUP. */
interface RenewableServer {
  readonly server: ServerHandle
  readonly ca: Buffer
  readonly served: { readonly cert: string; readonly key: string }
  /** Overwrite the served files with a certificate issued as "renewed" (the test then sends SIGHUP). */
  renew(): Promise<void>
}

/** undefined when openssl is missing (the test skips). */
async function renewableServer(t: TestContext, args: readonly string[] = []): Promise<RenewableServer | undefined> {
  const root = await tempDir(t, 'eggserve-tls-')
  const pki = await makePki(t, root)
  if (pki === undefined) return undefined
  const first = await pki.issue('first')
  const renewed = await pki.issue('renewed')
  const served = { cert: join(root, 'served.pem'), key: join(root, 'served.key') }
  await copyFile(first.cert, served.cert)
  await copyFile(first.key, served.key)
  const server = await startServer(t, {
    eggdir: await tempDir(t, 'eggserve-tls-eggs-'),
    args: [...args, '--tls-cert', served.cert, '--tls-key', served.key],
  })
  return {
    server,
    ca: await readFile(pki.ca),
    served,
    async renew() {
      await copyFile(renewed.cert, served.cert)
      await copyFile(renewed.key, served.key)
    },
  }
}

/** The certificate a new TLS connection to `port` is shown (verified against `ca`). */
async function certificateOf(port: number, ca: Buffer): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca }, () => {
      resolve(socket.getPeerCertificate())
      socket.end()
    })
    socket.once('error', reject)
  })
}

/** GET `path` through `agent`; resolves with the status and the TLS socket it went over. */
async function getThrough(agent: Agent, url: string): Promise<{ status: number; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { agent }, (res) => {
      // Taken now: once the response has ended, the socket goes back to the agent's pool.
      const socket = res.socket
      if (!(socket instanceof TLSSocket)) {
        reject(new Error('not a TLS socket'))
        return
      }
      res.resume()
      res.once('end', () => {
        resolve({ status: res.statusCode ?? 0, socket })
      })
    }).once('error', reject)
  })
}

await test('pip installs over HTTPS, trusting the test CA with --cert (and refuses the server without it)', async (t) => {
  const root = await tempDir(t, 'eggserve-tls-')
  const pki = await makePki(t, root)
  if (pki === undefined) return
  const venv = await createVenv(t)
  if (venv === undefined) return
  const { cert, key } = await pki.issue('server')
  const eggdir = join(root, 'eggs')
  await writeDist(
    join(eggdir, 'tlsdemo'),
    buildWheel({ name: 'tlsdemo', version: '1.0', moduleSource: "KIND = 'over tls'\n" }),
  )
  const server = await startServer(t, { eggdir, args: ['--tls-cert', cert, '--tls-key', key] })
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/)
  const target = join(root, 'target')
  const pip = [
    'install',
    '--retries',
    '0',
    '--timeout',
    '20',
    '--progress-bar',
    'off',
    '--target',
    target,
    '--index-url',
    `${server.url}/simple/`,
    'tlsdemo==1.0',
  ]
  const trusted = await venv.pip([...pip, '--cert', pki.ca])
  assert.equal(trusted.code, 0, output(trusted))
  const imported = await venv.run(['-c', 'import tlsdemo; print(tlsdemo.KIND)'], { env: { PYTHONPATH: target } })
  assert.equal(imported.stdout.trim(), 'over tls', output(imported))
  // Without the CA pip must not trust the certificate: the test would pass with plain HTTP otherwise.
  const untrusted = await venv.pip(pip.map((arg) => (arg === target ? join(root, 'target-2') : arg)))
  assert.notEqual(untrusted.code, 0)
  assert.match(output(untrusted), /CERTIFICATE_VERIFY_FAILED/)
})

await test('SIGHUP: new connections get the renewed certificate, an open keep-alive connection goes on; unusable files keep the old one', async (t) => {
  const renewable = await renewableServer(t)
  if (renewable === undefined) return
  const { server, ca, served } = renewable
  assert.equal((await certificateOf(server.port, ca)).subject.CN, 'first')

  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca })
  t.after(() => {
    agent.destroy()
  })
  const before = await getThrough(agent, `${server.url}/simple/`)
  assert.equal(before.status, 200)

  await renewable.renew()
  server.process.kill('SIGHUP')
  await server.waitForLine((line) => line.msg === 'Reloaded the TLS certificate (SIGHUP)')
  assert.equal(
    (await certificateOf(server.port, ca)).subject.CN,
    'renewed',
    'a new connection gets the new certificate',
  )
  const after = await getThrough(agent, `${server.url}/simple/`)
  assert.equal(after.status, 200)
  assert.equal(after.socket, before.socket, 'the keep-alive connection was not dropped')
  assert.equal(after.socket.getPeerCertificate().subject.CN, 'first', 'and keeps the certificate it began with')

  // A broken file at the next SIGHUP: one error line, the renewed certificate stays in use.
  await writeFile(served.cert, 'not a certificate\n')
  server.process.kill('SIGHUP')
  const failed = await server.waitForLine(
    (line) => line.msg === 'Cannot reload the TLS certificate; keeping the one loaded before',
  )
  assert.match(String(failed.err), /not a PEM file/)
  assert.equal((await certificateOf(server.port, ca)).subject.CN, 'renewed')
})

await test('a certificate or key that cannot be used stops start-up with one line and exit 1', async (t) => {
  const root = await tempDir(t, 'eggserve-tls-')
  const pki = await makePki(t, root)
  if (pki === undefined) return
  const one = await pki.issue('one')
  const other = await pki.issue('other')
  const garbage = join(root, 'garbage.pem')
  await writeFile(garbage, 'hello\n')
  const eggdir = await tempDir(t, 'eggserve-tls-eggs-')
  const cases: [string, string, string][] = [
    [
      join(root, 'missing.pem'),
      one.key,
      `eggserve: Cannot read the TLS certificate "${join(root, 'missing.pem')}": no such file or directory\n`,
    ],
    [
      one.cert,
      other.key,
      `eggserve: Cannot use the TLS certificate "${one.cert}" with the key "${other.key}": the key does not belong to the certificate\n`,
    ],
    [
      garbage,
      one.key,
      `eggserve: Cannot use the TLS certificate "${garbage}" with the key "${one.key}": not a PEM file (no "-----BEGIN" line)\n`,
    ],
  ]
  for (const [cert, key, message] of cases) {
    const result = await runCli([
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--eggdir',
      eggdir,
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ])
    assert.equal(result.code, 1, result.stderr)
    assert.equal(result.stderr, message)
  }
})

await test('--workers 2: HTTPS from both workers, and one SIGHUP to the primary renews the certificate in each', async (t) => {
  const renewable = await renewableServer(t, ['--workers', '2'])
  if (renewable === undefined) return
  const { server, ca } = renewable
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/)
  // New connections go to the workers in turn: six reach each of them several times.
  const subjects = async (): Promise<string[]> => {
    const names: string[] = []
    for (let i = 0; i < 6; i++) names.push(String((await certificateOf(server.port, ca)).subject.CN))
    return names
  }
  assert.deepEqual(
    await subjects(),
    Array.from({ length: 6 }, () => 'first'),
  )
  await renewable.renew()
  server.process.kill('SIGHUP')
  const reloaded = (): LogLine[] => server.lines.filter((line) => line.msg === 'Reloaded the TLS certificate (SIGHUP)')
  await server.waitForLine(() => reloaded().length >= 2, 15_000)
  assert.equal(new Set(reloaded().map((line) => line.pid)).size, 2, 'each worker reloaded once')
  assert.deepEqual(
    await subjects(),
    Array.from({ length: 6 }, () => 'renewed'),
  )
})
