// pip's requirements file format and PEP 440 specifiers, as `eggserve cache warm -r` reads them.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseRequirements } from '../../src/core/requirements.js'
import { bestVersion, parseSpecifiers, satisfies } from '../../src/core/specifiers.js'

const HASH_A = 'a'.repeat(64)
const HASH_B = 'B'.repeat(64)

await test('requirements: pins, continuations, hashes, comments, extras, markers', () => {
  const parsed = parseRequirements(
    [
      '# a comment line',
      '',
      'requests==2.31.0 \\',
      `    --hash=sha256:${HASH_A} \\`,
      `    --hash sha256:${HASH_B}`,
      'Django_Extensions[Graph, Extra] >=3.0,<4 ; python_version >= "3.8"  # trailing comment',
      'six (>=1.10)',
      'idna',
    ].join('\n'),
  )
  assert.deepEqual(parsed.problems, [])
  assert.deepEqual(
    parsed.requirements.map((r) => ({
      line: r.line,
      name: r.name,
      project: r.project,
      extras: r.extras,
      marker: r.marker,
    })),
    [
      { line: 3, name: 'requests', project: 'requests', extras: [], marker: undefined },
      {
        line: 6,
        name: 'Django_Extensions',
        project: 'django-extensions',
        extras: ['Graph', 'Extra'],
        marker: 'python_version >= "3.8"',
      },
      { line: 7, name: 'six', project: 'six', extras: [], marker: undefined },
      { line: 8, name: 'idna', project: 'idna', extras: [], marker: undefined },
    ],
  )
  const [requests, django, six] = parsed.requirements
  assert.ok(requests !== undefined && django !== undefined && six !== undefined)
  assert.deepEqual(requests.specifiers, [{ operator: '==', version: '2.31.0' }])
  assert.deepEqual(requests.hashes, [
    { algorithm: 'sha256', hex: HASH_A },
    { algorithm: 'sha256', hex: HASH_B.toLowerCase() },
  ])
  assert.deepEqual(django.specifiers, [
    { operator: '>=', version: '3.0' },
    { operator: '<', version: '4' },
  ])
  assert.deepEqual(six.specifiers, [{ operator: '>=', version: '1.10' }])
})

await test('requirements: a comment line ends a continued line, as pip joins them', () => {
  const parsed = parseRequirements('a==1 \\\n# a comment\nb==2\n')
  assert.deepEqual(
    parsed.requirements.map((r) => [r.project, r.line]),
    [
      ['a', 1],
      ['b', 3],
    ],
  )
})

await test('requirements: a # not after whitespace is no comment (pip), so it stays in the line', () => {
  const parsed = parseRequirements('name#fragment\nok==1\n')
  assert.deepEqual(
    parsed.problems.map((p) => p.line),
    [1],
  )
  assert.deepEqual(
    parsed.requirements.map((r) => r.project),
    ['ok'],
  )
})

await test('requirements: includes, editables, URLs and installer options are reported, not warmed', () => {
  const parsed = parseRequirements(
    [
      '-r base.txt',
      '--requirement=more.txt',
      '-c constraints.txt',
      '-e git+https://example.com/repo.git#egg=thing',
      '--index-url https://pypi.org/simple/',
      '--pre',
      'thing @ https://example.com/thing-1.0.tar.gz',
      './local/path',
      'https://example.com/x-1.0-py3-none-any.whl',
    ].join('\n'),
  )
  assert.deepEqual(parsed.requirements, [])
  assert.deepEqual(parsed.problems, [])
  assert.deepEqual(parsed.includes, [
    { line: 1, path: 'base.txt', kind: 'requirements' },
    { line: 2, path: 'more.txt', kind: 'requirements' },
    { line: 3, path: 'constraints.txt', kind: 'constraints' },
  ])
  assert.deepEqual(
    parsed.skipped.map((s) => [s.line, s.reason]),
    [
      [4, 'an editable install, not from an index'],
      [5, 'an installer option, which warming does not use'],
      [6, 'an installer option, which warming does not use'],
      [7, 'a URL or a path, not a name from an index'],
      [8, 'a URL or a path, not a name from an index'],
      [9, 'a URL or a path, not a name from an index'],
    ],
  )
})

await test('requirements: bad lines are problems with their line number, the others still read', () => {
  const parsed = parseRequirements(
    ['good==1.0', 'bad==1.0 --hash=sha256:xyz', 'worse===', 'also-bad ~=1', '!!!', 'fine>=2'].join('\n'),
  )
  assert.deepEqual(
    parsed.requirements.map((r) => r.project),
    ['good', 'fine'],
  )
  assert.deepEqual(
    parsed.problems.map((p) => p.line),
    [2, 3, 4, 5],
  )
  assert.match(parsed.problems[0]?.message ?? '', /--hash=sha256:xyz/)
})

await test('specifiers: PEP 440 matching, one clause at a time', () => {
  const cases: readonly (readonly [string, string, boolean])[] = [
    ['1.0', '==1.0', true],
    ['1.0.0', '==1.0', true],
    ['1.0+local', '==1.0', true],
    ['1.0+local', '==1.0+other', false],
    ['1.1', '==1.0', false],
    ['1.0.5', '==1.0.*', true],
    ['1.1', '==1.0.*', false],
    ['1', '==1.0.*', true],
    ['1.0.5', '!=1.0.*', false],
    ['2.0', '!=1.0', true],
    ['2.2', '~=2.2', true],
    ['2.9', '~=2.2', true],
    ['3.0', '~=2.2', false],
    ['2.2.1', '~=2.2.0', true],
    ['2.3', '~=2.2.0', false],
    ['2.0', '>=2.0', true],
    ['2.0rc1', '>=2.0', false],
    ['1.9', '<=2.0', true],
    ['2.0+local', '<=2.0', true],
    // Exclusive ordered comparison: <V excludes V's pre-releases, >V its post-releases.
    ['3.0a1', '<3.0', false],
    ['2.9', '<3.0', true],
    ['3.0a1', '<3.0b1', true],
    ['1.7.1', '>1.7', true],
    ['1.7.post1', '>1.7', false],
    ['1.7.1.post1', '>1.7.post0', true],
    ['1.0', '===1.0', true],
    ['1.0.0', '===1.0', false],
    ['foobar', '===foobar', true],
  ]
  for (const [version, clause, expected] of cases) {
    const [spec] = parseSpecifiers(clause)
    assert.ok(spec !== undefined)
    assert.equal(satisfies(version, spec), expected, `${version} ${clause}`)
  }
})

await test('specifiers: bad clauses are refused', () => {
  for (const bad of ['=1.0', '>=1.0.*', '~=1', '==', '>= 1.0 2.0', '~=1.*'])
    assert.throws(() => parseSpecifiers(bad), SyntaxError, bad)
})

await test('bestVersion: the highest allowed; pre-releases only when asked for or the only choice', () => {
  const versions = ['1.0', '1.1', '1.2rc1', '2.0', '2.1.dev1', '0.9']
  assert.equal(bestVersion(versions, []), '2.0')
  assert.equal(bestVersion(versions, parseSpecifiers('<2')), '1.1')
  assert.equal(bestVersion(versions, parseSpecifiers('>=1.2rc1,<2')), '1.2rc1')
  assert.equal(bestVersion(versions, parseSpecifiers('>2.0')), '2.1.dev1')
  assert.equal(bestVersion(versions, parseSpecifiers('==1.0.*')), '1.0')
  assert.equal(bestVersion(versions, parseSpecifiers('>=3')), undefined)
  assert.equal(bestVersion(['1.0', '10.0', '9.0'], parseSpecifiers('!=10.0')), '9.0')
})
