// PEP 440 versions (the "Version specifiers" specification). Every expectation below was
// checked against packaging 26.2 (Version, canonicalize_version).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  canonicalizeVersion,
  compareVersions,
  isPep440Version,
  isPrerelease,
  normalizeVersion,
  parsePep440,
  sortByVersion,
  type Pep440Version,
} from '../../src/core/versions.js'

// 2^53 and 2^53 + 1: equal once converted to a Number, different as PEP 440 numbers.
const TWO_53 = '9007199254740992'
const TWO_53_PLUS_1 = '9007199254740993'

// Spec "Normalization" vectors, then a few of our own.
const NORMALIZED: readonly (readonly [string, string])[] = [
  ['1.0', '1.0'],
  ['1.0.0', '1.0.0'],
  // "Case sensitivity"
  ['1.0RC1', '1.0rc1'],
  ['1.0.DEV', '1.0.dev0'],
  // "Integer normalization"
  ['01.02', '1.2'],
  ['1.00000000000000000001', '1.1'],
  [`1.${TWO_53_PLUS_1}`, `1.${TWO_53_PLUS_1}`],
  // "Pre-release separators", "Pre-release spelling", "Implicit pre-release number"
  ['1.0-alpha1', '1.0a1'],
  ['1.0a.1', '1.0a1'],
  ['1.0-ALPHA_1', '1.0a1'],
  ['1.0beta2', '1.0b2'],
  ['1.0c1', '1.0rc1'],
  ['1.0pre1', '1.0rc1'],
  ['1.0preview1', '1.0rc1'],
  ['1.0a', '1.0a0'],
  ['1.0a-', '1.0a0'],
  // "Post release separators", "Post release spelling", "Implicit post release number", "Implicit post releases"
  ['1.0.post', '1.0.post0'],
  ['1.0-post-2', '1.0.post2'],
  ['1.0-1', '1.0.post1'],
  ['1.0rev3', '1.0.post3'],
  ['1.0r', '1.0.post0'],
  ['1.0a1-1', '1.0a1.post1'],
  // "Development release separators", "Implicit development release number"
  ['1.0dev', '1.0.dev0'],
  ['1.0-dev_7', '1.0.dev7'],
  // "Local version segments"
  ['1.0+ubuntu-1', '1.0+ubuntu.1'],
  ['1.0+Ubuntu_01', '1.0+ubuntu.1'],
  // "Preceding v character"
  ['v1.0', '1.0'],
  ['V1.0', '1.0'],
  // Epochs: a zero epoch is omitted.
  ['1!2.0', '1!2.0'],
  ['0!1.0', '1.0'],
  ['001!1.0', '1!1.0'],
  ['v2!1.2.3RC1-POST_2.Dev3+Abc.04', '2!1.2.3rc1.post2.dev3+abc.4'],
]

// Returned unchanged by normalizeVersion and canonicalizeVersion.
const INVALID: readonly string[] = [
  '',
  'foo',
  'foo bar baz',
  // packaging strips surrounding whitespace; we take versions from filenames and do not.
  ' 1.0',
  '1.0 ',
  '1.0\n',
  '1..0',
  '.1',
  '1.0.',
  '1.0-',
  '1.0+',
  '1.0+a..b',
  '1.0+é',
  '1!',
  '!1',
  '1.0ab',
  '1.0a1a2',
  '1.0.post1.post2',
  '1.0dev1.post1',
  '1.0_1',
]

await describe('normalizeVersion', async () => {
  for (const [input, expected] of NORMALIZED) {
    await test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(normalizeVersion(input), expected)
    })
  }
  for (const input of INVALID) {
    await test(`invalid ${JSON.stringify(input)} is returned unchanged`, () => {
      assert.equal(normalizeVersion(input), input)
    })
  }
})

await describe('isPep440Version', async () => {
  await test('accepts every normalization vector and its normal form', () => {
    for (const [input, normal] of NORMALIZED) {
      assert.equal(isPep440Version(input), true, input)
      assert.equal(isPep440Version(normal), true, normal)
    }
  })
  await test('rejects every invalid version, surrounding whitespace included', () => {
    for (const input of INVALID) assert.equal(isPep440Version(input), false, JSON.stringify(input))
  })
})

await describe('parsePep440', async () => {
  const cases: readonly (readonly [string, Pep440Version | undefined])[] = [
    ['1.0', { epoch: 0, release: [1, 0] }],
    ['V1.0-Alpha.2', { epoch: 0, release: [1, 0], pre: ['a', 2] }],
    ['1.0c', { epoch: 0, release: [1, 0], pre: ['rc', 0] }],
    ['1.0-1', { epoch: 0, release: [1, 0], post: 1 }],
    ['1.0.DEV', { epoch: 0, release: [1, 0], dev: 0 }],
    [
      '2!1.0b2.post3.dev4+Ubuntu-01.x',
      { epoch: 2, release: [1, 0], pre: ['b', 2], post: 3, dev: 4, local: ['ubuntu', 1, 'x'] },
    ],
    ['nope', undefined],
    [' 1.0', undefined],
  ]
  for (const [input, expected] of cases) {
    await test(JSON.stringify(input), () => {
      // deepEqual is strict: an absent segment must be an absent key, not `undefined`.
      assert.deepEqual(parsePep440(input), expected)
    })
  }
  await test('is defined exactly when isPep440Version is true', () => {
    for (const input of [...NORMALIZED.map(([v]) => v), ...INVALID]) {
      assert.equal(parsePep440(input) !== undefined, isPep440Version(input), JSON.stringify(input))
    }
  })
})

await describe('canonicalizeVersion', async () => {
  const cases: readonly (readonly [string, string])[] = [
    ['1.0.0', '1'],
    ['1.0.0a1', '1a1'],
    ['2.0.1', '2.0.1'],
    ['1.4.0.0.0', '1.4'],
    ['1.10', '1.10'],
    ['1.0', '1'],
    ['0.0', '0'],
    ['0', '0'],
    ['1.0.0.post0', '1.post0'],
    ['1.0.dev0', '1.dev0'],
    ['v1.0-Alpha', '1a0'],
    // Only the release segment is trimmed: the local label keeps its zeros.
    ['1!1.0.0+local.0', '1!1+local.0'],
    ['01.00.00', '1'],
    ['foo bar baz', 'foo bar baz'],
    ['1.0.0 ', '1.0.0 '],
  ]
  for (const [input, expected] of cases) {
    await test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(canonicalizeVersion(input), expected)
    })
  }
})

await describe('isPrerelease', async () => {
  const cases: readonly (readonly [string, boolean])[] = [
    ['1.0a1', true],
    ['1.0-preview', true],
    ['1.0.dev0', true],
    ['1.0rc1.post1', true],
    ['1.0.post1.dev1', true],
    ['1!1.0b2+local', true],
    ['1.0', false],
    ['1.0.post1', false],
    // A local label is not a pre-release, whatever it says.
    ['1.0+dev', false],
    ['1.0+a1', false],
    ['dev', false],
    ['1.0a1 ', false],
  ]
  for (const [input, expected] of cases) {
    await test(`${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(isPrerelease(input), expected)
    })
  }
})

// Strictly ascending: legacy (invalid) versions by code point, then the spec's "Summary of
// permitted suffixes and relative ordering", local labels, and numbers past 2^53.
const ASCENDING: readonly string[] = [
  '',
  ' 1.0',
  '1.0 ',
  'Foo',
  'foo',
  // Plain string order, not packaging_legacy's numeric-aware LegacyVersion order.
  'foo-10',
  'foo-2',
  '\uffff',
  '\u{1F600}',
  '0.1',
  '1.dev0',
  '1.0.dev1',
  '1.0.dev456',
  // A dev release without pre or post sorts before every pre-release, even a0.dev0.
  '1.0a0.dev0',
  '1.0a1.dev1',
  '1.0a1',
  '1.0a2.dev456',
  '1.0a12.dev456',
  '1.0a12',
  '1.0b1.dev456',
  '1.0b2',
  '1.0b2.post3',
  '1.0b2.post345.dev456',
  '1.0b2.post345',
  '1.0rc1.dev456',
  '1.0rc1',
  '1.0',
  // Spec "Local version identifiers": alphanumeric segments lexicographically and before
  // numeric ones, numeric segments numerically, and a longer label after its prefix.
  '1.0+10a',
  '1.0+a',
  '1.0+a.1',
  '1.0+abc',
  '1.0+abc.2',
  '1.0+abc.10',
  '1.0+b',
  '1.0+0',
  '1.0+1',
  '1.0+1.a',
  '1.0+1.0',
  '1.0+2',
  '1.0+10',
  `1.0+${TWO_53}`,
  `1.0+${TWO_53_PLUS_1}`,
  '1.0.post0',
  '1.0.post1.dev1',
  '1.0.post1',
  '1.0.15',
  '1.1.dev1',
  '1.1',
  `1.${TWO_53}`,
  `1.${TWO_53_PLUS_1}`,
  '2',
  '1!0.1',
  `${TWO_53}!1`,
  `${TWO_53_PLUS_1}!0`,
]

await describe('compareVersions', async () => {
  await test('orders the ascending table, every pair both ways', () => {
    for (const [i, a] of ASCENDING.entries()) {
      for (const [j, b] of ASCENDING.entries()) {
        assert.equal(Math.sign(compareVersions(a, b)), Math.sign(i - j), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`)
      }
    }
  })

  const equal: readonly (readonly [string, string])[] = [
    // Spec "Final releases": trailing zeros are insignificant.
    ['1.0', '1.0.0'],
    ['1', '1.0.0.0'],
    ['1.0a1', '1.0alpha1'],
    ['1.0-0', '1.0.post0'],
    ['1!1.0', '1!1'],
    ['0!1.0', '1.0'],
    ['1.0+ubuntu.1', '1.0+Ubuntu-01'],
    [`1.${TWO_53_PLUS_1}`, `01.0${TWO_53_PLUS_1}`],
  ]
  for (const [a, b] of equal) {
    await test(`${JSON.stringify(a)} == ${JSON.stringify(b)}`, () => {
      assert.equal(compareVersions(a, b), 0)
      assert.equal(compareVersions(b, a), 0)
    })
  }

  await test('legacy "foo" sorts before "0.1"', () => {
    assert.ok(compareVersions('foo', '0.1') < 0)
    assert.ok(compareVersions('0.1', 'foo') > 0)
  })

  await test('sorts a shuffled list', () => {
    const shuffled = [
      '1.0.post1',
      '1!0.1',
      '1.0rc1',
      'foo',
      '1.0+local',
      '1.0a1.dev1',
      '1.1',
      '1.0b2.post3',
      '1.0.dev1',
      '1.0.post1.dev1',
      '1.0a1',
      '1.0',
    ]
    assert.deepEqual([...shuffled].sort(compareVersions), [
      'foo',
      '1.0.dev1',
      '1.0a1.dev1',
      '1.0a1',
      '1.0b2.post3',
      '1.0rc1',
      '1.0',
      '1.0+local',
      '1.0.post1.dev1',
      '1.0.post1',
      '1.1',
      '1!0.1',
    ])
  })

  await test('keeps equal versions in input order when sorting', () => {
    assert.deepEqual(['1.0.0', '1', '0.9', '1.0'].sort(compareVersions), ['0.9', '1.0.0', '1', '1.0'])
  })
})

void describe('sortByVersion', () => {
  void test('sorts the ascending table, reversed and shuffled, into compareVersions order', () => {
    const shuffled = [...ASCENDING]
      .map((version, i) => ({ version, at: (i * 7) % ASCENDING.length }))
      .sort((a, b) => a.at - b.at)
      .map((entry) => entry.version)
    for (const input of [[...ASCENDING].reverse(), shuffled]) {
      assert.deepEqual(
        sortByVersion(input, (version) => version),
        ASCENDING,
      )
    }
  })

  void test('keys items by the version given, legacy versions first, equal versions in input order', () => {
    const items = [
      ['1.0', 'a'],
      ['foo', 'b'],
      ['0.9', 'c'],
      ['1', 'd'],
      ['bar', 'e'],
      ['1.0.0', 'f'],
    ] as const
    assert.deepEqual(
      sortByVersion(items, ([version]) => version).map(([, tag]) => tag),
      ['e', 'b', 'c', 'a', 'd', 'f'],
    )
  })

  void test('takes any iterable (a Map of releases)', () => {
    const releases = new Map([
      ['2.0', 1],
      ['1.0rc1', 2],
      ['1.0', 3],
    ])
    assert.deepEqual(
      sortByVersion(releases, ([version]) => version).map(([version]) => version),
      ['1.0rc1', '1.0', '2.0'],
    )
  })
})
