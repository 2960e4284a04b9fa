// Checks contrib/systemd/eggserve.service with systemd's own tools:
// `systemd-analyze verify` must accept it, as the packed package installs it, without a warning, and
// `systemd-analyze security --offline=true` must rate its exposure at most 1.1, with exactly the
// exposed settings listed below (each one's reason is in the unit's comments and docs/systemd.md).
// Neither needs systemd running as PID 1 (both read the unit file only), but
// --offline needs systemd >= 250.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import test from 'node:test'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { INSTALL_PREFIX, packAndInstall } from '../helpers/packed-install.js'
import { needTool, skipOrFail } from '../helpers/tools.js'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const unitPath = join(repoRoot, 'contrib', 'systemd', 'eggserve.service')
const unitName = 'eggserve.service'
const maxExposure = 1.1
/**
 * The settings systemd-analyze security counts against the unit, and why each stays: a new
 * one (a setting loosened, or a check newer systemd adds) fails the test until it is weighed
 * and listed here and in docs/systemd.md.
 */
const EXPOSED: Readonly<Record<string, string>> = {
  'PrivateNetwork=': 'a network server: it binds its own port without eggserve.socket, and --upstream and S3 go out',
  'RestrictAddressFamilies=~AF_(INET|INET6)': 'the HTTP listener, upstreams and S3',
  'IPAddressDeny=': 'clients may come from anywhere (an allow list is a documented override)',
  'RestrictAddressFamilies=~AF_UNIX': 'eggserve sends its notifications to the AF_UNIX notify socket',
  'RestrictAddressFamilies=~AF_NETLINK': "os.networkInterfaces() (getifaddrs), which Fastify's listen() calls",
  'MemoryDenyWriteExecute=': "V8's JIT needs memory that is writable, then executable",
  'RootDirectory=/RootImage=': "node and the package are the host system's own",
  'DeviceAllow=': 'ProtectClock=yes adds char-rtc (read) to the device list; PrivateDevices=yes hides it anyway',
}
// EGGSERVE_SHUTDOWN_TIMEOUT's default: systemd must wait longer than this.
const defaultShutdownSeconds = 10

interface Run {
  status: number | null
  output: string
}

function run(command: string, args: string[]): Run {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '', LC_ALL: 'C.UTF-8' },
  })
  if (result.error !== undefined) throw result.error
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

/** The unit's `Key=value` lines (comments and section headers dropped). */
function directives(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith(';') && !line.startsWith('['))
}

function values(text: string, key: string): string[] {
  return directives(text)
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1))
}

/** The programs of the unit's Exec*= lines (their first words, without systemd's prefixes such as "-"). */
function commandsOf(text: string): string[] {
  return directives(text)
    .filter((line) => /^Exec[A-Za-z]*=/.test(line))
    .map(
      (line) =>
        line
          .slice(line.indexOf('=') + 1)
          .trim()
          .split(/\s+/)[0]
          ?.replace(/^[-@:+!]+/, '') ?? '',
    )
    .filter((command) => command.startsWith('/'))
}

/** systemd-analyze's path, or undefined once the test is skipped (or throws under CI). */
function analyzer(t: TestContext): string | undefined {
  const path = needTool(t, 'systemd-analyze')
  if (path === undefined) return undefined
  const version = /systemd (\d+)/.exec(run(path, ['--version']).output)?.[1]
  if (version !== undefined && Number(version) >= 250) return path
  skipOrFail(t, `systemd-analyze is systemd ${version ?? '(unknown)'}; security --offline needs 250 or newer`)
  return undefined
}

await test('systemd-analyze verify accepts the unit as shipped and installed, without warnings', async (t) => {
  const tool = analyzer(t)
  if (tool === undefined) return
  // verify fails when ExecStart's program is not there, so the unit is checked against the
  // README's install steps carried out under a temporary root (--root): the packed tarball
  // installed with `npm install -g --prefix <root>/usr/local`, and the unit the package ships
  // copied from there to <root>/etc/systemd/system/, byte for byte the repository's file.
  const installed = await packAndInstall(t)
  if (installed === undefined) return
  const shipped = await readFile(join(installed.packageDir, 'contrib', 'systemd', unitName), 'utf8')
  assert.equal(
    shipped,
    readFileSync(unitPath, 'utf8'),
    'the installed package ships contrib/systemd/eggserve.service unchanged',
  )
  const unitDir = join(installed.root, 'etc', 'systemd', 'system')
  await mkdir(unitDir, { recursive: true })
  await writeFile(join(unitDir, unitName), shipped)

  // The unit's other commands (ExecReload's /bin/kill) are part of every system: under the
  // temporary root they are the host's own files, copied only when the host has them.
  for (const command of commandsOf(shipped)) {
    if (command.startsWith(`${INSTALL_PREFIX}/`)) continue
    const inRoot = join(installed.root, command)
    if (existsSync(command) && !existsSync(inRoot)) {
      await mkdir(dirname(inRoot), { recursive: true })
      await copyFile(command, inRoot)
    }
  }

  const verify = (what: string): void => {
    // --recursive-errors=no: fail only for our unit, not for the units it is ordered after,
    // which the temporary root does not have.
    const result = run(tool, ['verify', `--root=${installed.root}`, '--recursive-errors=no', unitName])
    t.diagnostic(`systemd-analyze verify output (${what}): ${result.output.trim() || '(none)'}`)
    assert.equal(result.status, 0, result.output)
    // verify exits 0 even for unknown keys or unparsable values: it only warns.
    const aboutUnit = result.output
      .split('\n')
      .filter((line) => line.includes(unitName) || line.includes(installed.root))
    assert.deepEqual(aboutUnit, [], `no warning mentions eggserve.service (${what})`)
  }
  verify('as shipped')

  // The password file as a systemd credential: the unit's commented example, applied as
  // `systemctl edit eggserve` would apply it (a drop-in), must verify too.
  const example = shipped
    .split('\n')
    .flatMap((line) => {
      const match = /^#\s+((?:LoadCredential|Environment)=.*)$/.exec(line)
      return match?.[1] === undefined ? [] : [match[1]]
    })
    .filter((line) => line.startsWith('LoadCredential=') || line.startsWith('Environment=EGGSERVE_PASSWORDS='))
  assert.deepEqual(example, [
    'LoadCredential=htpasswd:/etc/eggserve/htpasswd',
    'Environment=EGGSERVE_PASSWORDS=credential:htpasswd',
  ])
  const dropIns = join(unitDir, `${unitName}.d`)
  await mkdir(dropIns)
  await writeFile(join(dropIns, 'credentials.conf'), `[Service]\n${example.join('\n')}\n`)
  verify('with the LoadCredential example')
})

await test('the README installs the command where ExecStart looks, and the unit from the installed package', () => {
  const unit = readFileSync(unitPath, 'utf8')
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
  const section = readme.slice(
    readme.indexOf('## Running under systemd'),
    readme.indexOf('\n## ', readme.indexOf('## Running under systemd') + 1),
  )
  const prefix = /^sudo npm install -g --prefix (\S+) \S+\.tgz$/m.exec(section)?.[1]
  assert.equal(prefix, INSTALL_PREFIX, 'the README installs with npm install -g --prefix /usr/local')
  assert.deepEqual(values(unit, 'ExecStart'), [`${INSTALL_PREFIX}/bin/eggserve`])
  assert.match(
    section,
    new RegExp(
      `^sudo install -m 0644 ${INSTALL_PREFIX}/lib/node_modules/eggserve/contrib/systemd/eggserve\\.service /etc/systemd/system/$`,
      'm',
    ),
  )
})

await test(`systemd-analyze security --offline rates exposure at most ${maxExposure}`, (t) => {
  const tool = analyzer(t)
  if (tool === undefined) return
  // The shipped file itself: the security review does not check ExecStart.
  const result = run(tool, ['security', '--offline=true', '--no-pager', unitPath])
  assert.equal(result.status, 0, result.output)
  const match = /Overall exposure level for eggserve\.service: (\d+(?:\.\d+)?)/.exec(result.output)
  assert.ok(match?.[1] !== undefined, `no overall exposure line in:\n${result.output}`)
  const exposure = Number(match[1])
  t.diagnostic(`exposure: ${exposure}`)
  assert.ok(exposure <= maxExposure, `exposure ${exposure} > ${maxExposure}:\n${result.output}`)
  const warnings = result.output.split('\n').filter((line) => line.includes(unitPath))
  assert.deepEqual(warnings, [], 'loading the unit printed no warning')
  // The table's rows: "✗ NAME DESCRIPTION EXPOSURE" (a check mark when the setting counts nothing).
  const exposed = result.output
    .split('\n')
    .map((line) => /^\s*✗\s+(\S+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined)
  t.diagnostic(`exposed: ${exposed.join(', ')}`)
  assert.deepEqual([...exposed].sort(), Object.keys(EXPOSED).sort(), result.output)
})

await test('the unit keeps what eggserve relies on', () => {
  const unit = readFileSync(unitPath, 'utf8')
  // Readiness is sent by eggserve's main process itself (src/daemon/notify-datagram.ts).
  assert.deepEqual(values(unit, 'Type'), ['notify'])
  assert.deepEqual(values(unit, 'NotifyAccess'), ['main'])
  assert.deepEqual(values(unit, 'KillSignal'), ['SIGTERM'])
  assert.deepEqual(values(unit, 'ExecReload'), ['/bin/kill -HUP $MAINPID'])
  assert.deepEqual(values(unit, 'CacheDirectory'), ['eggserve'])
  assert.deepEqual(values(unit, 'EnvironmentFile'), ['-/etc/default/eggserve'])
  assert.deepEqual(values(unit, 'DynamicUser'), ['yes'])
  // V8's JIT needs W+X memory: with =yes node dies with SIGTRAP at start-up.
  assert.deepEqual(values(unit, 'MemoryDenyWriteExecute'), ['no'])
  const stop = values(unit, 'TimeoutStopSec')
  assert.equal(stop.length, 1)
  const seconds = /^(\d+)s?$/.exec(stop[0] ?? '')?.[1]
  assert.ok(seconds !== undefined, `TimeoutStopSec=${stop[0] ?? ''} is plain seconds`)
  assert.ok(Number(seconds) > defaultShutdownSeconds, 'systemd waits longer than the download grace period')
})
