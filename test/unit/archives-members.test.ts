// Which member holds the metadata, decided from names alone: a wheel's one `.dist-info/METADATA`
// (binary distribution format), an sdist's `<top>/PKG-INFO` (source distribution format), an
// egg's `EGG-INFO/PKG-INFO` (setuptools' bdist_egg).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Entry } from 'yauzl'
import {
  eggMetadataChooser,
  isTopLevelPkgInfo,
  sdistZipMetadataChooser,
  wheelMetadataChooser,
  type MemberChooser,
} from '../../src/archives/member-choosers.js'

function entry(fileName: string): Entry {
  const made = new Entry()
  made.fileName = fileName
  return made
}

/** Feed `names` to the chooser; the chosen member's name, or the failure code. */
function choose(chooser: MemberChooser, names: readonly string[]): string {
  for (const name of names) {
    const stop = chooser.see(entry(name))
    if (stop !== undefined) return stop.code
  }
  const chosen = chooser.choose()
  return chosen instanceof Entry ? chosen.fileName : chosen.code
}

await describe('isTopLevelPkgInfo', async () => {
  const cases: readonly (readonly [string, boolean])[] = [
    ['demo-1.0/PKG-INFO', true],
    ['./demo-1.0/PKG-INFO', true],
    ['PKG-INFO', false],
    ['demo-1.0/demo.egg-info/PKG-INFO', false],
    ['demo-1.0/src/demo.egg-info/PKG-INFO', false],
    ['demo-1.0/pkg-info', false],
    ['/PKG-INFO', false],
    ['../PKG-INFO', false],
    ['demo-1.0/PKG-INFO/', false],
  ]
  for (const [path, expected] of cases) {
    await test(`${path} → ${String(expected)}`, () => {
      assert.equal(isTopLevelPkgInfo(path), expected)
    })
  }
})

await describe('wheelMetadataChooser', async () => {
  const cases: readonly (readonly [string, readonly string[], string])[] = [
    [
      'the escaped name',
      ['demo_pkg/__init__.py', 'demo_pkg-1.0.dist-info/METADATA'],
      'demo_pkg-1.0.dist-info/METADATA',
    ],
    ['a legacy spelling', ['Demo.Pkg-1.0.dist-info/METADATA'], 'Demo.Pkg-1.0.dist-info/METADATA'],
    ['a hyphenated legacy name', ['demo-pkg-1.0.dist-info/METADATA'], 'demo-pkg-1.0.dist-info/METADATA'],
    ['METADATA spelled in another case', ['demo_pkg-1.0.dist-info/metadata'], 'missing-metadata'],
    ['another project with a common prefix', ['demo_pkg_extra-1.0.dist-info/METADATA'], 'missing-metadata'],
    [
      'a .dist-info without METADATA beside one with it',
      ['demo_pkg-1.0.dist-info/METADATA', 'x-1.0.dist-info/RECORD'],
      'duplicate-metadata',
    ],
    ['a nested .dist-info only', ['demo_pkg/_vendor/six-1.0.dist-info/METADATA'], 'missing-metadata'],
    ['a top-level file named like a .dist-info', ['demo_pkg-1.0.dist-info'], 'missing-metadata'],
  ]
  for (const [label, names, expected] of cases) {
    await test(`${label} → ${expected}`, () => {
      assert.equal(choose(wheelMetadataChooser('demo-pkg'), names), expected)
    })
  }
})

await describe('egg and zip sdist choosers', async () => {
  await test('eggs read EGG-INFO/PKG-INFO only', () => {
    assert.equal(choose(eggMetadataChooser(), ['demo/__init__.py', 'EGG-INFO/PKG-INFO']), 'EGG-INFO/PKG-INFO')
    assert.equal(choose(eggMetadataChooser(), ['demo.egg-info/PKG-INFO']), 'missing-metadata')
    assert.equal(choose(eggMetadataChooser(), ['EGG-INFO/PKG-INFO', 'EGG-INFO/PKG-INFO']), 'duplicate-metadata')
  })

  await test('zip sdists read the shallowest <top>/PKG-INFO', () => {
    const names = ['demo-1.0/', 'demo-1.0/demo.egg-info/PKG-INFO', 'demo-1.0/PKG-INFO', 'demo-1.0/setup.py']
    assert.equal(choose(sdistZipMetadataChooser(), names), 'demo-1.0/PKG-INFO')
  })
})
