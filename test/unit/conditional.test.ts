// Conditional requests (RFC 9110 §13).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  evaluatePreconditions,
  httpDate,
  rangeAllowed,
  type ConditionalHeaders,
  type PreconditionResult,
  type Validators,
} from '../../src/core/conditional.js'

// Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date, plus 250 ms that HTTP dates cannot carry.
const MODIFIED_MS = Date.UTC(1994, 10, 6, 8, 49, 37, 250)
const MODIFIED = 'Sun, 06 Nov 1994 08:49:37 GMT'
const EARLIER = 'Sun, 06 Nov 1994 08:49:36 GMT'
const LATER = 'Sun, 06 Nov 1994 08:49:38 GMT'
const ETAG = '"sha256-abc"'
const VALIDATORS: Validators = { etag: ETAG, lastModifiedMs: MODIFIED_MS }

await describe('evaluatePreconditions', async () => {
  const cases: readonly (readonly [string, ConditionalHeaders, PreconditionResult])[] = [
    ['no conditional headers', {}, 'proceed'],
    ['all headers undefined', { 'if-none-match': undefined, 'if-modified-since': undefined }, 'proceed'],
    // RFC 9110 §13.1.2 If-None-Match: weak comparison; for GET/HEAD a match is 304.
    ['If-None-Match matching', { 'if-none-match': ETAG }, 'not-modified'],
    ['If-None-Match different', { 'if-none-match': '"sha256-def"' }, 'proceed'],
    ['If-None-Match with a prefix of the tag', { 'if-none-match': '"sha256-ab"' }, 'proceed'],
    ['If-None-Match unquoted', { 'if-none-match': 'sha256-abc' }, 'proceed'],
    ['If-None-Match list containing it', { 'if-none-match': '"x", "sha256-abc", "y"' }, 'not-modified'],
    ['If-None-Match list without spaces', { 'if-none-match': '"x","sha256-abc"' }, 'not-modified'],
    ['If-None-Match list without it', { 'if-none-match': '"x", "y"' }, 'proceed'],
    ['If-None-Match *', { 'if-none-match': '*' }, 'not-modified'],
    ['If-None-Match * with spaces', { 'if-none-match': ' * ' }, 'not-modified'],
    ['If-None-Match weak W/ form of the tag', { 'if-none-match': 'W/"sha256-abc"' }, 'not-modified'],
    ['If-None-Match list with the weak form', { 'if-none-match': '"x", W/"sha256-abc"' }, 'not-modified'],
    ['If-None-Match weak other tag', { 'if-none-match': 'W/"other"' }, 'proceed'],
    ['If-None-Match with a comma inside a tag', { 'if-none-match': '"a,b", "sha256-abc"' }, 'not-modified'],
    // RFC 9110 §13.1.3 If-Modified-Since: 304 unless modified after the date.
    ['If-Modified-Since equal', { 'if-modified-since': MODIFIED }, 'not-modified'],
    ['If-Modified-Since later', { 'if-modified-since': LATER }, 'not-modified'],
    ['If-Modified-Since earlier', { 'if-modified-since': EARLIER }, 'proceed'],
    ['If-Modified-Since RFC 850 form', { 'if-modified-since': 'Sunday, 06-Nov-94 08:49:37 GMT' }, 'not-modified'],
    ['If-Modified-Since RFC 850 form, earlier', { 'if-modified-since': 'Sunday, 06-Nov-94 08:49:36 GMT' }, 'proceed'],
    ['If-Modified-Since invalid date', { 'if-modified-since': 'yesterday' }, 'proceed'],
    ['If-Modified-Since a bare number', { 'if-modified-since': '1' }, 'proceed'],
    ['If-Modified-Since empty', { 'if-modified-since': '' }, 'proceed'],
    ['If-Modified-Since impossible date', { 'if-modified-since': 'Sun, 99 Foo 1994 08:49:37 GMT' }, 'proceed'],
    // RFC 9110 §13.1.3: ignored when If-None-Match is present.
    [
      'If-None-Match mismatch beats a fresh If-Modified-Since',
      { 'if-none-match': '"other"', 'if-modified-since': LATER },
      'proceed',
    ],
    [
      'If-None-Match match beats a stale If-Modified-Since',
      { 'if-none-match': ETAG, 'if-modified-since': EARLIER },
      'not-modified',
    ],
    // RFC 9110 §13.1.1 If-Match: strong comparison; failure is 412.
    ['If-Match matching', { 'if-match': ETAG }, 'proceed'],
    ['If-Match *', { 'if-match': '*' }, 'proceed'],
    ['If-Match list containing it', { 'if-match': '"x", "sha256-abc"' }, 'proceed'],
    ['If-Match different', { 'if-match': '"other"' }, 'precondition-failed'],
    ['If-Match weak form never matches', { 'if-match': 'W/"sha256-abc"' }, 'precondition-failed'],
    ['If-Match garbage', { 'if-match': 'garbage' }, 'precondition-failed'],
    // RFC 9110 §13.1.4 If-Unmodified-Since: 412 when modified after the date; ignored with If-Match or when invalid.
    ['If-Unmodified-Since equal', { 'if-unmodified-since': MODIFIED }, 'proceed'],
    ['If-Unmodified-Since later', { 'if-unmodified-since': LATER }, 'proceed'],
    ['If-Unmodified-Since earlier', { 'if-unmodified-since': EARLIER }, 'precondition-failed'],
    ['If-Unmodified-Since invalid', { 'if-unmodified-since': 'not a date' }, 'proceed'],
    [
      'If-Unmodified-Since ignored when If-Match passes',
      { 'if-match': ETAG, 'if-unmodified-since': EARLIER },
      'proceed',
    ],
    // RFC 9110 §13.2.2 order: 412 from step 1/2 wins over 304 from step 3/4.
    [
      'failed If-Match wins over matching If-None-Match',
      { 'if-match': '"other"', 'if-none-match': ETAG },
      'precondition-failed',
    ],
    [
      'failed If-Unmodified-Since wins over If-Modified-Since',
      { 'if-unmodified-since': EARLIER, 'if-modified-since': LATER },
      'precondition-failed',
    ],
    ['passing If-Match then matching If-None-Match', { 'if-match': ETAG, 'if-none-match': ETAG }, 'not-modified'],
  ]
  for (const [why, headers, expected] of cases) {
    await test(`${why} → ${expected}`, () => {
      assert.equal(evaluatePreconditions(headers, VALIDATORS), expected)
    })
  }

  await test('compares Last-Modified in whole seconds (HTTP dates have no fractions)', () => {
    // 999 ms past the second is still "not modified since" that second.
    const validators: Validators = { etag: ETAG, lastModifiedMs: Date.UTC(1994, 10, 6, 8, 49, 37, 999) }
    assert.equal(evaluatePreconditions({ 'if-modified-since': MODIFIED }, validators), 'not-modified')
    assert.equal(evaluatePreconditions({ 'if-unmodified-since': MODIFIED }, validators), 'proceed')
  })

  await test('a weak validator on our side matches If-None-Match but never If-Match', () => {
    const weak: Validators = { etag: 'W/"sha256-abc"', lastModifiedMs: MODIFIED_MS }
    assert.equal(evaluatePreconditions({ 'if-none-match': '"sha256-abc"' }, weak), 'not-modified')
    assert.equal(evaluatePreconditions({ 'if-match': 'W/"sha256-abc"' }, weak), 'precondition-failed')
  })

  await test('reads an asctime If-Modified-Since as GMT whatever the server time zone (RFC 9110 §5.6.7)', (t) => {
    const saved = process.env.TZ
    t.after(() => {
      if (saved === undefined) delete process.env.TZ
      else process.env.TZ = saved
    })
    // asctime-date carries no zone; HTTP-dates are always UTC. 08:49:36 is a second before Last-Modified.
    process.env.TZ = 'America/New_York'
    assert.equal(evaluatePreconditions({ 'if-modified-since': 'Sun Nov  6 08:49:37 1994' }, VALIDATORS), 'not-modified')
    assert.equal(evaluatePreconditions({ 'if-modified-since': 'Sun Nov  6 08:49:36 1994' }, VALIDATORS), 'proceed')
    process.env.TZ = 'Asia/Tokyo'
    assert.equal(evaluatePreconditions({ 'if-modified-since': 'Sun Nov  6 08:49:36 1994' }, VALIDATORS), 'proceed')
    assert.equal(evaluatePreconditions({ 'if-modified-since': 'Sun Nov  6 08:49:37 1994' }, VALIDATORS), 'not-modified')
  })
})

await describe('rangeAllowed (If-Range, RFC 9110 §13.1.5)', async () => {
  const cases: readonly (readonly [string, string | undefined, boolean])[] = [
    ['no If-Range', undefined, true],
    ['strong tag that matches', ETAG, true],
    ['strong tag with surrounding spaces', `  ${ETAG} `, true],
    ['weak form of the current tag', 'W/"sha256-abc"', false],
    ['stale tag', '"sha256-old"', false],
    ['a list of tags (not allowed in If-Range)', `"x", ${ETAG}`, false],
    ['matching HTTP date', MODIFIED, true],
    ['matching RFC 850 date', 'Sunday, 06-Nov-94 08:49:37 GMT', true],
    ['an earlier date', EARLIER, false],
    ['a later date', LATER, false],
    ['garbage', 'garbage', false],
    ['empty', '', false],
    ['unquoted tag', 'sha256-abc', false],
  ]
  for (const [why, ifRange, expected] of cases) {
    await test(`${why} → ${String(expected)}`, () => {
      assert.equal(rangeAllowed(ifRange, VALIDATORS), expected)
    })
  }

  await test('a weak validator on our side never allows the range by tag', () => {
    assert.equal(rangeAllowed('W/"sha256-abc"', { etag: 'W/"sha256-abc"', lastModifiedMs: MODIFIED_MS }), false)
  })
})

await describe('httpDate (IMF-fixdate, RFC 9110 §5.6.7)', async () => {
  const cases: readonly (readonly [number, string])[] = [
    [MODIFIED_MS, MODIFIED],
    [0, 'Thu, 01 Jan 1970 00:00:00 GMT'],
    [Date.UTC(2024, 0, 5, 1, 2, 3, 999), 'Fri, 05 Jan 2024 01:02:03 GMT'],
    [Date.UTC(2026, 11, 31, 23, 59, 59), 'Thu, 31 Dec 2026 23:59:59 GMT'],
  ]
  for (const [ms, expected] of cases) {
    await test(`${ms} → ${expected}`, () => {
      assert.equal(httpDate(ms), expected)
      assert.match(httpDate(ms), /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/)
    })
  }

  await test('round-trips through If-Modified-Since and If-Range', () => {
    const validators: Validators = { etag: ETAG, lastModifiedMs: Date.UTC(2025, 5, 15, 12, 0, 0, 500) }
    const lastModified = httpDate(validators.lastModifiedMs)
    assert.equal(evaluatePreconditions({ 'if-modified-since': lastModified }, validators), 'not-modified')
    assert.equal(rangeAllowed(lastModified, validators), true)
  })
})
