// The password file as a systemd credential: the real daemon, given what systemd gives a
// service with LoadCredential=htpasswd:... (a private directory in $CREDENTIALS_DIRECTORY
// holding a file only the service may read), logs users in from `credential:htpasswd`, reads
// the file again when it changes and on SIGHUP, and refuses to start without the directory.
import assert from 'node:assert/strict'
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { pollUntil, runCli, startServer } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { ALICE, basic, BOB } from '../helpers/users.js'

async function credentials(
  root: string,
  lines: readonly { line: string }[],
): Promise<{ directory: string; write: (users: readonly { line: string }[]) => Promise<void> }> {
  const directory = join(root, 'credentials')
  await mkdir(directory, { mode: 0o700 })
  // As systemd leaves it: mode 0400, owned by the service's user.
  const write = async (users: readonly { line: string }[]): Promise<void> => {
    const next = join(directory, '.htpasswd.new')
    await writeFile(next, users.map(({ line }) => `${line}\n`).join(''), { mode: 0o400 })
    await rename(next, join(directory, 'htpasswd'))
  }
  await write(lines)
  return { directory, write }
}

await test('EGGSERVE_PASSWORDS=credential:htpasswd logs users in from $CREDENTIALS_DIRECTORY/htpasswd and follows its changes and SIGHUP', async (t) => {
  const root = await tempDir(t, 'eggserve-credential-')
  await writeTree(root, { 'eggs/foo/foo-1.0.tar.gz': 'foo' })
  const creds = await credentials(root, [ALICE])
  const server = await startServer(t, {
    eggdir: join(root, 'eggs'),
    env: { CREDENTIALS_DIRECTORY: creds.directory, EGGSERVE_PASSWORDS: 'credential:htpasswd' },
  })
  assert.equal(server.lines.find((line) => line.msg === 'Serving')?.uploads, 'authenticated')
  const submit = async (user: { user: string; password: string } | undefined): Promise<number> => {
    const res = await fetch(`${server.url}/legacy/`, {
      method: 'POST',
      body: ':action=submit',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(user === undefined ? {} : { authorization: basic(user) }),
      },
    })
    await res.arrayBuffer()
    return res.status
  }
  assert.equal(await submit(undefined), 401)
  assert.equal(await submit(ALICE), 200)
  assert.equal(await submit(BOB), 401)

  await creds.write([BOB])
  assert.equal(await submit(BOB), 200, 'the changed credential is read at the next login')
  assert.equal(await submit(ALICE), 401)

  const reloads = (): number => server.lines.filter((line) => line.msg === 'Reloaded the password file').length
  const before = reloads()
  server.process.kill('SIGHUP')
  assert.ok(
    (await pollUntil(() => Promise.resolve(reloads() > before), 10_000)) !== undefined,
    'SIGHUP reloaded the credential',
  )
  assert.equal(await submit(BOB), 200)
  assert.equal(server.process.exitCode, null)
})

await test('credential:htpasswd without $CREDENTIALS_DIRECTORY: exit 2 and what to add to the unit; a missing credential: exit 1', async (t) => {
  const root = await tempDir(t, 'eggserve-credential-')
  await writeTree(root, { 'eggs/foo/foo-1.0.tar.gz': 'foo' })
  const eggdir = join(root, 'eggs')
  const listen = ['--port', '0', '--host', '127.0.0.1', '--eggdir', eggdir]
  const unset = await runCli([...listen, '--passwords', 'credential:htpasswd'])
  assert.equal(unset.code, 2, unset.stderr)
  assert.equal(
    unset.stderr.trim(),
    'eggserve: "credential:htpasswd" (--passwords) names a systemd credential, but $CREDENTIALS_DIRECTORY is not set: add LoadCredential=htpasswd:/etc/eggserve/htpasswd to the unit, or give the file\'s path',
  )
  const empty = join(root, 'empty')
  await mkdir(empty)
  await chmod(empty, 0o700)
  const missing = await runCli([...listen, '--passwords', 'credential:htpasswd'], { CREDENTIALS_DIRECTORY: empty })
  assert.equal(missing.code, 1, missing.stderr)
  assert.match(missing.stderr.trim(), /^eggserve: Cannot read the password file ".*\/empty\/htpasswd": no such file$/)
})
