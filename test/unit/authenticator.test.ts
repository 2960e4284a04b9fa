// The password file and the authenticator: every scheme, reload on change and on demand (a bad
// new file keeps the old users), remembered logins, and the bounded bcrypt worker.
import assert from 'node:assert/strict'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import bcrypt from 'bcryptjs'
import { Authenticator } from '../../src/auth/authenticator.js'
import { BcryptPool } from '../../src/auth/bcrypt-pool.js'
import { PasswordFile } from '../../src/auth/password-file.js'
import { PasswordFileError } from '../../src/errors.js'
import { memoryLogger } from '../helpers/build-app.js'
import { tempDir } from '../helpers/temp-tree.js'
import { ALICE, BOB, CAROL, DORA, writePasswords } from '../helpers/users.js'

async function setup (t: Parameters<typeof tempDir>[0], lines: readonly { line: string }[] = [ALICE, BOB, CAROL, DORA]): Promise<{ path: string; authenticator: Authenticator; pool: BcryptPool; logs: Record<string, unknown>[]; passwords: PasswordFile }> {
  const dir = await tempDir(t, 'eggserve-users-')
  const path = join(dir, 'htpasswd')
  await writeFile(path, lines.map(({ line }) => `${line}\n`).join(''))
  const logs: Record<string, unknown>[] = []
  const log = memoryLogger(logs)
  const pool = new BcryptPool({ maxQueued: 4, log })
  t.after(() => pool.close())
  const passwords = await PasswordFile.load(path, log)
  return { path, authenticator: new Authenticator({ passwords, bcrypt: pool }), pool, logs, passwords }
}

void describe('Authenticator', () => {
  void test('every scheme: right passwords pass, wrong ones and unknown users fail', async (t) => {
    const { authenticator } = await setup(t)
    for (const user of [ALICE, BOB, CAROL, DORA]) {
      assert.equal(await authenticator.verify(user), 'ok', user.user)
      assert.equal(await authenticator.verify({ user: user.user, password: `${user.password}x` }), 'bad', user.user)
    }
    assert.equal(await authenticator.verify({ user: 'nobody', password: 'wonderland' }), 'bad')
    assert.equal(await authenticator.verify({ user: 'ALICE', password: ALICE.password }), 'bad', 'user names are case-sensitive')
  })

  void test('weak hashes are reported on demand (the daemon asks once it listens)', async (t) => {
    const { logs, passwords } = await setup(t)
    assert.equal(logs.length, 0)
    passwords.warnWeak()
    const warnings = logs.filter((line) => line.level === 40).map((line) => String(line.msg))
    assert.deepEqual(warnings, [
      'User "bob" has a weak $apr1$ (Apache MD5) hash; recreate it with "htpasswd -B"',
      'User "carol" has a weak {SHA} (unsalted SHA-1) hash; recreate it with "htpasswd -B"',
    ])
  })

  void test('a changed file is read again at the next login; a broken one keeps the users loaded before', async (t) => {
    const { path, authenticator, logs } = await setup(t, [ALICE])
    assert.equal(await authenticator.verify(BOB), 'bad')
    // Replaced the way editors and htpasswd do it: a new file renamed over the old one.
    await writeFile(`${path}.new`, `${BOB.line}\n`)
    await rename(`${path}.new`, path)
    assert.equal(await authenticator.verify(BOB), 'ok')
    assert.equal(await authenticator.verify(ALICE), 'bad', 'alice was removed')
    await writeFile(path, `${ALICE.line}\nerin:plaintext\n`)
    assert.equal(await authenticator.verify(BOB), 'ok', 'the broken file is not used')
    assert.ok(logs.some((line) => line.msg === 'Cannot reload the password file; keeping the users loaded before'))
    assert.ok(!JSON.stringify(logs).includes('plaintext'), 'no password in the log')
  })

  void test('reload() reads the file even when it looks unchanged (SIGHUP)', async (t) => {
    const { path, authenticator, logs } = await setup(t, [ALICE])
    await writeFile(path, `${BOB.line}\n`)
    await authenticator.reload()
    assert.ok(logs.some((line) => line.msg === 'Reloaded the password file'))
    assert.equal(await authenticator.verify(BOB), 'ok')
  })

  void test('a login found right is remembered: the next check costs no bcrypt work', async (t) => {
    const { authenticator, pool } = await setup(t, [ALICE])
    assert.equal(await authenticator.verify(ALICE), 'ok')
    const compare = pool.compare.bind(pool)
    let calls = 0
    pool.compare = async (password, hash) => { calls++; return compare(password, hash) }
    for (let i = 0; i < 10; i++) assert.equal(await authenticator.verify(ALICE), 'ok')
    assert.equal(calls, 0)
    assert.equal(await authenticator.verify({ user: 'alice', password: 'wrong' }), 'bad')
    assert.equal(calls, 1, 'wrong passwords are checked every time')
  })

  void test('a missing or refused file fails start-up with a clear message', async (t) => {
    const dir = await tempDir(t, 'eggserve-users-')
    const log = memoryLogger([])
    await assert.rejects(PasswordFile.load(join(dir, 'missing'), log), (err: unknown) => {
      assert.ok(err instanceof PasswordFileError)
      assert.match(err.message, /^Cannot read the password file ".*missing": no such file$/)
      return true
    })
    const path = await writePasswords(dir, [ALICE, { user: 'erin', password: 'x', line: 'erin:secret' }])
    await assert.rejects(PasswordFile.load(path, log), /has entries eggserve refuses: line 2 \(user "erin"\): plain-text passwords are not supported/)
  })
})

void describe('BcryptPool', () => {
  void test('checks $2y$/$2b$/$2a$ hashes on its worker', async (t) => {
    const pool = new BcryptPool({ maxQueued: 4, log: memoryLogger([]) })
    t.after(() => pool.close())
    const hash = bcrypt.hashSync('pw', 4)
    for (const prefix of ['$2a$', '$2b$', '$2y$']) {
      assert.equal(await pool.compare('pw', prefix + hash.slice(4)), true, prefix)
      assert.equal(await pool.compare('px', prefix + hash.slice(4)), false, prefix)
    }
    assert.equal(await pool.compare('pw', 'not a hash'), false)
  })

  void test('at most maxQueued checks wait; the rest are refused at once as busy', async (t) => {
    const pool = new BcryptPool({ maxQueued: 3, log: memoryLogger([]) })
    t.after(() => pool.close())
    const hash = bcrypt.hashSync('pw', 8)
    const started = performance.now()
    const verdicts = await Promise.all(Array.from({ length: 10 }, () => pool.compare('wrong', hash)))
    assert.deepEqual(verdicts, [false, false, false, 'busy', 'busy', 'busy', 'busy', 'busy', 'busy', 'busy'])
    t.diagnostic(`3 checks at cost 8 took ${Math.round(performance.now() - started)} ms`)
    assert.equal(pool.pending, 0)
  })

  void test('the event loop stays free while bcrypt runs', async (t) => {
    const pool = new BcryptPool({ maxQueued: 4, log: memoryLogger([]) })
    t.after(() => pool.close())
    const hash = bcrypt.hashSync('pw', 10)
    let ticks = 0
    const timer = setInterval(() => { ticks++ }, 5)
    const started = performance.now()
    await Promise.all([pool.compare('a', hash), pool.compare('b', hash), pool.compare('c', hash)])
    clearInterval(timer)
    const elapsed = performance.now() - started
    t.diagnostic(`3 checks at cost 10: ${Math.round(elapsed)} ms, ${ticks} timer ticks of 5 ms`)
    assert.ok(ticks >= elapsed / 5 / 3, `the main thread was blocked: ${ticks} ticks in ${Math.round(elapsed)} ms`)
  })
})
