// The upload API's pure rules: actions, filenames, form cross-checks and digests, as Warehouse's
// forklift/legacy.py applies them (docs/publishing.md, "Upload rules" and "Why").
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseDistFilename } from '../../src/core/filenames.js'
import {
  checkFilenameSyntax,
  checkRemoveForm,
  checkUploadForm,
  checkUploadedMetadata,
  chooseAction,
  digestMismatch,
  expectedDigests,
  sameVersion,
  type FormFields,
} from '../../src/core/upload-rules.js'

const form = (entries: Record<string, string>): FormFields =>
  new Map(Object.entries(entries).map(([name, value]) => [name, [value]]))
const reason = (result: { ok: boolean; reason?: string }): string | undefined => (result.ok ? undefined : result.reason)

await describe('chooseAction', async () => {
  const cases: [Record<string, string>, string | undefined, string][] = [
    [{ ':action': 'file_upload' }, undefined, 'ok file_upload'],
    [{ ':action': 'file_upload', protocol_version: '1' }, undefined, 'ok file_upload'],
    [{}, 'submit', 'ok submit'],
    [{ ':action': 'remove_pkg' }, 'submit', 'ok remove_pkg'],
    [{ ':action': 'verify' }, undefined, 'ok verify'],
    [{ ':action': 'file_upload', protocol_version: '2' }, undefined, '400 Unknown protocol version.'],
    [{ ':action': 'doc_upload' }, undefined, '410 Uploading documentation is no longer supported'],
    [{ ':action': 'register' }, undefined, '400 Unknown :action "register"'],
    [{ ':action': 'evil\r\nX: 1' }, undefined, '400 Unknown :action "evil??X: 1"'],
    [{}, undefined, '400 Missing :action field'],
  ]
  for (const [fields, query, expected] of cases) {
    await test(`${JSON.stringify(fields)} ?${String(query)} → ${expected}`, () => {
      const result = chooseAction(form(fields), query)
      assert.equal(result.ok ? `ok ${result.action}` : `${result.status} ${result.reason}`, expected)
    })
  }
})

await describe('checkFilenameSyntax', async () => {
  for (const name of [
    'foo-1.0.tar.gz',
    'foo-1.0-py3-none-any.whl',
    'foo-1.0-py2.7.egg',
    'foo-1.0.zip',
    'Foo_Bar-1.0.tar.bz2',
  ]) {
    await test(`${name} is accepted`, () => {
      assert.equal(checkFilenameSyntax(name), undefined)
    })
  }
  const refused: [string, RegExp][] = [
    ['', /empty/],
    ['../foo-1.0.tar.gz', /path separator/],
    ['a/foo-1.0.tar.gz', /path separator/],
    ['..\\foo-1.0.tar.gz', /path separator/],
    ['..', /starts with "\."/],
    ['.foo-1.0.tar.gz', /starts with "\."/],
    ['foo\u0000-1.0.tar.gz', /control character/],
    ['foo\n-1.0.tar.gz', /control character/],
    ['foo\u007f-1.0.tar.gz', /control character/],
    ['foo-1.0.exe', /Invalid file extension/],
    ['foo-1.0.tar.gz.asc', /Invalid file extension/],
    [`${'a'.repeat(250)}-1.0.tar.gz`, /longer than 255/],
  ]
  for (const [name, expected] of refused) {
    await test(`${JSON.stringify(name)} is refused`, () => {
      assert.match(checkFilenameSyntax(name)?.reason ?? '', expected)
    })
  }
})

await describe('checkUploadForm', async () => {
  const base = { name: 'Foo.Bar', version: '1.0', filetype: 'sdist', pyversion: 'source' }
  await test('a consistent form is accepted, its digests as lowercase hex', () => {
    const result = checkUploadForm({
      fields: form({ ...base, sha256_digest: 'AB'.repeat(32) }),
      filename: 'foo_bar-1.0.tar.gz',
    })
    assert.ok(result.ok)
    assert.equal(result.parsed.project, 'foo-bar')
    assert.deepEqual(result.expected, { sha256: 'ab'.repeat(32) })
  })
  const cases: [Record<string, string>, string, string | undefined, RegExp | undefined][] = [
    [base, 'foo_bar-1.0.0.tar.gz', undefined, undefined],
    [{ ...base, version: '1.0.post1' }, 'foo_bar-1.0-post1.tar.gz', undefined, undefined],
    [{ ...base, name: 'python-dateutil' }, 'python-dateutil-1.0.tar.gz', undefined, undefined],
    [{ ...base, filetype: 'bdist_wheel', pyversion: 'py3' }, 'foo_bar-1.0-py3-none-any.whl', undefined, undefined],
    [{ ...base, filetype: 'bdist_egg', pyversion: '2.7' }, 'foo_bar-1.0-py2.7.egg', undefined, undefined],
    [{ ...base, pyversion: '' }, 'foo_bar-1.0.tar.gz', undefined, undefined],
    [base, 'foo_bar-1.0.tar.gz', 'foo_bar-1.0.tar.gz.asc', undefined],
    [{ ...base, name: 'baz' }, 'foo_bar-1.0.tar.gz', undefined, /is for project "foo-bar", not "baz"/],
    [{ ...base, version: '2.0' }, 'foo_bar-1.0.tar.gz', undefined, /is for version "1\.0", not "2\.0"/],
    [
      { ...base, filetype: 'bdist_wheel' },
      'foo_bar-1.0.tar.gz',
      undefined,
      /does not match the file, which is a sdist/,
    ],
    [{ ...base, filetype: 'bdist_wininst' }, 'foo_bar-1.0.tar.gz', undefined, /Unsupported filetype/],
    [{ ...base, pyversion: 'py3' }, 'foo_bar-1.0.tar.gz', undefined, /pyversion of an sdist must be "source"/],
    [
      { ...base, md5_digest: '123' },
      'foo_bar-1.0.tar.gz',
      undefined,
      /Invalid md5_digest: expected 32 hexadecimal digits/,
    ],
    [{ ...base, blake2_256_digest: 'g'.repeat(64) }, 'foo_bar-1.0.tar.gz', undefined, /Invalid blake2_256_digest/],
    [base, 'foo_bar-1.0.tar.gz', 'foo_bar-1.0.whl.asc', /^Unrelated signature/],
    [{ version: '1.0' }, 'foo_bar-1.0.tar.gz', undefined, /Missing name field/],
    [{ name: 'foo' }, 'foo-1.0.tar.gz', undefined, /Missing version field/],
    [{ ...base, name: '-foo' }, 'foo-1.0.tar.gz', undefined, /Invalid project name/],
    [base, 'foo_bar.tar.gz', undefined, /Invalid distribution filename/],
  ]
  for (const [fields, filename, signature, expected] of cases) {
    await test(`${JSON.stringify(fields)} ${filename} ${String(signature)} → ${String(expected ?? 'ok')}`, () => {
      const result = checkUploadForm({ fields: form(fields), filename, signatureFilename: signature })
      if (expected === undefined) assert.ok(result.ok, reason(result))
      else assert.match(reason(result) ?? 'accepted', expected)
    })
  }
  await test('no file at all', () => {
    assert.equal(
      reason(checkUploadForm({ fields: form(base), filename: undefined })),
      'Upload payload does not have a file.',
    )
  })
})

await describe('digests (hex, md5 also as url-safe base64; none required)', async () => {
  await test('hex in any case and unpadded base64url are accepted; an empty field counts as absent', () => {
    const md5 = '0123456789abcdef0123456789abcdef'
    const result = expectedDigests(
      form({
        md5_digest: Buffer.from(md5, 'hex').toString('base64url'),
        sha256_digest: 'F'.repeat(64),
        blake2_256_digest: '',
      }),
    )
    assert.ok(result.ok)
    assert.equal(result.md5, md5)
    assert.equal(result.sha256, 'f'.repeat(64))
    assert.equal(result.blake2b256, undefined)
  })
  await test('digestMismatch names the first field that differs, and ignores the ones not sent', () => {
    const actual = { md5: 'a', sha256: 'b', blake2b256: 'c' }
    assert.equal(digestMismatch({}, actual), undefined)
    assert.equal(digestMismatch({ sha256: 'b', blake2b256: 'c' }, actual), undefined)
    assert.equal(digestMismatch({ sha256: 'b', blake2b256: 'x' }, actual), 'blake2_256_digest')
    assert.equal(digestMismatch({ md5: 'x' }, actual), 'md5_digest')
  })
})

await describe('checkRemoveForm and sameVersion', async () => {
  await test('remove_pkg needs a valid name and a version', () => {
    assert.deepEqual(checkRemoveForm(form({ name: 'foo', version: '1.0' })), { ok: true, name: 'foo', version: '1.0' })
    assert.equal(reason(checkRemoveForm(form({ name: 'foo' }))), 'Missing version field')
    assert.equal(reason(checkRemoveForm(form({ version: '1' }))), 'Missing name field')
  })
  for (const [a, b, same] of [
    ['1.0', '1', true],
    ['1.0', '1.0.0', true],
    ['1.0-post1', '1.0.post1', true],
    ['1.0_beta', '1.0b0', true],
    ['1.0', '1.1', false],
    ['r2009', 'R2009', true],
    ['a-b', 'a_b', true],
  ] as const) {
    await test(`sameVersion(${a}, ${b}) is ${String(same)}`, () => {
      assert.equal(sameVersion(a, b), same)
    })
  }
})

await describe('checkUploadedMetadata: Name and Version of the metadata against the filename', async () => {
  const cases: [string, { name: string | undefined; version: string | undefined }, string | undefined][] = [
    ['upl-1.6-py3-none-any.whl', { name: 'upl', version: '1.6' }, undefined],
    ['upl-1.6-py3-none-any.whl', { name: 'UPL', version: '1.6.0' }, undefined],
    ['foo_bar-1.0rc1-py3-none-any.whl', { name: 'Foo.Bar', version: '1.0-RC1' }, undefined],
    [
      'upl-1.6-py3-none-any.whl',
      { name: 'upl', version: '9.9' },
      'Invalid distribution file: its metadata says version "9.9", the filename "1.6"',
    ],
    [
      'upl-1.6-py3-none-any.whl',
      { name: undefined, version: '1.6' },
      'Invalid distribution file: its metadata has no Name field',
    ],
    [
      'upl-1.6-py3-none-any.whl',
      { name: '  ', version: '1.6' },
      'Invalid distribution file: its metadata has no Name field',
    ],
    [
      'upl-1.6-py3-none-any.whl',
      { name: 'other', version: '1.6' },
      'Invalid distribution file: its metadata names project "other", not "upl"',
    ],
    [
      'upl-1.6-py3-none-any.whl',
      { name: 'upl', version: undefined },
      'Invalid distribution file: its metadata has no Version field',
    ],
    // setuptools escapes "-" as "_" in egg filenames (to_filename); legacy versions compare as text.
    ['upl-1.0_beta-py3.8.egg', { name: 'upl', version: '1.0-beta' }, undefined],
    [
      'upl-1.0_beta-py3.8.egg',
      { name: 'upl', version: '1.0-gamma' },
      'Invalid distribution file: its metadata says version "1.0-gamma", the filename "1.0_beta"',
    ],
  ]
  for (const [filename, metadata, expected] of cases) {
    await test(`${filename} ${JSON.stringify(metadata)} → ${String(expected)}`, () => {
      const parsed = parseDistFilename(filename)
      assert.ok(parsed)
      assert.equal(checkUploadedMetadata(metadata, parsed)?.reason, expected)
    })
  }
})
