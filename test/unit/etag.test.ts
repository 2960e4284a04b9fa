import assert from 'node:assert/strict'
import { test } from 'node:test'
import { strongEtag } from '../../src/http/etag.js'

await test('strongEtag: 27 base64url characters of the sha256, quoted, the same for a string and its bytes', () => {
  // sha256("hello") = 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
  assert.equal(strongEtag('hello'), '"LPJNul-wow4m6DsqxbninhsWHlw"')
  assert.equal(strongEtag(Buffer.from('hello')), strongEtag('hello'))
  assert.match(strongEtag(''), /^"[A-Za-z0-9_-]{27}"$/)
  assert.notEqual(strongEtag('1:2:3'), strongEtag('1:2:4'))
})
