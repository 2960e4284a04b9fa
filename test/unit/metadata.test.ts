// Core metadata files (the core metadata specification). Expectations match what Python's
// email.parser (compat32 policy, as packaging.metadata and pip use it) gives, except where noted.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseCoreMetadata, type CoreMetadata } from '../../src/core/metadata.js'

function parse(text: string): CoreMetadata {
  return parseCoreMetadata(new TextEncoder().encode(text))
}

/** The fields as plain entries, for whole-structure comparisons. */
function entries(metadata: CoreMetadata): [string, readonly string[]][] {
  return [...metadata.fields]
}

const DESCRIPTION_BODY = '# Demo\n\nA paragraph.\n\n\nAfter two blank lines.\n\n    indented code\n'

const METADATA_21 = `Metadata-Version: 2.1
Name: eggserve-demo
Version: 1.2.0
Summary: A demo package
Home-page: https://example.org
Author-email: Jane Doe <jane@example.org>
License: MIT
Project-URL: Documentation, https://example.org/docs
Project-URL: Source, https://github.com/example/demo
Classifier: Programming Language :: Python :: 3
Classifier: License :: OSI Approved :: MIT License
Requires-Python: >=3.8, <4
Description-Content-Type: text/markdown
Requires-Dist: requests (>=2.0)
Requires-Dist: tomli ; python_version < "3.11"
Provides-Extra: test
Requires-Dist: pytest>=7 ; extra == 'test'

${DESCRIPTION_BODY}`

await describe('parseCoreMetadata: a Metadata-Version 2.1 file', async () => {
  const metadata = parse(METADATA_21)

  await test('single-use fields, by any case of their name', () => {
    assert.equal(metadata.get('Metadata-Version'), '2.1')
    assert.equal(metadata.get('name'), 'eggserve-demo')
    assert.equal(metadata.get('NAME'), 'eggserve-demo')
    assert.equal(metadata.get('Author-Email'), 'Jane Doe <jane@example.org>')
  })

  await test('Requires-Python keeps its < and > and commas', () => {
    assert.equal(metadata.get('requires-python'), '>=3.8, <4')
  })

  await test('repeated Requires-Dist in order, even with another field in between', () => {
    assert.deepEqual(metadata.getAll('Requires-Dist'), [
      'requests (>=2.0)',
      'tomli ; python_version < "3.11"',
      "pytest>=7 ; extra == 'test'",
    ])
  })

  await test('repeated Project-URL and Classifier, colons in values kept', () => {
    assert.deepEqual(metadata.getAll('project-url'), [
      'Documentation, https://example.org/docs',
      'Source, https://github.com/example/demo',
    ])
    assert.deepEqual(metadata.getAll('classifier'), [
      'Programming Language :: Python :: 3',
      'License :: OSI Approved :: MIT License',
    ])
  })

  await test('fields keyed by lowercase name in first-seen order', () => {
    assert.deepEqual(
      [...metadata.fields.keys()],
      [
        'metadata-version',
        'name',
        'version',
        'summary',
        'home-page',
        'author-email',
        'license',
        'project-url',
        'classifier',
        'requires-python',
        'description-content-type',
        'requires-dist',
        'provides-extra',
      ],
    )
  })

  await test('the body is the description, blank lines and indentation included', () => {
    assert.equal(metadata.body, DESCRIPTION_BODY)
  })

  await test('an absent field', () => {
    assert.equal(metadata.get('Description'), undefined)
    assert.deepEqual(metadata.getAll('Description'), [])
  })
})

await describe('parseCoreMetadata: folded header values', async () => {
  await test('a Description folded with 8 spaces keeps its raw lines (the folding is not undone)', () => {
    const metadata = parse(
      [
        'Metadata-Version: 1.1',
        'Name: old',
        'Description: Old style',
        '        =========',
        '        ',
        '        Indented   text',
        'Platform: UNKNOWN',
        '',
      ].join('\n'),
    )
    assert.equal(metadata.get('description'), 'Old style\n        =========\n        \n        Indented   text')
    assert.equal(metadata.get('platform'), 'UNKNOWN')
    assert.equal(metadata.body, undefined)
  })

  await test('a Description folded with 7 spaces and | (core metadata spec, "Description")', () => {
    const metadata = parse('Name: x\nDescription: first\n       |second\n       |\n       |  indented\n\n')
    assert.equal(metadata.get('description'), 'first\n       |second\n       |\n       |  indented')
    assert.equal(metadata.body, undefined)
  })

  await test('a tab continues too, and an empty first line keeps its line break', () => {
    assert.deepEqual(entries(parse('Summary:\n\tsecond\n')), [['summary', ['\n\tsecond']]])
  })
})

await describe('parseCoreMetadata: line ends', async () => {
  await test('CRLF: values without CR, folded lines joined with LF, the body verbatim', () => {
    const metadata = parse(
      'Metadata-Version: 2.1\r\nName: crlf\r\nSummary: one\r\n  two\r\n\r\nline one\r\n\r\nline three\r\n',
    )
    assert.deepEqual(entries(metadata), [
      ['metadata-version', ['2.1']],
      ['name', ['crlf']],
      ['summary', ['one\n  two']],
    ])
    assert.equal(metadata.body, 'line one\r\n\r\nline three\r\n')
  })

  await test('a bare CR ends a line, as in email.parser', () => {
    const metadata = parse('Name: cr\rVersion: 1\r\rbody')
    assert.deepEqual(entries(metadata), [
      ['name', ['cr']],
      ['version', ['1']],
    ])
    assert.equal(metadata.body, 'body')
  })
})

await describe('parseCoreMetadata: encodings (UTF-8, and latin-1 for old files)', async () => {
  await test('UTF-8', () => {
    assert.equal(parse('Author: José Müller\n').get('author'), 'José Müller')
  })

  await test('invalid UTF-8 is read as latin-1', () => {
    const bytes = Uint8Array.from('Author: Jos\xe9 M\xfcller\n\nR\xe9sum\xe9', (c) => c.charCodeAt(0))
    const metadata = parseCoreMetadata(bytes)
    assert.equal(metadata.get('author'), 'José Müller')
    assert.equal(metadata.body, 'Résumé')
  })

  await test('the whole file falls back, and 0x80 to 0x9F are latin-1, not windows-1252', () => {
    // 'é' in UTF-8 (C3 A9) next to a lone 0x80: the file is not UTF-8, so both are latin-1.
    const bytes = Uint8Array.from([...new TextEncoder().encode('Author: é'), 0x80, 0x0a])
    assert.equal(parseCoreMetadata(bytes).get('author'), '\u00c3\u00a9\u0080')
  })

  await test('a UTF-8 BOM is kept, so the first line is no field (as in Python)', () => {
    const metadata = parseCoreMetadata(Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('Name: x\n')]))
    assert.equal(metadata.fields.size, 0)
    assert.equal(metadata.body, '\ufeffName: x\n')
  })
})

await describe('parseCoreMetadata: edges', async () => {
  await test('empty input', () => {
    const metadata = parseCoreMetadata(new Uint8Array(0))
    assert.equal(metadata.fields.size, 0)
    assert.equal(metadata.body, undefined)
    assert.equal(metadata.get('name'), undefined)
    assert.deepEqual(metadata.getAll('name'), [])
  })

  await test('a field without a value is an empty string', () => {
    const metadata = parse('Keywords:\nLicense: \t \nName: x\n')
    assert.equal(metadata.get('keywords'), '')
    assert.equal(metadata.get('license'), '')
    assert.equal(metadata.get('name'), 'x')
  })

  await test('whitespace after the colon and at the end of a value is dropped', () => {
    assert.deepEqual(entries(parse('Name:x\nVersion:\t  1.0 \t\nSummary: a  b  \n')), [
      ['name', ['x']],
      ['version', ['1.0']],
      ['summary', ['a  b']],
    ])
  })

  await test('names differing only in case are one field', () => {
    assert.deepEqual(parse('Classifier: a\nCLASSIFIER: b\nclassifier: c\n').getAll('Classifier'), ['a', 'b', 'c'])
  })

  await test('headers running to the end of input: no body', () => {
    const metadata = parse('Name: x\nVersion: 1')
    assert.deepEqual(entries(metadata), [
      ['name', ['x']],
      ['version', ['1']],
    ])
    assert.equal(metadata.body, undefined)
  })

  await test('an empty body is no body; a body of one line break is kept', () => {
    assert.equal(parse('Name: x\n\n').body, undefined)
    assert.equal(parse('Name: x\n\n\n').body, '\n')
  })

  await test('a line without a colon ends the headers and starts the body', () => {
    const metadata = parse('Name: x\nnot a header\nVersion: 1\n')
    assert.deepEqual(entries(metadata), [['name', ['x']]])
    assert.equal(metadata.body, 'not a header\nVersion: 1\n')
  })

  await test('a space before the colon is no field name either (RFC 5322 §2.2)', () => {
    const metadata = parse('Name: x\nVersion : 1\n\nbody')
    assert.deepEqual(entries(metadata), [['name', ['x']]])
    assert.equal(metadata.body, 'Version : 1\n\nbody')
  })

  await test('a continuation with nothing to continue, and an empty field name, are dropped', () => {
    const metadata = parse('  stray\nName: x\n: no name\n  its continuation\nVersion: 1\n')
    assert.deepEqual(entries(metadata), [
      ['name', ['x']],
      ['version', ['1']],
    ])
  })
})
