// The registry of error codes (src/error-codes.ts): a misspelt code does not compile, the
// errors take their status and exposure from it, and docs/errors.md lists exactly its codes.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ERRORS_DOC, renderErrorTable } from '../../scripts/error-docs.js'
import { ERRORS, errorSpec, isErrorCode, type ErrorCode } from '../../src/error-codes.js'
import { AppError, NotFoundError, RequestRejected, StorageError, StoreFailure, WriteFailure } from '../../src/errors.js'

await test('a misspelt code does not compile (tsc -p test/tsconfig.json fails when one of these lines does compile)', () => {
  // @ts-expect-error -- EGGSERVE_NOT_FOUN is not in the registry.
  assert.throws(() => new AppError('EGGSERVE_NOT_FOUN', 'typo'), {
    name: 'TypeError',
    message: /EGGSERVE_NOT_FOUN is not in the registry/,
  })
  // @ts-expect-error -- a registered code, but not one a refused request may carry.
  assert.ok(new RequestRejected('EGGSERVE_STORAGE', 'not a refusal'))
  // @ts-expect-error -- nor one of a failed write.
  assert.ok(new WriteFailure('EGGSERVE_NOT_FOUND', 'not a write'))
  // @ts-expect-error -- StoreFailure's codes are EGGSERVE_STORE_*.
  assert.throws(() => new StoreFailure('EGGSERVE_STORE_GONE', 'typo'), TypeError)
})

await test('errors take their status, exposure and Retry-After from the registry', () => {
  const cases: readonly [AppError, ErrorCode][] = [
    [new NotFoundError(), 'EGGSERVE_NOT_FOUND'],
    [new StorageError('Cannot open "a/b": input/output error'), 'EGGSERVE_STORAGE'],
    [new WriteFailure('EGGSERVE_DISK_FULL', 'full'), 'EGGSERVE_DISK_FULL'],
    [new RequestRejected('EGGSERVE_TOO_LARGE', 'too large'), 'EGGSERVE_TOO_LARGE'],
    [new StoreFailure('EGGSERVE_STORE_DENIED', 'denied'), 'EGGSERVE_STORE_DENIED'],
  ]
  for (const [err, code] of cases) {
    assert.equal(err.code, code)
    assert.equal(err.statusCode, errorSpec(code).status, code)
    assert.equal(err.expose, errorSpec(code).expose, code)
  }
  assert.deepEqual(new StoreFailure('EGGSERVE_STORE_THROTTLED', 'slow down').headers, { 'retry-after': '2' })
  assert.deepEqual(new StoreFailure('EGGSERVE_STORE_UNAVAILABLE', 'down').headers, { 'retry-after': '5' })
  assert.deepEqual(new StoreFailure('EGGSERVE_STORE_MISSING', 'no bucket').headers, {})
  // A 5xx that may name a path is masked; one written for clients is not.
  assert.equal(new StorageError('x').expose, false)
  assert.equal(new WriteFailure('EGGSERVE_READ_ONLY', 'x').expose, true)
})

await test('every client error (4xx) may show its message; codes without a status stop start-up or a command', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    const { status, expose, exit } = errorSpec(code as ErrorCode) // Object.entries() widens the key to string
    if (status !== undefined && status < 500) assert.equal(expose, true, code)
    if (status === undefined) assert.ok(exit !== undefined && !expose, code)
    assert.match(spec.description, /^\S.*[.)]$/, `${code}: one sentence`)
    assert.ok(!spec.description.includes('\n') && !spec.description.includes('|'), `${code}: one table cell`)
  }
  assert.equal(isErrorCode('EGGSERVE_CONFIG'), true)
  assert.equal(isErrorCode('EGGSERVE_PORT'), false, 'environment variables are not error codes')
  assert.equal(isErrorCode('toString'), false, "nor are Object.prototype's names")
})

await test("docs/errors.md lists exactly the registry's codes, with their statuses and meanings", () => {
  const doc = readFileSync(ERRORS_DOC, 'utf8')
  const listed = [...doc.matchAll(/^\| `(EGGSERVE_[A-Z_]+)` \|/gm)].map((match) => match[1])
  assert.deepEqual(listed, Object.keys(ERRORS))
  assert.ok(
    doc.includes(`<!-- error-codes:start -->\n${renderErrorTable()}\n<!-- error-codes:end -->`),
    'docs/errors.md is out of date: run npm run docs:errors',
  )
})
