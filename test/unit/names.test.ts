// PEP 503 normalization and project-name validity (the name normalization specification,
// https://packaging.python.org/en/latest/specifications/name-normalization/).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isValidProjectName, normalizeProjectName } from '../../src/core/names.js'

await describe('normalizeProjectName', async () => {
  // The specification's examples, plus a few runs and edges of our own.
  const cases: readonly (readonly [string, string])[] = [
    ['Friendly-Bard', 'friendly-bard'],
    ['FRIENDLY-BARD', 'friendly-bard'],
    ['friendly.bard', 'friendly-bard'],
    ['friendly_bard', 'friendly-bard'],
    ['friendly--bard', 'friendly-bard'],
    ['FrIeNdLy-._.-bArD', 'friendly-bard'],
    ['zope.interface', 'zope-interface'],
    ['Zope.Interface', 'zope-interface'],
    ['absl_py', 'absl-py'],
    ['a__b..c--d', 'a-b-c-d'],
    ['pip', 'pip'],
    ['Django', 'django'],
    ['ruamel.yaml.clib', 'ruamel-yaml-clib'],
    ['x', 'x'],
    ['A1', 'a1'],
  ]
  for (const [input, expected] of cases) {
    await test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(normalizeProjectName(input), expected)
    })
  }

  await test('is idempotent on every vector', () => {
    for (const [input] of cases) {
      const once = normalizeProjectName(input)
      assert.equal(normalizeProjectName(once), once, input)
    }
  })
})

await describe('isValidProjectName', async () => {
  // The specification's ^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$ case-insensitively, anchored at the
  // very end (the specification writes the anchor as \Z: no trailing newline).
  const valid: readonly string[] = [
    'a',
    'A',
    '0',
    'pip',
    'Friendly-Bard',
    'zope.interface',
    'absl_py',
    'FrIeNdLy-._.-bArD',
    'a-b',
    'a.b_c-d',
    '1password',
    'x9',
  ]
  const invalid: readonly string[] = [
    '',
    '-',
    '.',
    '_',
    '-foo',
    'foo-',
    '.foo',
    'foo.',
    '_foo',
    'foo_',
    'foo bar',
    ' foo',
    'foo ',
    'foo\n',
    '\nfoo',
    'foo\nbar',
    'foo\t',
    'foo/bar',
    'foo\\bar',
    'foo+bar',
    'foo!',
    'föö',
    'foo@1.0',
  ]
  for (const name of valid) {
    await test(`${JSON.stringify(name)} is valid`, () => {
      assert.equal(isValidProjectName(name), true)
    })
  }
  for (const name of invalid) {
    await test(`${JSON.stringify(name)} is invalid`, () => {
      assert.equal(isValidProjectName(name), false)
    })
  }
})
