// s3://bucket/prefix locations: parsed once, written back the way the operator wrote them.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatS3Location, parseS3Location } from '../../src/core/s3-location.js'

await test('bucket and prefix, the prefix always ending with a slash (or empty)', () => {
  const table: readonly (readonly [string, { bucket: string; prefix: string }])[] = [
    ['s3://pkgs', { bucket: 'pkgs', prefix: '' }],
    ['s3://pkgs/', { bucket: 'pkgs', prefix: '' }],
    ['s3://pkgs/pypi', { bucket: 'pkgs', prefix: 'pypi/' }],
    ['s3://pkgs/pypi/', { bucket: 'pkgs', prefix: 'pypi/' }],
    ['s3://my.bucket-1/team/python', { bucket: 'my.bucket-1', prefix: 'team/python/' }],
    ['s3://Legacy_Bucket/x', { bucket: 'Legacy_Bucket', prefix: 'x/' }],
  ]
  for (const [value, expected] of table) {
    assert.deepEqual(parseS3Location(value), expected, value)
    assert.equal(formatS3Location(expected), value.replace(/\/$/, ''), `${value} written back`)
  }
})

await test('anything else is not a location', () => {
  for (const value of [
    '',
    's3://',
    's3://ab',
    's3://-pkgs',
    's3://pkgs-',
    's3:pkgs',
    'file:///srv',
    '/srv/eggs',
    's3://pkgs//x',
    's3://pkgs/a//b',
    's3://pkgs/../x',
    's3://pkgs/./x',
    's3://pkgs/a\\\\b',
    's3://pk gs/x',
    's3://pkgs/a\nb',
  ]) {
    assert.equal(parseS3Location(value), undefined, JSON.stringify(value))
  }
})
