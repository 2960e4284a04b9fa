// Starting the daemon with uploads: what it refuses (exit codes and one-line reasons), what it
// warns about, leftovers of a crash, and password-file reloads (on change and on SIGHUP) that
// never drop a connection.
import assert from 'node:assert/strict'
import { rename, utimes, writeFile } from 'node:fs/promises'
import { Agent, request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { pollUntil, runCli, startServer, type RunResult } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { ALICE, basic, BOB, CAROL, writePasswords } from '../helpers/users.js'

function assertOneLineError(result: RunResult, code: number, message: RegExp): void {
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`)
  const lines = result.stderr.trim().split('\n')
  assert.equal(lines.length, 1, `one line on stderr: ${result.stderr}`)
  assert.match(lines[0] ?? '', /^eggserve: /)
  assert.match(lines[0] ?? '', message)
}

const LISTEN = ['--port', '0', '--host', '127.0.0.1']

await test('refused at start-up: credentials without a password file (2), an unreadable or refused password file (1)', async (t) => {
  const root = await tempDir(t, 'eggserve-start-')
  await writeTree(root, { 'eggs/foo/foo-1.0.tar.gz': 'foo' })
  const eggdir = join(root, 'eggs')
  const needFile = /needs a password file: give --passwords FILE, or --authenticate \. to let anyone upload$/
  assertOneLineError(await runCli(['--eggdir', eggdir, ...LISTEN, '--authenticate', 'update']), 2, needFile)
  assertOneLineError(await runCli(['--eggdir', eggdir, ...LISTEN], { EGGSERVE_PASSWORDS: '.' }), 2, needFile)
  assertOneLineError(
    await runCli(['--eggdir', eggdir, ...LISTEN, '--passwords', join(root, 'missing')]),
    1,
    /Cannot read the password file ".*missing": no such file$/,
  )
  const plain = join(root, 'plain')
  await writeFile(plain, `${ALICE.line}\nerin:secret\ndave:YUnJe./jtYA/E\n`)
  const refused = await runCli(['--eggdir', eggdir, ...LISTEN, '--passwords', plain])
  assertOneLineError(
    refused,
    1,
    /has entries eggserve refuses: line 2 \(user "erin"\): plain-text passwords are not supported; recreate it with "htpasswd -B -C 10"; line 3 \(user "dave"\): plain-text passwords and crypt\(3\) hashes are not supported/,
  )
  assert.ok(
    !refused.stderr.includes('secret') && !refused.stderr.includes('YUnJe'),
    'no password or hash in the message',
  )
})

await test('--authenticate . starts with a loud warning and takes uploads without credentials; crash leftovers are swept', async (t) => {
  const root = await tempDir(t, 'eggserve-open-')
  await writeTree(root, {
    'foo/foo-1.0.tar.gz': 'foo',
    'foo/.upload-0123456789abcdef.tmp': 'a crashed upload',
    '.upload-fedcba9876543210.tmp': 'another',
  })
  const old = new Date(Date.now() - 2 * 3600_000)
  await utimes(join(root, 'foo', '.upload-0123456789abcdef.tmp'), old, old)
  await utimes(join(root, '.upload-fedcba9876543210.tmp'), old, old)
  const server = await startServer(t, { eggdir: root, args: ['--authenticate', '.'] })
  const warning = server.lines.find(
    (line) => typeof line.msg === 'string' && line.msg.startsWith('UPLOADS ARE OPEN TO ANYONE'),
  )
  assert.equal(warning?.level, 40)
  assert.deepEqual(
    server.lines.find((line) => line.msg === 'Removed temporary files of interrupted uploads')?.removed,
    2,
  )
  const serving = server.lines.find((line) => line.msg === 'Serving')
  assert.equal(serving?.uploads, 'open')
  const res = await fetch(`${server.url}/`, {
    method: 'POST',
    body: ':action=submit',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  assert.equal(res.status, 200)
})

await test('weak hashes and bcrypt costs below 10 are named at start-up', async (t) => {
  const root = await tempDir(t, 'eggserve-weak-')
  await writeTree(root, { 'eggs/foo/foo-1.0.tar.gz': 'foo' })
  const passwords = await writePasswords(root, [ALICE, BOB, CAROL])
  const server = await startServer(t, { eggdir: join(root, 'eggs'), args: ['--passwords', passwords] })
  const warnings = server.lines.filter((line) => line.level === 40).map((line) => String(line.msg))
  assert.deepEqual(warnings, [
    'User "alice" has a bcrypt hash of cost 5, below 10; recreate it with "htpasswd -B -C 10"',
    'User "bob" has a weak $apr1$ (Apache MD5) hash; recreate it with "htpasswd -B -C 10"',
    'User "carol" has a weak {SHA} (unsalted SHA-1) hash; recreate it with "htpasswd -B -C 10"',
  ])
})

await test('the password file is reloaded when it changes and on SIGHUP, on the same open connection', async (t) => {
  const root = await tempDir(t, 'eggserve-reload-')
  await writeTree(root, { 'eggs/foo/foo-1.0.tar.gz': 'foo' })
  const passwords = await writePasswords(root, [ALICE])
  const server = await startServer(t, { eggdir: join(root, 'eggs'), args: ['--passwords', passwords] })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => {
    agent.destroy()
  })
  const ports = new Set<number>()
  const submit = (user: { user: string; password: string }): Promise<number> =>
    new Promise((resolve, reject) => {
      const body = ':action=submit'
      const req = httpRequest(
        `${server.url}/legacy/`,
        {
          method: 'POST',
          agent,
          headers: {
            authorization: basic(user),
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': body.length,
          },
        },
        (res) => {
          ports.add(res.socket.localPort ?? 0)
          res.resume()
          res.once('end', () => {
            resolve(res.statusCode ?? 0)
          })
        },
      )
      req.once('error', reject)
      req.end(body)
    })
  assert.equal(await submit(ALICE), 200)
  assert.equal(await submit(BOB), 401)
  // Replaced as editors do: a new file renamed over the old one. Read at the next login.
  await writeFile(`${passwords}.new`, `${BOB.line}\n`)
  await rename(`${passwords}.new`, passwords)
  assert.equal(await submit(BOB), 200)
  assert.equal(await submit(ALICE), 401)
  await server.waitForLine((line) => line.msg === 'Reloaded the password file')
  // SIGHUP reloads it even when it looks unchanged (and reopens the log file).
  const reloads = (): number => server.lines.filter((line) => line.msg === 'Reloaded the password file').length
  const before = reloads()
  server.process.kill('SIGHUP')
  assert.ok(
    (await pollUntil(() => Promise.resolve(reloads() > before), 5000)) !== undefined,
    'SIGHUP reloaded the password file',
  )
  assert.equal(await submit(BOB), 200)
  assert.deepEqual([...ports].length, 1, 'every request went over the one keep-alive connection')
  assert.equal(server.process.exitCode, null)
})
