// Words in messages people read: counts agree with their nouns, and failed system calls are
// described in words, never as a bare errno code.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import { PasswordFile } from '../../src/auth/password-file.js'
import { formatBytes } from '../../src/core/bytes.js'
import { latestMtimeMs } from '../../src/core/index-model.js'
import { plural } from '../../src/core/plural.js'
import { problemCount } from '../../src/core/tree-summary.js'
import { AppError, describeErrno } from '../../src/errors.js'
import { createLogger } from '../../src/logger.js'
import { tempDir } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })

/** The error a failed system call gives, with its real errno code and message. */
async function systemError(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action()
  } catch (err) {
    return err
  }
  throw new Error('the call did not fail')
}

await test('plural: singular for exactly one, plural for zero and more', () => {
  assert.equal(plural(0, 'project'), '0 projects')
  assert.equal(plural(1, 'project'), '1 project')
  assert.equal(plural(2, 'project'), '2 projects')
  assert.equal(plural(1, 'entry', 'entries'), '1 entry')
  assert.equal(plural(5, 'entry', 'entries'), '5 entries')
})

await test('formatBytes: IEC units everywhere; exact for limits, rounded for sizes and progress', () => {
  assert.equal(formatBytes(0), '0 bytes')
  assert.equal(formatBytes(1), '1 byte')
  assert.equal(formatBytes(100), '100 bytes')
  assert.equal(formatBytes(1023), '1023 bytes')
  assert.equal(formatBytes(1024), '1 KiB')
  assert.equal(formatBytes(1536), '1.5 KiB')
  assert.equal(formatBytes(2000), '2.0 KiB')
  assert.equal(formatBytes(24 * 1024 + 300), '24 KiB')
  assert.equal(formatBytes(5 * 1024 ** 2), '5 MiB')
  assert.equal(formatBytes(2.25 * 1024 ** 3), '2.3 GiB')
  assert.equal(formatBytes(3 * 1024 ** 4), '3 TiB')
  // A limit is never rounded: the largest unit that divides it, else bytes.
  assert.equal(formatBytes(2000, { exact: true }), '2000 bytes')
  assert.equal(formatBytes(1536, { exact: true }), '1536 bytes')
  assert.equal(formatBytes(1024 ** 3, { exact: true }), '1 GiB')
  assert.equal(formatBytes(1536 * 1024 ** 2, { exact: true }), '1536 MiB')
  assert.equal(formatBytes(1, { exact: true }), '1 byte')
})

await test('problemCount: the words check and the daemon use; latestMtimeMs: 0 for no files', () => {
  assert.equal(problemCount('eggs', 1), '"eggs" has 1 problem')
  assert.equal(problemCount('/srv/eggs', 3), '"/srv/eggs" has 3 problems')
  assert.equal(latestMtimeMs([]), 0)
  assert.equal(latestMtimeMs([{ mtimeMs: 5 }, { mtimeMs: 9 }, { mtimeMs: 7 }]), 9)
})

await test('describeErrno: real system errors in words', async (t) => {
  const dir = await tempDir(t)
  const missing = await systemError(() => readFile(join(dir, 'missing')))
  assert.equal(describeErrno(missing), 'no such file or directory')
  assert.equal(describeErrno(missing, 'file'), 'no such file')
  assert.equal(describeErrno(missing, 'directory'), 'no such directory')
  await writeFile(join(dir, 'plain'), 'x')
  assert.equal(describeErrno(await systemError(() => readFile(join(dir, 'plain', 'below')))), 'not a directory')
  assert.equal(describeErrno(await systemError(() => readFile(dir))), 'is a directory')
  const code = (name: string): unknown => Object.assign(new Error(name), { code: name })
  assert.equal(describeErrno(code('EACCES')), 'permission denied')
  assert.equal(describeErrno(code('EPERM')), 'permission denied')
  assert.equal(describeErrno(code('EROFS')), 'read-only file system')
  assert.equal(describeErrno(code('ENOSPC')), 'no space left on device')
  assert.equal(describeErrno(code('EXDEV')), 'cross-device link not permitted')
  assert.equal(describeErrno(new Error('no code')), 'unexpected error')
  assert.equal(describeErrno(code('ESOMETHINGNEW')), 'unexpected error (ESOMETHINGNEW)')
})

await test('user-facing errors say what went wrong in words, not as an errno code', async (t) => {
  const dir = await tempDir(t)
  const logError = await systemError(() =>
    Promise.resolve(createLogger({ file: join(dir, 'no-dir', 'eggserve.log'), level: 'info' })),
  )
  assert.ok(logError instanceof AppError)
  assert.equal(
    logError.message,
    `Cannot open log file "${join(dir, 'no-dir', 'eggserve.log')}": no such file or directory`,
  )
  const passwordError = await systemError(() => PasswordFile.load(join(dir, 'htpasswd'), silent))
  assert.ok(passwordError instanceof AppError)
  assert.equal(passwordError.message, `Cannot read the password file "${join(dir, 'htpasswd')}": no such file`)
  for (const err of [logError, passwordError]) assert.doesNotMatch(err.message, /\bE[A-Z]{3,}\b/)
})
