// A flood of bad logins against the real daemon: the password worker checks one at a time and
// at most 32 wait, so the rest are refused with 503 at once, and downloads meanwhile complete
// with the right bytes. Counted, never timed: how long downloads take under a flood depends on
// the machine and is a matter for the benchmark.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import bcrypt from 'bcryptjs'
import { httpGet, startServer, type LogLine } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { basic } from '../helpers/users.js'

const FLOOD = 200
/** Logins that may wait for the password worker (LOGIN_QUEUE in src/services.ts). */
const QUEUE = 32

const isFailure = (line: LogLine): boolean => line.msg === 'Authentication failed'
const isRefusal = (line: LogLine): boolean =>
  line.msg === 'request' && line.statusCode === 503 && line.url === '/legacy/'

await test(`${FLOOD} concurrent bad logins (bcrypt cost 10): at most ${QUEUE} checked at a time, the rest refused; downloads stay correct`, async (t) => {
  const root = await tempDir(t, 'eggserve-flood-')
  const file = Buffer.alloc(1024 * 1024, 1)
  await writeTree(root, { 'eggs/foo/foo-1.0.tar.gz': file })
  // Cost 10 (what the README asks for): about 75 ms of CPU per check with bcryptjs.
  const passwords = join(root, 'htpasswd')
  await writeFile(passwords, `alice:${bcrypt.hashSync('wonderland', 10).replace(/^\$2b\$/, '$2y$')}\n`)
  const server = await startServer(t, {
    eggdir: join(root, 'eggs'),
    args: ['--passwords', passwords, '--auth-failure-limit', '0'],
  })
  const logged = server.lines.length

  const flood = Promise.all(
    Array.from({ length: FLOOD }, async (_, i) => {
      const res = await fetch(`${server.url}/legacy/`, {
        method: 'POST',
        body: ':action=submit',
        headers: {
          authorization: basic({ user: 'alice', password: `guess ${i}` }),
          'content-type': 'application/x-www-form-urlencoded',
        },
      })
      await res.arrayBuffer()
      return res.status
    }),
  )
  const expected = createHash('sha256').update(file).digest('hex')
  for (let i = 0; i < 20; i++) {
    const res = await httpGet(`${server.url}/foo/foo-1.0.tar.gz`)
    assert.equal(res.status, 200)
    assert.equal(res.body.length, file.length)
    assert.equal(createHash('sha256').update(res.body).digest('hex'), expected, `download ${i} has the file's bytes`)
  }
  const statuses = await flood
  const count = (status: number): number => statuses.filter((value) => value === status).length
  assert.equal(count(401) + count(503), FLOOD, `only 401 (checked) and 503 (refused): ${JSON.stringify(statuses)}`)

  // Each check logs its failure as soon as the worker answers. A refusal means 32 checks were
  // waiting; a check that finished before the last refusal freed a place for one more. So the
  // checks can be at most 32 plus the failures logged before the last refusal, whatever the
  // speed of the machine (on an idle one, exactly 32).
  const logsOf = (predicate: (line: LogLine) => boolean): number => server.lines.slice(logged).filter(predicate).length
  await server.waitForLine(() => logsOf(isRefusal) === count(503) && logsOf(isFailure) === count(401), 10_000)
  const lines = server.lines.slice(logged)
  const lastRefusal = lines.findLastIndex(isRefusal)
  assert.ok(lastRefusal >= 0, 'some logins were refused at once')
  const failures = lines.filter(isFailure).length
  const freedBeforeLastRefusal = lines.slice(0, lastRefusal).filter(isFailure).length
  t.diagnostic(
    `flood: ${count(401)} x 401 (checked), ${count(503)} x 503 (refused at once); ${freedBeforeLastRefusal} checks finished before the last refusal`,
  )
  assert.equal(failures, count(401), 'every 401 is a checked, logged failure')
  assert.ok(
    count(401) <= QUEUE + freedBeforeLastRefusal,
    `${count(401)} checked, more than ${QUEUE} + ${freedBeforeLastRefusal}`,
  )
})
