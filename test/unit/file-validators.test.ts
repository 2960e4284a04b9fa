// A download's validators are computed once per StoredFile object, and never outlive it: a file
// replaced by another (a new identity, even with the same size and date) gets its own ETag.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { strongEtag } from '../../src/http/etag.js'
import { fileValidators } from '../../src/http/file-validators.js'
import type { StoredFile } from '../../src/storage/storage.js'

const MTIME = Date.UTC(2020, 1, 3, 4, 5, 6, 789)

function stored(identity: string, mtimeMs = MTIME): StoredFile {
  return { key: 'foo/foo-1.0.tar.gz', size: 3000, mtimeMs, identity }
}

await test('the validators of a stored file: a digest of its identity and its date, in HTTP form', () => {
  const file = stored('2049:12:3000:1580702706789.5:1580702706789.5')
  const validators = fileValidators(file)
  assert.deepEqual(validators, {
    etag: strongEtag(file.identity),
    lastModifiedMs: MTIME,
    lastModified: 'Mon, 03 Feb 2020 04:05:06 GMT',
  })
  assert.equal(fileValidators(file), validators, 'computed once for the same StoredFile')
})

await test('a replaced file (same key, size and date, another identity) never gets the old ETag', () => {
  const before = fileValidators(stored('2049:12:3000:1580702706789.5:1580702706789.5'))
  // Rewritten in place: the same inode and size, a new ctime.
  const rewritten = fileValidators(stored('2049:12:3000:1580702706789.5:1580702707000.25'))
  // Renamed over: a new inode.
  const renamed = fileValidators(stored('2049:13:3000:1580702706789.5:1580702706789.5'))
  assert.notEqual(rewritten.etag, before.etag)
  assert.notEqual(renamed.etag, before.etag)
  assert.notEqual(renamed.etag, rewritten.etag)
  const redated = fileValidators(stored('2049:14:3000:1580702800000:1580702800000', Date.UTC(2020, 1, 3, 4, 6, 40)))
  assert.equal(redated.lastModified, 'Mon, 03 Feb 2020 04:06:40 GMT')
})
