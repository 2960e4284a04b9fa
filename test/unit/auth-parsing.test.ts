// htpasswd parsing, Basic credentials, private Cache-Control and the failure throttle.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { FailureThrottle, THROTTLE_ENTRY_OVERHEAD } from '../../src/auth/throttle.js'
import { parseBasicAuth } from '../../src/core/basic-auth.js'
import { privateCacheControl } from '../../src/core/cache-control.js'
import { parseHtpasswd } from '../../src/core/htpasswd.js'
import { ALICE, BOB, CAROL, DORA } from '../helpers/users.js'

await describe('parseHtpasswd', async () => {
  await test('bcrypt ($2y$, $2b$, $2a$), $apr1$ and {SHA} entries; comments and blank lines skipped', () => {
    const text = `# users\n\n${ALICE.line}\r\n${BOB.line}\n${CAROL.line}\n${DORA.line}\n${ALICE.line.replace('alice:$2y$', 'erin:$2b$')}\n${ALICE.line.replace('alice:$2y$', 'fay:$2a$')}:a comment field\n`
    const parsed = parseHtpasswd(text)
    assert.ok(parsed.ok)
    assert.deepEqual(
      parsed.entries.map((entry) => `${entry.user} ${entry.scheme} ${entry.line}`),
      ['alice bcrypt 3', 'bob apr1 4', 'carol sha1 5', 'dora bcrypt 6', 'erin bcrypt 7', 'fay bcrypt 8'],
    )
  })
  await test('plain-text and crypt entries are refused, every one, with line numbers and without the hash', () => {
    const parsed = parseHtpasswd(
      [
        'dave:YUnJe./jtYA/E', // htpasswd -d (crypt DES)
        'erin:secret', // htpasswd -p (plain text)
        'fred:$1$abcdefgh$0123456789012345678901', // MD5-crypt
        'gina:$6$salt$hash', // SHA-512 crypt
        'hank:$2y$05$short', // a broken bcrypt
        'no colon here',
        ALICE.line,
        ALICE.line,
      ].join('\n'),
    )
    assert.ok(!parsed.ok)
    assert.deepEqual(parsed.problems, [
      'line 1 (user "dave"): plain-text passwords and crypt(3) hashes are not supported; recreate it with "htpasswd -B -C 10"',
      'line 2 (user "erin"): plain-text passwords are not supported; recreate it with "htpasswd -B -C 10"',
      'line 3 (user "fred"): crypt(3) hashes ($1$, $5$, $6$) are not supported; recreate it with "htpasswd -B -C 10"',
      'line 4 (user "gina"): crypt(3) hashes ($1$, $5$, $6$) are not supported; recreate it with "htpasswd -B -C 10"',
      'line 5 (user "hank"): the hash is malformed; recreate it with "htpasswd -B -C 10"',
      'line 6: expected "user:hash"',
      'line 8: user "alice" appears twice',
    ])
    assert.ok(!parsed.problems.join('').includes('YUnJe') && !parsed.problems.join('').includes('secret'))
  })
})

await describe('parseBasicAuth', async () => {
  const encode = (text: string, encoding: BufferEncoding = 'utf8'): string =>
    `Basic ${Buffer.from(text, encoding).toString('base64')}`
  const cases: [string | undefined, { user: string; password: string } | undefined][] = [
    [encode('alice:wonderland'), { user: 'alice', password: 'wonderland' }],
    [encode('alice:pass:with:colons'), { user: 'alice', password: 'pass:with:colons' }],
    [encode('__token__:pypi-abc'), { user: '__token__', password: 'pypi-abc' }],
    [encode('dora:Grüße'), { user: 'dora', password: 'Grüße' }],
    // Python's requests encodes str credentials as latin-1.
    [encode('dora:Grüße', 'latin1'), { user: 'dora', password: 'Grüße' }],
    [`bAsIc   ${Buffer.from('a:b').toString('base64')}`, { user: 'a', password: 'b' }],
    [encode('a:'), { user: 'a', password: '' }],
    [encode('no colon'), undefined],
    ['Basic !!!', undefined],
    ['Bearer abc', undefined],
    ['Basic', undefined],
    [undefined, undefined],
    [`Basic ${'A'.repeat(5000)}`, undefined],
  ]
  for (const [header, expected] of cases) {
    await test(`${String(header).slice(0, 40)} → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parseBasicAuth(header), expected)
    })
  }
})

await describe('privateCacheControl (no shared cache may keep what needs credentials)', async () => {
  for (const [value, expected] of [
    ['max-age=0, must-revalidate', 'private, max-age=0, must-revalidate'],
    ['public, max-age=600', 'private, max-age=600'],
    ['PRIVATE,no-cache', 'private, no-cache'],
    ['no-store', 'private, no-store'],
  ] as const) {
    await test(`${value} → ${expected}`, () => {
      assert.equal(privateCacheControl(value), expected)
    })
  }
})

await describe('FailureThrottle', async () => {
  await test('blocks an address after `limit` failures until its window is over; others are free', () => {
    let now = 1000
    const throttle = new FailureThrottle({ limit: 2, windowMs: 60_000, now: () => now })
    assert.equal(throttle.blockedFor('a'), undefined)
    throttle.fail('a')
    assert.equal(throttle.blockedFor('a'), undefined)
    throttle.fail('a')
    assert.equal(throttle.blockedFor('a'), 60_000)
    assert.equal(throttle.blockedFor('b'), undefined)
    now += 59_000
    assert.equal(throttle.blockedFor('a'), 1000)
    now += 1000
    assert.equal(throttle.blockedFor('a'), undefined)
  })
  await test('0 disables it', () => {
    const off = new FailureThrottle({ limit: 0 })
    for (let i = 0; i < 100; i++) off.fail('a')
    assert.equal(off.blockedFor('a'), undefined)
    assert.equal(off.size, 0)
  })

  await test('failures from 100,000 distinct addresses keep it within maxBytes; the oldest are forgotten first', () => {
    const maxBytes = 64 * 1024
    const throttle = new FailureThrottle({ limit: 1, maxBytes })
    // What a client with an IPv6 /64 can do: a fresh address for every attempt.
    const address = (i: number): string => `2001:db8:0:1:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}:0:1`
    for (let i = 0; i < 100_000; i++) throttle.fail(address(i))
    assert.ok(throttle.bytes <= maxBytes, `${throttle.bytes} bytes`)
    const perEntry = THROTTLE_ENTRY_OVERHEAD + address(99_999).length
    assert.ok(throttle.size <= Math.floor(maxBytes / (THROTTLE_ENTRY_OVERHEAD + 16)), `${throttle.size} addresses`)
    assert.ok(throttle.size >= Math.floor(maxBytes / perEntry) - 1, `the budget is used: ${throttle.size} addresses`)
    assert.equal(throttle.blockedFor(address(0)), undefined, 'the oldest address was forgotten')
    assert.notEqual(throttle.blockedFor(address(99_999)), undefined, 'the newest is still blocked')
  })
})
