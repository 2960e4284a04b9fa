// Access control through inject: 401 with a challenge for missing or wrong credentials,
// every htpasswd scheme, throttled failures, protected pages and files with private caching.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AuthAction } from '../../src/core/auth-actions.js'
import { buildTestApp, type TestApp } from '../helpers/build-app.js'
import { buildWheel } from '../helpers/distributions.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { snapshot, upload } from '../helpers/upload-form.js'
import { ALICE, basic, BOB, CAROL, DORA, writePasswords } from '../helpers/users.js'

const HELLO = { name: 'Hello.World', version: '1.0' }
const WHEEL = buildWheel(HELLO)

async function securedApp(
  t: Parameters<typeof tempDir>[0],
  options: { authenticate?: readonly AuthAction[]; authFailureLimit?: number } = {},
): Promise<TestApp & { root: string }> {
  const root = await tempDir(t)
  await writeTree(root, { 'other/other-1.0.tar.gz': 'other' })
  const passwords = await writePasswords(await tempDir(t, 'eggserve-users-'), [ALICE, BOB, CAROL, DORA])
  return { ...(await buildTestApp(t, { root, uploads: {}, passwords, ...options })), root }
}

await describe('uploads need credentials (--authenticate update, the default)', async () => {
  await test('no credentials: 401 with the Basic challenge, nothing written', async (t) => {
    const { app, root } = await securedApp(t)
    const before = await snapshot(root)
    const res = await upload(app, WHEEL, HELLO)
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['www-authenticate'], 'Basic realm="eggserve"')
    assert.equal(res.body, 'Authentication required\n')
    assert.deepEqual(await snapshot(root), before)
  })

  await test('wrong password or unknown user: 401 again (pip asks again only after a 401), logged without the password', async (t) => {
    const { app, root, logs } = await securedApp(t)
    const before = await snapshot(root)
    for (const credentials of [
      { user: 'alice', password: 'not-wonderland' },
      { user: 'mallory', password: 'wonderland' },
      { user: 'bob', password: 'wonderland' },
    ]) {
      const res = await upload(app, WHEEL, { ...HELLO, headers: { authorization: basic(credentials) } })
      assert.equal(res.statusCode, 401, JSON.stringify(credentials))
      assert.equal(res.headers['www-authenticate'], 'Basic realm="eggserve"')
      assert.equal(res.body, 'Invalid credentials\n')
    }
    assert.deepEqual(await snapshot(root), before)
    const failures = logs.filter((line) => line.msg === 'Authentication failed')
    assert.deepEqual(
      failures.map((line) => line.user),
      ['alice', 'mallory', 'bob'],
    )
    assert.ok(failures.every((line) => line.remoteAddress === '127.0.0.1'))
    const text = JSON.stringify(logs)
    assert.ok(!text.includes('not-wonderland') && !text.includes('"wonderland"'), 'no password in the log')
  })

  await test('bcrypt ($2y$), Apache MD5 ($apr1$), {SHA} and a UTF-8 password all log in', async (t) => {
    const { app } = await securedApp(t)
    const versions = ['1.0', '1.1', '1.2', '1.3']
    for (const [index, user] of [ALICE, BOB, CAROL, DORA].entries()) {
      const version = versions[index] ?? ''
      const res = await upload(app, buildWheel({ name: 'Hello.World', version }), {
        name: 'Hello.World',
        version,
        headers: { authorization: basic(user) },
      })
      assert.equal(res.statusCode, 200, `${user.user}: ${res.body}`)
    }
  })

  await test('reading stays open, and ignores any Authorization header (pip sends index-URL credentials unasked)', async (t) => {
    const { app } = await securedApp(t)
    for (const url of [
      '/',
      '/simple/',
      '/other/',
      '/other/other-1.0.tar.gz',
      '/packages/other/other-1.0.tar.gz',
      '/pypi/other/json',
    ]) {
      for (const authorization of [undefined, basic({ user: 'alice', password: 'wrong' }), 'Bearer x']) {
        const res = await app.inject({ url, headers: authorization === undefined ? {} : { authorization } })
        assert.equal(res.statusCode, 200, `${url} ${String(authorization)}`)
        assert.doesNotMatch(String(res.headers['cache-control']), /private/)
      }
    }
  })

  await test(`after --auth-failure-limit failures an address gets 429 with Retry-After, even with the right password`, async (t) => {
    const { app, root } = await securedApp(t, { authFailureLimit: 3 })
    const wrong = { authorization: basic({ user: 'alice', password: 'guess' }) }
    for (let i = 0; i < 3; i++) assert.equal((await upload(app, WHEEL, { ...HELLO, headers: wrong })).statusCode, 401)
    const before = await snapshot(root)
    for (const headers of [wrong, { authorization: basic(ALICE) }]) {
      const res = await upload(app, WHEEL, { ...HELLO, headers })
      assert.equal(res.statusCode, 429)
      assert.match(res.body, /^Too many failed logins from this address; retry in \d+ s\n$/)
      assert.ok(Number(res.headers['retry-after']) > 0 && Number(res.headers['retry-after']) <= 60)
    }
    assert.deepEqual(await snapshot(root), before)
    // Another address is not affected.
    const elsewhere = await upload(app, WHEEL, {
      ...HELLO,
      headers: { authorization: basic(ALICE) },
      remoteAddress: '10.9.8.7',
    })
    assert.equal(elsewhere.statusCode, 200, elsewhere.body)
  })
})

await describe('--authenticate update,download,list', async () => {
  await test('pages and files need credentials and say Cache-Control: private; /health does not', async (t) => {
    const { app } = await securedApp(t, { authenticate: ['update', 'download', 'list'] })
    const pages = ['/', '/simple/', '/simple', '/simple/other/', '/other/', '/other', '/pypi/other/json']
    const files = ['/other/other-1.0.tar.gz', '/packages/other/other-1.0.tar.gz']
    for (const url of [...pages, ...files]) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await app.inject({ method, url })
        assert.equal(res.statusCode, 401, `${method} ${url}`)
        assert.equal(res.headers['www-authenticate'], 'Basic realm="eggserve"')
        const ok = await app.inject({ method, url, headers: { authorization: basic(ALICE) } })
        assert.ok(ok.statusCode === 200 || ok.statusCode === 301, `${method} ${url}: ${ok.statusCode}`)
      }
    }
    for (const url of ['/', '/simple/', '/simple/other/', '/pypi/other/json']) {
      const res = await app.inject({ url, headers: { authorization: basic(ALICE) } })
      assert.equal(res.headers['cache-control'], 'private, max-age=0, must-revalidate', url)
    }
    for (const url of files)
      assert.equal(
        (await app.inject({ url, headers: { authorization: basic(ALICE) } })).headers['cache-control'],
        'private',
        url,
      )
    assert.equal((await app.inject('/health')).statusCode, 200)
  })

  await test('an unknown project answers 401, not 404, to a client without credentials', async (t) => {
    const { app } = await securedApp(t, { authenticate: ['list'] })
    assert.equal((await app.inject('/simple/nothing-here/')).statusCode, 401)
    assert.equal(
      (await app.inject({ url: '/simple/nothing-here/', headers: { authorization: basic(BOB) } })).statusCode,
      404,
    )
    // Files stay open with only "list" protected; uploads then are open to anyone.
    assert.equal((await app.inject('/other/other-1.0.tar.gz')).statusCode, 200)
    assert.equal((await upload(app, WHEEL, HELLO)).statusCode, 200)
  })
})
