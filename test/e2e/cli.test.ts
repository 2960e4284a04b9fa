// The command line as an operator meets it: help, version, exit codes (0 ok, 1 runtime
// failure, 2 usage), one-line errors without stack traces, the layout report, --lenient,
// a busy port, and the EGGSERVE_* environment with flags taking precedence.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { chmod, mkdir, readdir, readFile, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildSdist, buildWheel, writeDist } from '../helpers/distributions.js'
import {
  binPath,
  childEnv,
  httpGet,
  repoRoot,
  runCli,
  runProcess,
  startServer,
  type LogLine,
  type RunResult,
} from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'
import { multipart, uploadParts } from '../helpers/upload-form.js'
import { ALICE, basic, writePasswords } from '../helpers/users.js'

/** Every flag with its environment variable, as the README documents them. */
const SETTINGS: readonly (readonly [string, string])[] = [
  ['--eggdir', 'EGGSERVE_EGGDIR'],
  ['--port', 'EGGSERVE_PORT'],
  ['--host', 'EGGSERVE_HOST'],
  ['--log', 'EGGSERVE_LOG'],
  ['--log-level', 'EGGSERVE_LOG_LEVEL'],
  ['--hash-algo', 'EGGSERVE_HASH_ALGO'],
  ['--lenient', 'EGGSERVE_LENIENT'],
  ['--shutdown-timeout', 'EGGSERVE_SHUTDOWN_TIMEOUT'],
]

const ALPHA = buildWheel({ name: 'alpha', version: '1.0' })

// Warnings this test process emits while the commands below run: the last test checks that
// running a dozen of them side by side leaks no listener (MaxListenersExceededWarning).
const processWarnings: Error[] = []
process.on('warning', (warning) => {
  processWarnings.push(warning)
})

/** A valid eggdir with one project; returns its path. */
async function goodTree(root: string): Promise<string> {
  const eggdir = join(root, 'good')
  await writeDist(join(eggdir, 'alpha'), ALPHA)
  return eggdir
}

/** Exit code `code`, nothing on stdout, exactly one `eggserve: ` line on stderr and no stack trace. */
function assertOneLineError(result: RunResult, code: number, pattern: RegExp): void {
  const context = JSON.stringify(result)
  assert.equal(result.code, code, context)
  assert.equal(result.stdout, '', context)
  assert.match(result.stderr, /^eggserve: [^\n]+\n$/, context)
  assert.match(result.stderr, pattern, context)
  assert.doesNotMatch(result.stderr, /\bat .+:\d+:\d+|Error:/, context)
}

await test('--help lists every flag and its environment variable, exit 0', async () => {
  const result = await runCli(['--help'])
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.stderr, '')
  // One block per option: a line starting with the flags, then its wrapped description.
  const blocks = result.stdout.split(/\n(?=\s{1,4}-)/).map((block) => block.replace(/\s+/g, ' ').trim())
  for (const [flag, env] of SETTINGS) {
    // The flag itself, not a longer one that starts with it (--log vs --log-level).
    const block = blocks.find((candidate) => new RegExp(`^(-\\w, )?${flag}(?=[\\s,]|$)`).test(candidate))
    assert.ok(block !== undefined, `${flag} in --help:\n${result.stdout}`)
    assert.ok(block.includes(`env ${env}`), `${flag} names ${env}: ${block}`)
  }
  assert.match(result.stdout, /--version/)
})

await test('--version prints the package.json version, exit 0', async () => {
  const pkg: unknown = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8'))
  const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined
  assert.equal(typeof version, 'string')
  const result = await runCli(['--version'])
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.stdout.trim(), version)
  assert.equal(result.stderr, '')
})

await test('usage errors exit 2 with one line on stderr', { concurrency: true }, async (t) => {
  const eggdir = await goodTree(await tempDir(t, 'eggserve-cli-'))
  const cases: readonly { name: string; args: string[]; env?: Record<string, string>; message: RegExp }[] = [
    { name: 'unknown flag', args: ['--bogus'], message: /--bogus/ },
    { name: 'two folder arguments', args: [eggdir, 'extra'], message: /too many arguments/ },
    {
      name: 'the folder twice, differently',
      args: ['--eggdir', eggdir, 'extra'],
      message: /folder is given twice, as "extra" and as --eggdir/,
    },
    { name: '--port abc', args: ['--eggdir', eggdir, '--port', 'abc'], message: /port "abc"/ },
    { name: '--port 65536', args: ['--eggdir', eggdir, '--port', '65536'], message: /port "65536"/ },
    {
      name: 'EGGSERVE_PORT=99999',
      args: ['--eggdir', eggdir],
      env: { EGGSERVE_PORT: '99999' },
      message: /"99999" \(EGGSERVE_PORT\)/,
    },
    {
      name: '--hash-algo sha1',
      args: ['--eggdir', eggdir, '--port', '0', '--hash-algo', 'sha1'],
      message: /hash algorithm "sha1"/,
    },
    {
      name: 'EGGSERVE_HASH_ALGO=sha1',
      args: ['--eggdir', eggdir, '--port', '0'],
      env: { EGGSERVE_HASH_ALGO: 'sha1' },
      message: /"sha1" \(EGGSERVE_HASH_ALGO\)/,
    },
    {
      name: '--shutdown-timeout soon',
      args: ['--eggdir', eggdir, '--port', '0', '--shutdown-timeout', 'soon'],
      message: /"soon"/,
    },
    { name: '--log-level loud', args: ['--eggdir', eggdir, '--port', '0', '--log-level', 'loud'], message: /"loud"/ },
    {
      name: 'EGGSERVE_LENIENT=maybe',
      args: ['--eggdir', eggdir, '--port', '0'],
      env: { EGGSERVE_LENIENT: 'maybe' },
      message: /"maybe"/,
    },
  ]
  // Independent runs of ~0.4 s each: run them side by side.
  await Promise.all(
    cases.map(({ name, args, env, message }) =>
      t.test(name, async () => {
        assertOneLineError(await runCli(['--host', '127.0.0.1', ...args], env), 2, message)
      }),
    ),
  )
})

await test('a missing eggdir exits 1 and names the directory as given', async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  assertOneLineError(
    await runCli(['--eggdir', 'no-such-dir', '--port', '0', '--host', '127.0.0.1'], {}, { cwd: root }),
    1,
    /"no-such-dir": no such directory/,
  )
  const absolute = join(root, 'gone')
  assertOneLineError(
    await runCli(['--eggdir', absolute, '--port', '0', '--host', '127.0.0.1']),
    1,
    new RegExp(`"${absolute}"`),
  )
})

await test('an eggdir that is a file exits 1', async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  await writeFile(join(root, 'plain-file'), 'not a folder\n')
  assertOneLineError(
    await runCli(['--eggdir', 'plain-file', '--port', '0', '--host', '127.0.0.1'], {}, { cwd: root }),
    1,
    /"plain-file": not a directory/,
  )
})

await test('an unreadable eggdir exits 1 with "permission denied"', async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  const eggdir = join(root, 'locked')
  await mkdir(eggdir, { mode: 0o700 })
  // Empty, so removing it later needs no permission on it (only on its parent).
  await chmod(eggdir, 0o000)
  const args = [binPath, '--eggdir', eggdir, '--port', '0', '--host', '127.0.0.1']
  // root reads anything, so as root the server runs as nobody (setpriv, util-linux).
  let result: RunResult
  if (process.getuid?.() === 0) {
    const setpriv = needTool(t, 'setpriv')
    if (setpriv === undefined) return
    result = await runProcess(
      setpriv,
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args],
      { env: childEnv() },
    )
  } else {
    result = await runProcess(process.execPath, args, { env: childEnv() })
  }
  assertOneLineError(result, 1, /permission denied/)
})

await test('a log file that cannot be opened exits 1', async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  const eggdir = await goodTree(root)
  assertOneLineError(
    await runCli([
      '--eggdir',
      eggdir,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--log',
      join(root, 'missing-dir', 'eggserve.log'),
    ]),
    1,
    /log file/i,
  )
})

/** A tree with five problems of five kinds, plus things that must be ignored silently. */
async function badTree(root: string): Promise<{ eggdir: string; problems: string[] }> {
  const eggdir = join(root, 'tree')
  await writeDist(join(eggdir, 'alpha'), ALPHA)
  await writeDist(eggdir, buildSdist({ name: 'stray', version: '1.0' }))
  await writeDist(join(eggdir, 'alpha'), buildWheel({ name: 'beta', version: '1.0' }))
  await writeFile(join(eggdir, 'alpha', 'alpha-1.0-bad.whl'), 'unparsable name\n')
  await writeDist(join(eggdir, 'not valid!'), buildSdist({ name: 'whatever', version: '1.0' }))
  // 'Gamma' sorts before 'gamma', so 'Gamma/' holds the project and 'gamma/' is the duplicate.
  await writeDist(join(eggdir, 'Gamma'), buildSdist({ name: 'gamma', version: '1.0' }))
  await writeDist(join(eggdir, 'gamma'), buildSdist({ name: 'gamma', version: '2.0' }))
  // Ignored without a word: non-distributions, signatures, hidden files and folders.
  await writeFile(join(eggdir, 'alpha', 'README'), 'read me\n')
  await writeFile(join(eggdir, 'alpha', `${ALPHA.filename}.asc`), 'signature\n')
  await writeFile(join(eggdir, 'alpha', '.beta-1.0.tar.gz'), 'hidden\n')
  await mkdir(join(eggdir, '.trash'))
  await writeDist(join(eggdir, '.trash'), buildSdist({ name: 'other', version: '1.0' }))
  await writeFile(join(eggdir, 'README'), 'read me\n')
  return {
    eggdir,
    problems: [
      'stray-1.0.tar.gz',
      'alpha/beta-1.0-py3-none-any.whl',
      'alpha/alpha-1.0-bad.whl',
      'not valid!/',
      'gamma/',
    ],
  }
}

await test('a bad layout exits 1 listing every problem with a path relative to the eggdir', async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  const { problems } = await badTree(root)
  const result = await runCli(['--eggdir', 'tree', '--port', '0', '--host', '127.0.0.1'], {}, { cwd: root })
  const context = JSON.stringify(result)
  assert.equal(result.code, 1, context)
  assert.equal(result.stdout, '', context)
  const lines = result.stderr.split('\n')
  assert.equal(lines.pop(), '', 'ends with a newline')
  const [head = '', ...rest] = lines
  assert.match(head, /^eggserve: The layout of "tree" has 5 problems/, context)
  assert.match(head, /--lenient/)
  assert.equal(rest.length, problems.length, context)
  for (const line of rest) assert.match(line, /^\s+\S/, `problem lines are indented: ${JSON.stringify(line)}`)
  for (const path of problems) {
    assert.equal(
      rest.filter((line) => line.trim().startsWith(`${path}:`)).length,
      1,
      `"${path}" reported once:\n${result.stderr}`,
    )
  }
  for (const absolute of new Set([root, await realpath(root)]))
    assert.ok(!result.stderr.includes(absolute), `no absolute path in:\n${result.stderr}`)
  assert.doesNotMatch(result.stderr, /README|\.asc|\.trash|\.beta/)
  assert.doesNotMatch(result.stderr, /\bat .+:\d+:\d+/)
})

await test('--lenient starts anyway, logs one warning per skipped file and serves the rest', async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  const { eggdir, problems } = await badTree(root)
  const server = await startServer(t, { eggdir, args: ['--lenient'] })
  await server.waitForLine((line) => line.msg === 'Serving')
  // Requests make the index look at every folder again: no warning may be repeated.
  assert.match(
    (await httpGet(`${server.url}/alpha/`)).body.toString('utf8'),
    new RegExp(ALPHA.filename.replaceAll('.', '\\.')),
  )
  const root1 = (await httpGet(`${server.url}/`)).body.toString('utf8')
  assert.match(root1, /href="alpha\/"/)
  assert.match(root1, /href="Gamma\/"/)
  assert.doesNotMatch(root1, /not valid|href="gamma\/"/)
  const alphaPage = (await httpGet(`${server.url}/simple/alpha/`)).body.toString('utf8')
  assert.doesNotMatch(alphaPage, /beta|bad\.whl/)
  assert.match((await httpGet(`${server.url}/simple/gamma/`)).body.toString('utf8'), /gamma-1\.0\.tar\.gz/)
  assert.equal((await httpGet(`${server.url}/alpha/beta-1.0-py3-none-any.whl`)).status, 404)
  await server.waitForLine((line) => line.msg === 'request' && line.url === '/alpha/beta-1.0-py3-none-any.whl')

  const warnings = server.lines.filter((line: LogLine) => line.level === 40)
  const paths = warnings.map((line) => line.path)
  assert.deepEqual([...paths].sort(), [...problems].sort(), JSON.stringify(warnings, null, 1))
  for (const warning of warnings)
    assert.ok(!JSON.stringify(warning).includes(root), `no absolute path: ${JSON.stringify(warning)}`)
  assert.equal(await server.stop(), 0, server.stderr)
})

await test('a port already in use exits 1 with "already in use"', async (t) => {
  const eggdir = await goodTree(await tempDir(t, 'eggserve-cli-'))
  const first = await startServer(t, { eggdir })
  const second = await runCli(['--eggdir', eggdir, '--port', String(first.port), '--host', '127.0.0.1'])
  assert.equal(second.code, 1, JSON.stringify(second))
  assert.match(second.stderr, /^eggserve: [^\n]*already in use[^\n]*\n$/, JSON.stringify(second))
  assert.match(second.stderr, new RegExp(`:${first.port}`))
  assert.doesNotMatch(second.stderr, /\bat .+:\d+:\d+/)
  // The first server is unharmed.
  assert.equal((await httpGet(`${first.url}/health`)).status, 200)
  assert.equal(await first.stop(), 0, first.stderr)
})

await test('an address the system refuses for another reason is described in words, not as an errno code', async (t) => {
  const eggdir = await goodTree(await tempDir(t, 'eggserve-cli-'))
  // A link-local IPv6 address without a zone: bind() says EINVAL (or EAFNOSUPPORT without IPv6).
  const result = await runCli(['--eggdir', eggdir, '--port', '0', '--host', 'fe80::1'])
  assertOneLineError(result, 1, /^eggserve: Cannot listen on fe80::1:0: [a-z][a-z ]+\n$/)
  assert.doesNotMatch(result.stderr, /\bE[A-Z]{3,}\b/)
})

await test('--port 0: the first log line names the bound address', async (t) => {
  const eggdir = await goodTree(await tempDir(t, 'eggserve-cli-'))
  const server = await startServer(t, { eggdir })
  const [first] = server.lines
  assert.equal(first?.msg, `eggserve listening on http://127.0.0.1:${server.port}`)
  assert.ok(server.port > 0)
  const health = await httpGet(`${server.url}/health`)
  assert.equal(health.status, 200)
  assert.deepEqual(JSON.parse(health.body.toString('utf8')), { status: 'ok' })
  assert.deepEqual(server.badLines, [])
  assert.equal(await server.stop(), 0, server.stderr)
  assert.equal(server.stderr, '')
})

for (const level of ['info', 'warn']) {
  await test(`--log-level ${level}: the first log line names the bound address, though start-up warned before listening`, async (t) => {
    const eggdir = await goodTree(await tempDir(t, 'eggserve-cli-'))
    // procfs refuses the cache directory: start-up says so before it listens.
    const server = await startServer(t, {
      eggdir,
      args: ['--cache-dir', '/proc/eggserve-cache', '--log-level', level],
      untilServing: false,
    })
    const warning = await server.waitForLine((line) => String(line.msg).startsWith('Cannot use the cache directory'))
    assert.equal(server.lines[0]?.msg, `eggserve listening on ${server.url}`)
    assert.ok(server.lines.indexOf(warning) > 0, JSON.stringify(server.lines))
    assert.equal(await server.stop(), 0, server.stderr)
  })
}

await test('settings come from EGGSERVE_* variables', async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  await goodTree(root)
  const server = await startServer(t, {
    defaults: false,
    cwd: root,
    env: { EGGSERVE_EGGDIR: 'good', EGGSERVE_PORT: '0', EGGSERVE_HOST: '127.0.0.1', EGGSERVE_HASH_ALGO: 'sha256' },
  })
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const page = (await httpGet(`${server.url}/simple/alpha/`)).body.toString('utf8')
  assert.match(page, /#sha256=[0-9a-f]{64}"/)
  assert.equal(await server.stop(), 0, server.stderr)
})

await test('EGGSERVE_LENIENT and EGGSERVE_LOG are honoured', async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  const { eggdir, problems } = await badTree(root)
  const logFile = join(root, 'env.log')
  const server = await startServer(t, { eggdir, env: { EGGSERVE_LENIENT: 'true', EGGSERVE_LOG: logFile }, logFile })
  assert.equal((await httpGet(`${server.url}/health`)).status, 200)
  assert.equal(await server.stop(), 0, server.stderr)
  assert.deepEqual(server.lines, [], 'nothing on stdout')
  const logged = (await readFile(logFile, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogLine)
  assert.deepEqual(
    logged
      .filter((line) => line.level === 40)
      .map((line) => line.path)
      .sort(),
    [...problems].sort(),
  )
  assert.ok(logged.some((line) => line.msg === 'request' && line.url === '/health'))
})

await test('flags win over EGGSERVE_* variables (even invalid ones)', async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  const eggdir = await goodTree(root)
  const server = await startServer(t, {
    defaults: false,
    args: ['--eggdir', eggdir, '--port', '0', '--host', '127.0.0.1', '--hash-algo', 'sha512'],
    env: {
      EGGSERVE_EGGDIR: join(root, 'missing'),
      EGGSERVE_PORT: '99999',
      EGGSERVE_HOST: 'nowhere.invalid',
      EGGSERVE_HASH_ALGO: 'sha1',
    },
  })
  const page = (await httpGet(`${server.url}/alpha/`)).body.toString('utf8')
  assert.match(page, /#sha512=[0-9a-f]{128}"/)
  assert.equal(await server.stop(), 0, server.stderr)
})

await test(
  'a sub-command takes its flags before or after its name, and the folder as its argument',
  { concurrency: true },
  async (t) => {
    const root = await tempDir(t, 'eggserve-cli-')
    const { eggdir } = await badTree(root)
    // Run from a clean tree: a command that ignored the folder it was given would pass there.
    const cwd = await goodTree(root)
    const spellings = [
      ['--eggdir', eggdir, 'check'],
      ['-d', eggdir, 'check'],
      ['check', '--eggdir', eggdir],
      ['check', '-d', eggdir],
      ['check', eggdir],
      ['--eggdir', eggdir, 'check', eggdir],
    ]
    await Promise.all(
      spellings.map((args) =>
        t.test(args.join(' '), async () => {
          const result = await runCli(args, {}, { cwd })
          assert.equal(result.code, 1, JSON.stringify(result))
          assert.match(result.stderr, /^eggserve: "[^"]+" has 5 problems \(/, JSON.stringify(result))
          assert.match(result.stdout, /^stray-1\.0\.tar\.gz: /m)
        }),
      ),
    )
    await t.test('a missing folder, either way', async () => {
      for (const args of [
        ['--eggdir', 'missing', 'check'],
        ['check', 'missing'],
      ]) {
        assertOneLineError(await runCli(args, {}, { cwd }), 1, /"missing": no such directory/)
      }
    })
  },
)

await test(
  'a flag the sub-command does not use is a usage error, before or after its name',
  { concurrency: true },
  async (t) => {
    const eggdir = await goodTree(await tempDir(t, 'eggserve-cli-'))
    const cases: readonly { args: string[]; message: RegExp }[] = [
      {
        args: ['--port', '1', 'check', eggdir],
        message:
          /^eggserve: --port does not apply to "eggserve check" \(its options: --eggdir, --storage, --s3-path-style\)\n$/,
      },
      {
        args: ['check', '--port', '1', eggdir],
        message:
          /^eggserve: --port does not apply to "eggserve check" \(its options: --eggdir, --storage, --s3-path-style\)\n$/,
      },
      { args: ['-p', '1', 'check', eggdir], message: /--port does not apply to "eggserve check"/ },
      {
        args: ['--lenient', 'warm', eggdir],
        message:
          /--lenient does not apply to "eggserve warm" \(its options: --eggdir, --storage, --s3-path-style, --cache-dir, --hash-algo, --simple-hash-algo, --hash-workers, --log, --log-level\)/,
      },
      { args: ['warm', '--lenient', eggdir], message: /--lenient does not apply to "eggserve warm"/ },
      { args: ['--cache-dir', 'none', 'check', eggdir], message: /--cache-dir does not apply to "eggserve check"/ },
      { args: ['--eggdir', eggdir, 'check', 'other'], message: /folder is given twice/ },
      { args: ['check', '--bogus'], message: /unknown option '--bogus'/ },
    ]
    await Promise.all(
      cases.map(({ args, message }) =>
        t.test(args.join(' '), async () => {
          assertOneLineError(await runCli(args), 2, message)
        }),
      ),
    )
  },
)

await test('warm takes its flags before or after its name too', async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  const eggdir = await goodTree(root)
  for (const [label, args] of [
    ['before', ['--cache-dir', join(root, 'cache-before'), '--hash-workers', '0', 'warm', eggdir]],
    ['after', ['warm', '--cache-dir', join(root, 'cache-after'), '--hash-workers', '0', eggdir]],
  ] as const) {
    const result = await runCli(args)
    assert.equal(result.code, 0, JSON.stringify(result))
    assert.match(result.stdout, /^Hashed 1 file \(/, label)
    assert.ok(
      (await readdir(join(root, `cache-${label}`))).some((name) => name.startsWith('facts-')),
      `the cache went to the --cache-dir given ${label} "warm"`,
    )
  }
})

await test(
  'eggserve help, help COMMAND and COMMAND --help print help; an unknown command is a usage error',
  { concurrency: true },
  async (t) => {
    const cases: readonly { args: string[]; usage: RegExp }[] = [
      {
        args: ['help'],
        usage:
          /^Usage: eggserve \[options\] \[command\] \[eggdir\]\n[\s\S]*\nCommands:\n\s+check \[options\] \[eggdir\][\s\S]*\n\s+help \[command\]/,
      },
      { args: ['help', 'check'], usage: /^Usage: eggserve check \[options\] \[eggdir\]\n/ },
      { args: ['check', '--help'], usage: /^Usage: eggserve check \[options\] \[eggdir\]\n/ },
      { args: ['help', 'warm'], usage: /^Usage: eggserve warm \[options\] \[eggdir\]\n[\s\S]*--cache-dir/ },
      { args: ['help', 'help'], usage: /^Usage: eggserve help \[options\] \[command\]\n/ },
      { args: ['help', 'cache'], usage: /^Usage: eggserve cache \[options\] \[command\]\n[\s\S]*purge[\s\S]*warm/ },
      {
        args: ['cache', 'warm', '--help'],
        usage: /^Usage: eggserve cache warm \[options\]\n[\s\S]*-r, --requirement <file>[\s\S]*--upstream-cache-max/,
      },
      { args: ['cache', 'purge', '--help'], usage: /^Usage: eggserve cache purge \[options\] <name\.\.\.>\n/ },
    ]
    await Promise.all(
      cases.map(({ args, usage }) =>
        t.test(args.join(' '), async () => {
          const result = await runCli(args)
          assert.equal(result.code, 0, JSON.stringify(result))
          assert.equal(result.stderr, '')
          assert.match(result.stdout, usage)
        }),
      ),
    )
    await t.test("a command's help lists only its own flags", async () => {
      const check = await runCli(['help', 'check'])
      assert.match(check.stdout, /--eggdir/)
      assert.doesNotMatch(check.stdout, /--port|--cache-dir|--lenient/)
    })
    await t.test('cache warm without -r, cache purge with a server flag or no name: usage errors', async () => {
      assertOneLineError(await runCli(['cache', 'warm', '--cache-dir', '/nonexistent']), 2, /--requirement/)
      assertOneLineError(
        await runCli(['cache', 'purge', '--port', '80', 'demo']),
        2,
        /--port does not apply to "eggserve cache purge"/,
      )
      assertOneLineError(await runCli(['cache', 'purge']), 2, /missing required argument 'name'/)
    })
    await t.test('help bogus', async () => {
      assertOneLineError(
        await runCli(['help', 'bogus']),
        2,
        /unknown command "bogus" \(the commands are check, warm, cache, help\)/,
      )
    })
  },
)

await test('the server takes the folder as its argument; by default /simple/ has #sha256= anchors, the original tree #md5=', async (t) => {
  const eggdir = await goodTree(await tempDir(t, 'eggserve-cli-'))
  const server = await startServer(t, { args: [eggdir] })
  const digest = (algorithm: string): string => createHash(algorithm).update(ALPHA.bytes).digest('hex')
  const name = ALPHA.filename.replaceAll('.', '\\.')
  assert.match(
    (await httpGet(`${server.url}/simple/alpha/`)).body.toString('utf8'),
    new RegExp(`${name}#sha256=${digest('sha256')}"`),
  )
  assert.match(
    (await httpGet(`${server.url}/alpha/`)).body.toString('utf8'),
    new RegExp(`${name}#md5=${digest('md5')}"`),
  )
  const serving = await server.waitForLine((line) => line.msg === 'Serving')
  assert.equal(serving.hashAlgorithm, 'md5')
  assert.equal(serving.simpleHashAlgorithm, 'sha256')
  assert.equal(await server.stop(), 0, server.stderr)
})

await test("pypiserver's short options work as they do there: -p, -i, -P, -a, -o", async (t) => {
  const root = await tempDir(t, 'eggserve-cli-')
  const eggdir = await goodTree(root)
  const passwords = await writePasswords(root, [ALICE])
  const server = await startServer(t, {
    defaults: false,
    args: ['-p', '0', '-i', '127.0.0.1', '-P', passwords, '-a', 'update,list', '-o', eggdir],
  })
  // -p 0 and -i 127.0.0.1: a free port on the loopback address only.
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  // -P and -a list: listing needs alice's password.
  assert.equal((await httpGet(`${server.url}/simple/`)).status, 401)
  assert.equal((await httpGet(`${server.url}/simple/`, { headers: { authorization: basic(ALICE) } })).status, 200)
  // -o: an upload may replace a file with different bytes (409 without it).
  const first = buildSdist({ name: 'alias', version: '1.0' })
  const second = buildSdist({ name: 'alias', version: '1.0', summary: 'the same release, rebuilt' })
  assert.notDeepEqual(first.bytes, second.bytes)
  for (const dist of [first, second]) {
    const form = multipart(await uploadParts(dist, { name: 'alias', version: '1.0' }))
    const res = await fetch(`${server.url}/legacy/`, {
      method: 'POST',
      body: form.body,
      headers: { 'content-type': form.contentType, authorization: basic(ALICE) },
    })
    assert.equal(res.status, 200, await res.text())
  }
  const served = await httpGet(`${server.url}/packages/alias/${second.filename}`, {
    headers: { authorization: basic(ALICE) },
  })
  assert.ok(served.body.equals(second.bytes), 'the second upload replaced the first')
  assert.equal(await server.stop(), 0, server.stderr)
})

await test('running these commands side by side left no MaxListenersExceededWarning', () => {
  const leaks = processWarnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')
  assert.deepEqual(
    leaks.map((warning) => warning.message),
    [],
  )
})
