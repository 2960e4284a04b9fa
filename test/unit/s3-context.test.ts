// The identity of a stored object (s3-context.ts) is written in one place and read back in one
// place: a download of a listed file takes its ETag from it to pin the GET (If-Match).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeObject, describedEtag } from '../../src/storage/s3-context.js'

await test('describedEtag() gives back the ETag describeObject() put in the identity, keys with colons included', () => {
  for (const key of ['foo/foo-1.0.tar.gz', 'odd/a:b:1.0.whl']) {
    const file = describeObject(key, { etag: 'abc123-2', size: 42, lastModified: new Date(1_700_000_000_000) })
    assert.equal(describedEtag(file), 'abc123-2')
  }
})

await test('describedEtag(): undefined for an identity describeObject() did not make (a local file, another size or key, no ETag)', () => {
  const file = describeObject('foo/foo-1.0.tar.gz', { etag: 'abc', size: 42, lastModified: undefined })
  assert.equal(describedEtag({ ...file, identity: '2049:1234:42:1700000000000:1700000000000' }), undefined)
  assert.equal(describedEtag({ ...file, size: 43 }), undefined)
  assert.equal(describedEtag({ ...file, key: 'bar/bar-1.0.tar.gz' }), undefined)
  assert.equal(
    describedEtag(describeObject('foo/foo-1.0.tar.gz', { etag: '', size: 42, lastModified: undefined })),
    undefined,
  )
})
