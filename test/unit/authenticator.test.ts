// The password file and the authenticator: every scheme, reload on change and on demand (a bad
// new file keeps the old users), remembered logins, the same work for every login, and the
// bounded password worker.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import bcrypt from 'bcryptjs'
import { Authenticator, LOGIN_ENTRY_OVERHEAD } from '../../src/auth/authenticator.js'
import { PasswordFile } from '../../src/auth/password-file.js'
import { PasswordWorker, type WorkDone } from '../../src/auth/password-worker.js'
import { parseHtpasswd, type PasswordEntry } from '../../src/core/htpasswd.js'
import { bcryptCost, decoysOf, loginWork } from '../../src/core/login-work.js'
import { PasswordFileError } from '../../src/errors.js'
import { memoryLogger } from '../helpers/build-app.js'
import { tempDir } from '../helpers/temp-tree.js'
import { ALICE, BOB, CAROL, DORA, writePasswords, type TestUser } from '../helpers/users.js'

function parsed(users: readonly TestUser[]): readonly PasswordEntry[] {
  const result = parseHtpasswd(users.map((user) => user.line).join('\n'))
  assert.ok(result.ok)
  return result.entries
}

async function setup(
  t: Parameters<typeof tempDir>[0],
  lines: readonly { line: string }[] = [ALICE, BOB, CAROL, DORA],
  options: { maxBytes?: number; maxQueued?: number } = {},
): Promise<{
  path: string
  authenticator: Authenticator
  pool: PasswordWorker
  logs: Record<string, unknown>[]
  passwords: PasswordFile
}> {
  const dir = await tempDir(t, 'eggserve-users-')
  const path = join(dir, 'htpasswd')
  await writeFile(path, lines.map(({ line }) => `${line}\n`).join(''))
  const logs: Record<string, unknown>[] = []
  const log = memoryLogger(logs)
  const pool = new PasswordWorker({ maxQueued: options.maxQueued ?? 4, log })
  t.after(() => pool.close())
  const passwords = await PasswordFile.load(path, log)
  return {
    path,
    authenticator: new Authenticator({
      passwords,
      worker: pool,
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    }),
    pool,
    logs,
    passwords,
  }
}

await describe('Authenticator', async () => {
  await test('every scheme: right passwords pass, wrong ones and unknown users fail', async (t) => {
    const { authenticator } = await setup(t)
    for (const user of [ALICE, BOB, CAROL, DORA]) {
      assert.equal(await authenticator.verify(user), 'ok', user.user)
      assert.equal(await authenticator.verify({ user: user.user, password: `${user.password}x` }), 'bad', user.user)
    }
    assert.equal(await authenticator.verify({ user: 'nobody', password: 'wonderland' }), 'bad')
    assert.equal(
      await authenticator.verify({ user: 'ALICE', password: ALICE.password }),
      'bad',
      'user names are case-sensitive',
    )
  })

  await test('weak hashes and bcrypt costs below 10 are reported on demand (the daemon asks once it listens), and at every reload', async (t) => {
    const TEN: TestUser = { user: 'ten', password: 'cost ten', line: `ten:${bcrypt.hashSync('cost ten', 10)}` }
    const { path, logs, passwords, authenticator } = await setup(t, [ALICE, BOB, CAROL, DORA, TEN])
    assert.equal(logs.length, 0)
    passwords.warnWeak()
    const warnings = (): string[] => logs.filter((line) => line.level === 40).map((line) => String(line.msg))
    assert.deepEqual(warnings(), [
      'User "alice" has a bcrypt hash of cost 5, below 10; recreate it with "htpasswd -B -C 10"',
      'User "bob" has a weak $apr1$ (Apache MD5) hash; recreate it with "htpasswd -B -C 10"',
      'User "carol" has a weak {SHA} (unsalted SHA-1) hash; recreate it with "htpasswd -B -C 10"',
      'User "dora" has a bcrypt hash of cost 5, below 10; recreate it with "htpasswd -B -C 10"',
    ])
    assert.deepEqual(logs.find((line) => line.user === 'alice')?.cost, 5)
    logs.length = 0
    await writeFile(path, `${TEN.line}\n${DORA.line}\n`)
    await authenticator.reload()
    assert.deepEqual(warnings(), [
      'User "dora" has a bcrypt hash of cost 5, below 10; recreate it with "htpasswd -B -C 10"',
    ])
  })

  await test('a changed file is read again at the next login; a broken one keeps the users loaded before', async (t) => {
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

  await test('reload() reads the file even when it looks unchanged (SIGHUP)', async (t) => {
    const { path, authenticator, logs } = await setup(t, [ALICE])
    await writeFile(path, `${BOB.line}\n`)
    await authenticator.reload()
    assert.ok(logs.some((line) => line.msg === 'Reloaded the password file'))
    assert.equal(await authenticator.verify(BOB), 'ok')
  })

  await test('a login found right is remembered: the next check costs no bcrypt work', async (t) => {
    const { authenticator, pool } = await setup(t, [ALICE])
    assert.equal(await authenticator.verify(ALICE), 'ok')
    const before = pool.done.checks
    for (let i = 0; i < 10; i++) assert.equal(await authenticator.verify(ALICE), 'ok')
    assert.equal(pool.done.checks, before)
    for (let i = 0; i < 3; i++) assert.equal(await authenticator.verify({ user: 'alice', password: 'wrong' }), 'bad')
    assert.equal(pool.done.checks, before + 3, 'wrong passwords are checked every time')
  })

  await test('logins with the same credentials at the same time share one check', async (t) => {
    const { authenticator, pool } = await setup(t, [ALICE])
    const right = await Promise.all(Array.from({ length: 20 }, () => authenticator.verify(ALICE)))
    assert.deepEqual(new Set(right), new Set(['ok']))
    const wrong = await Promise.all(
      Array.from({ length: 20 }, () => authenticator.verify({ user: 'alice', password: 'nope' })),
    )
    assert.deepEqual(new Set(wrong), new Set(['bad']), 'not one refused as busy: the queue holds 4')
    assert.equal(pool.done.checks, 2)
    assert.equal(pool.done.refused, 0)
  })

  await test('thousands of distinct users and passwords keep the remembered logins within maxBytes', async (t) => {
    // {SHA} entries: made here (a bcrypt file of 3,000 users would take minutes to check).
    const users = Array.from({ length: 3000 }, (_, i) => {
      const password = `password ${i}`
      return {
        user: `user-${i}`,
        password,
        line: `user-${i}:{SHA}${createHash('sha1').update(password).digest('base64')}`,
      }
    })
    const maxBytes = 64 * 1024
    const { authenticator } = await setup(t, users, { maxBytes })
    for (const user of users) assert.equal(await authenticator.verify(user), 'ok')
    for (let i = 0; i < 3000; i++)
      assert.equal(await authenticator.verify({ user: `nobody-${i}`, password: `guess ${i}` }), 'bad')
    const { size, bytes } = authenticator.remembered
    assert.ok(bytes <= maxBytes, `${bytes} bytes`)
    assert.ok(
      size < users.length && size >= Math.floor(maxBytes / (LOGIN_ENTRY_OVERHEAD + 44)) - 1,
      `${size} logins remembered`,
    )
  })

  await test('a check pushed out of a full memory while it runs still answers its login', async (t) => {
    // Room for one remembered login: the two refusals (remembered for a moment, then dropped)
    // push the running check of alice out; she must still get her answer.
    const { authenticator } = await setup(t, [ALICE], { maxBytes: LOGIN_ENTRY_OVERHEAD + 44 + 100, maxQueued: 1 })
    const verdicts = await Promise.all(
      [ALICE, { user: 'x', password: '1' }, { user: 'y', password: '2' }].map((user) => authenticator.verify(user)),
    )
    assert.deepEqual(verdicts, ['ok', 'busy', 'busy'])
  })

  await test('a missing or refused file fails start-up with a clear message', async (t) => {
    const dir = await tempDir(t, 'eggserve-users-')
    const log = memoryLogger([])
    await assert.rejects(PasswordFile.load(join(dir, 'missing'), log), (err: unknown) => {
      assert.ok(err instanceof PasswordFileError)
      assert.match(err.message, /^Cannot read the password file ".*missing": no such file$/)
      return true
    })
    const path = await writePasswords(dir, [ALICE, { user: 'erin', password: 'x', line: 'erin:secret' }])
    await assert.rejects(
      PasswordFile.load(path, log),
      /has entries eggserve refuses: line 2 \(user "erin"\): plain-text passwords are not supported/,
    )
  })
})

await describe('the same work for every login', async () => {
  // htpasswd -B defaults to cost 5, so files mix costs; erin's cost 7 is the file's highest.
  const ERIN: TestUser = {
    user: 'erin',
    password: 'seven',
    line: `erin:${bcrypt.hashSync('seven', 7).replace(/^\$2b\$/, '$2y$')}`,
  }
  const FILE = [ALICE, BOB, CAROL, DORA, ERIN]

  const delta = (before: WorkDone, after: WorkDone): Omit<WorkDone, 'refused'> => ({
    checks: after.checks - before.checks,
    bcryptRounds: after.bcryptRounds - before.bcryptRounds,
    apr1: after.apr1 - before.apr1,
    sha1: after.sha1 - before.sha1,
  })

  await test('unknown users, known users of every scheme and cost, right or wrong: 2^7 bcrypt rounds, one $apr1$ and one {SHA} check each', async (t) => {
    const { authenticator, pool } = await setup(t, FILE)
    const attempts = [
      ...['nobody', 'root', 'admin', 'ALICE'].map((user) => ({ user, password: 'wonderland' })),
      ...FILE.map((user) => ({ user: user.user, password: `${user.password}!` })),
      ...FILE,
    ]
    for (const attempt of attempts) {
      const before = pool.done
      const verdict = await authenticator.verify(attempt)
      assert.equal(verdict, FILE.includes(attempt as TestUser) ? 'ok' : 'bad', attempt.user)
      assert.deepEqual(
        delta(before, pool.done),
        { checks: 1, bcryptRounds: 2 ** 7, apr1: 1, sha1: 1 },
        `${attempt.user} / ${attempt.password}`,
      )
    }
  })

  await test('after a reload, the work follows the new file (the highest cost now 5, no {SHA})', async (t) => {
    const { path, authenticator, pool } = await setup(t, FILE)
    await writeFile(path, [ALICE, BOB].map((user) => `${user.line}\n`).join(''))
    await authenticator.reload()
    for (const attempt of [{ user: 'nobody', password: 'x' }, BOB, ALICE]) {
      const before = pool.done
      await authenticator.verify(attempt)
      assert.deepEqual(delta(before, pool.done), { checks: 1, bcryptRounds: 2 ** 5, apr1: 1, sha1: 0 }, attempt.user)
    }
  })

  await test("loginWork: the user's own hash replaces the decoy of its scheme; cheaper bcrypt hashes are padded to the highest cost", () => {
    const entries = parsed(FILE)
    const decoys = decoysOf(entries)
    assert.equal(decoys.bcrypt?.user, 'erin', 'the costliest bcrypt entry, not the first')
    const erin = entries.find((entry) => entry.user === 'erin')
    const alice = entries.find((entry) => entry.user === 'alice')
    const bob = entries.find((entry) => entry.user === 'bob')
    assert.deepEqual(loginWork(decoys, undefined), {
      bcrypt: { hash: erin?.hash, padCosts: [] },
      apr1: bob?.hash,
      sha1: CAROL.line.slice(6),
    })
    assert.deepEqual(loginWork(decoys, alice), {
      bcrypt: { hash: alice?.hash, padCosts: [5, 6] },
      apr1: bob?.hash,
      sha1: CAROL.line.slice(6),
    })
    assert.deepEqual(
      loginWork(decoysOf(parsed([BOB])), undefined),
      { apr1: bob?.hash },
      'no bcrypt entry: no bcrypt work',
    )
    assert.equal(bcryptCost(ERIN.line.slice(5)), 7)
  })
})

/** One bcrypt comparison on the worker: true or false, or 'busy'. */
async function compare(pool: PasswordWorker, password: string, hash: string): Promise<boolean | 'busy'> {
  const matches = await pool.check(password, { bcrypt: { hash, padCosts: [] } })
  return matches === 'busy' ? 'busy' : matches.bcrypt === true
}

await describe('PasswordWorker', async () => {
  await test('checks $2y$/$2b$/$2a$ hashes on its worker', async (t) => {
    const pool = new PasswordWorker({ maxQueued: 4, log: memoryLogger([]) })
    t.after(() => pool.close())
    const hash = bcrypt.hashSync('pw', 4)
    for (const prefix of ['$2a$', '$2b$', '$2y$']) {
      assert.equal(await compare(pool, 'pw', prefix + hash.slice(4)), true, prefix)
      assert.equal(await compare(pool, 'px', prefix + hash.slice(4)), false, prefix)
    }
    assert.equal(await compare(pool, 'pw', 'not a hash'), false)
  })

  await test('at most maxQueued checks wait; the rest are refused at once as busy', async (t) => {
    const pool = new PasswordWorker({ maxQueued: 3, log: memoryLogger([]) })
    t.after(() => pool.close())
    const hash = bcrypt.hashSync('pw', 8)
    const started = performance.now()
    const verdicts = await Promise.all(Array.from({ length: 10 }, () => compare(pool, 'wrong', hash)))
    assert.deepEqual(verdicts, [false, false, false, 'busy', 'busy', 'busy', 'busy', 'busy', 'busy', 'busy'])
    assert.deepEqual(pool.done, { checks: 3, refused: 7, bcryptRounds: 3 * 2 ** 8, apr1: 0, sha1: 0 })
    t.diagnostic(`3 checks at cost 8 took ${Math.round(performance.now() - started)} ms`)
    assert.equal(pool.pending, 0)
  })

  await test('the event loop stays free while bcrypt runs', async (t) => {
    const pool = new PasswordWorker({ maxQueued: 4, log: memoryLogger([]) })
    t.after(() => pool.close())
    const hash = bcrypt.hashSync('pw', 10)
    // The event loop's utilization counts time inside callbacks against time waiting for I/O. bcrypt
    // on the main thread would hold one callback for the whole check (close to 1); in the worker the
    // main thread only waits. A ratio of the loop's own time, not of the clock: a loaded machine
    // that takes the CPU away from this process slows both sides alike.
    const before = performance.eventLoopUtilization()
    await Promise.all([compare(pool, 'a', hash), compare(pool, 'b', hash), compare(pool, 'c', hash)])
    const { utilization, active, idle } = performance.eventLoopUtilization(before)
    t.diagnostic(`3 checks at cost 10: main loop active ${Math.round(active)} ms, idle ${Math.round(idle)} ms`)
    assert.ok(utilization < 0.5, `the main thread was busy ${Math.round(utilization * 100)}% of the time`)
  })
})
