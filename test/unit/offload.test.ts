// When a download may be handed to nginx, and the X-Accel-Redirect URI it gets.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { accelPath, offloadable, parseAccelPrefix, type OffloadHeaders } from '../../src/core/offload.js'
import type { RangePlan } from '../../src/core/range.js'

const FULL: RangePlan = { kind: 'full' }
const PARTIAL: RangePlan = { kind: 'partial', range: { start: 0, end: 9 } }

await test('offloaded: no Range, or a range eggserve honours with no If-Range or an entity-tag one', () => {
  const yes: [OffloadHeaders, RangePlan][] = [
    [{}, FULL],
    [{ range: 'bytes=0-9' }, PARTIAL],
    [{ range: 'bytes=0-9', 'if-range': '"abc"' }, PARTIAL],
    [{ range: 'bytes=0-9', 'if-range': ' "abc" ' }, PARTIAL],
  ]
  for (const [headers, plan] of yes) assert.equal(offloadable(headers, plan), true, JSON.stringify(headers))
})

await test('answered by eggserve: If-Match, If-Unmodified-Since, a Range it ignores, a date in If-Range', () => {
  const no: [OffloadHeaders, RangePlan][] = [
    // nginx would compare these with its own validators (RFC 9110 §13.1.1, §13.1.4).
    [{ 'if-match': '"abc"' }, FULL],
    [{ 'if-match': '*' }, FULL],
    [{ 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }, FULL],
    // Ignored by eggserve (RFC 9110 §14.2), perhaps honoured by nginx.
    [{ range: 'bytes=0-1,5-6' }, FULL],
    [{ range: 'bytes=abc' }, FULL],
    // A stale or weak If-Range: the whole file (§13.1.5).
    [{ range: 'bytes=0-9', 'if-range': '"stale"' }, FULL],
    [{ range: 'bytes=0-9', 'if-range': 'Sun, 06 Dec 2026 05:54:02 GMT' }, PARTIAL],
    [{ range: 'bytes=0-9', 'if-range': 'W/"abc"' }, PARTIAL],
  ]
  for (const [headers, plan] of no) assert.equal(offloadable(headers, plan), false, JSON.stringify(headers))
})

await test('the redirect URI percent-encodes the folder and the filename of the key', () => {
  assert.equal(accelPath('/_eggfiles', 'demo/demo-1.0-py3-none-any.whl'), '/_eggfiles/demo/demo-1.0-py3-none-any.whl')
  assert.equal(accelPath('/_eggfiles', 'demo/demo-1.0+local.tar.gz'), '/_eggfiles/demo/demo-1.0%2Blocal.tar.gz')
  assert.equal(accelPath('/a/b', 'my eggs/x?y#z%.zip'), '/a/b/my%20eggs/x%3Fy%23z%25.zip')
})

await test('prefixes: absolute paths of unreserved characters, normalized without a trailing slash', () => {
  assert.equal(parseAccelPrefix('/_eggfiles'), '/_eggfiles')
  assert.equal(parseAccelPrefix(' /_eggfiles/ '), '/_eggfiles')
  assert.equal(parseAccelPrefix('/internal/eggs.v2~x'), '/internal/eggs.v2~x')
  for (const value of ['', '/', '//', 'eggs', '/a//b', '/a/./b', '/..', '/a b', '/a%20b', '/a?b', '@eggs']) {
    assert.equal(parseAccelPrefix(value), undefined, JSON.stringify(value))
  }
})
