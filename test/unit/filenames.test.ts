// Distribution filename parsing: wheels (binary distribution format, "File name convention"),
// sdists (PEP 625, and legacy names as pip's _find_name_version_sep splits them), eggs
// (pkg_resources' EGG_NAME), and what is no distribution at all.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  distributionExtension,
  distributionKey,
  isDistributionFilename,
  parseDistFilename,
  type DistKind,
  type ParsedDistFilename,
} from '../../src/core/filenames.js'

interface ParseCase {
  readonly filename: string
  readonly project?: string
  readonly expected: ParsedDistFilename | undefined
}

async function runTable(cases: readonly ParseCase[]): Promise<void> {
  for (const { filename, project, expected } of cases) {
    const hint = project === undefined ? '' : ` (project ${project})`
    const outcome = expected === undefined ? 'invalid' : `${expected.project} ${expected.version}`
    await test(`${filename}${hint} → ${outcome}`, () => {
      assert.deepEqual(parseDistFilename(filename, project), expected)
    })
  }
}

await describe('parseDistFilename: wheels', async () => {
  await runTable([
    {
      filename: 'pip-24.0-py3-none-any.whl',
      expected: { kind: 'wheel', name: 'pip', project: 'pip', version: '24.0', pythonTag: 'py3', platform: 'any' },
    },
    {
      filename: 'foo_bar-1.0-1-py3-none-any.whl',
      expected: {
        kind: 'wheel',
        name: 'foo_bar',
        project: 'foo-bar',
        version: '1.0',
        buildTag: '1',
        pythonTag: 'py3',
        platform: 'any',
      },
    },
    {
      filename: 'foo_bar-1.0-12abc-py2.py3-none-any.whl',
      expected: {
        kind: 'wheel',
        name: 'foo_bar',
        project: 'foo-bar',
        version: '1.0',
        buildTag: '12abc',
        pythonTag: 'py2.py3',
        platform: 'any',
      },
    },
    {
      filename: 'Foo.Bar-2.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      expected: {
        kind: 'wheel',
        name: 'Foo.Bar',
        project: 'foo-bar',
        version: '2.0',
        pythonTag: 'cp312',
        platform: 'manylinux_2_17_x86_64.manylinux2014_x86_64',
      },
    },
    {
      filename: 'absl_py-2.1.0-py3-none-any.whl',
      expected: {
        kind: 'wheel',
        name: 'absl_py',
        project: 'absl-py',
        version: '2.1.0',
        pythonTag: 'py3',
        platform: 'any',
      },
    },
    {
      filename: 'tensorflow_io_gcs_filesystem-0.37.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      expected: {
        kind: 'wheel',
        name: 'tensorflow_io_gcs_filesystem',
        project: 'tensorflow-io-gcs-filesystem',
        version: '0.37.1',
        pythonTag: 'cp312',
        platform: 'manylinux_2_17_x86_64.manylinux2014_x86_64',
      },
    },
    {
      filename: 'foo-1.0rc1.post2.dev3+local.7-py3-none-any.whl',
      expected: {
        kind: 'wheel',
        name: 'foo',
        project: 'foo',
        version: '1.0rc1.post2.dev3+local.7',
        pythonTag: 'py3',
        platform: 'any',
      },
    },
    {
      filename: 'foo-1!2.0-py3-none-any.whl',
      expected: { kind: 'wheel', name: 'foo', project: 'foo', version: '1!2.0', pythonTag: 'py3', platform: 'any' },
    },
    // Too many or too few dash-separated parts.
    { filename: 'a-1-2-3-4-5-6.whl', expected: undefined },
    { filename: 'foo-1.0-py3-none.whl', expected: undefined },
    { filename: 'foo-1.0.whl', expected: undefined },
    { filename: 'foo.whl', expected: undefined },
    // PEP 427: the build tag starts with a digit.
    { filename: 'foo-1.0-x1-py3-none-any.whl', expected: undefined },
    { filename: 'foo-1.0-_1-py3-none-any.whl', expected: undefined },
    // packaging.utils.parse_wheel_filename: no "__" in the name, only word characters and dots.
    { filename: 'foo__bar-1.0-py3-none-any.whl', expected: undefined },
    { filename: 'foo+bar-1.0-py3-none-any.whl', expected: undefined },
    { filename: 'foo bar-1.0-py3-none-any.whl', expected: undefined },
    { filename: '-1.0-py3-none-any.whl', expected: undefined },
    // The version must be PEP 440.
    { filename: 'foo-notaversion-py3-none-any.whl', expected: undefined },
    { filename: 'foo-1.0.x-py3-none-any.whl', expected: undefined },
    { filename: 'foo--py3-none-any.whl', expected: undefined },
    // Empty tags.
    { filename: 'foo-1.0--none-any.whl', expected: undefined },
    { filename: 'foo-1.0-py3--any.whl', expected: undefined },
    { filename: 'foo-1.0-py3-none-.whl', expected: undefined },
  ])
})

await describe('parseDistFilename: PEP 625 sdists', async () => {
  await runTable([
    {
      filename: 'foo_bar-1.0.tar.gz',
      expected: { kind: 'sdist', name: 'foo_bar', project: 'foo-bar', version: '1.0' },
    },
    {
      filename: 'foo_bar-1.0.tar.gz',
      project: 'foo-bar',
      expected: { kind: 'sdist', name: 'foo_bar', project: 'foo-bar', version: '1.0' },
    },
    {
      filename: 'holygrail-1.0.tar.gz',
      expected: { kind: 'sdist', name: 'holygrail', project: 'holygrail', version: '1.0' },
    },
    {
      filename: 'zope_interface-6.4.post2.tar.gz',
      expected: { kind: 'sdist', name: 'zope_interface', project: 'zope-interface', version: '6.4.post2' },
    },
    { filename: 'foo-1.0.zip', expected: { kind: 'sdist', name: 'foo', project: 'foo', version: '1.0' } },
    { filename: 'foo-1.0.tgz', expected: { kind: 'sdist', name: 'foo', project: 'foo', version: '1.0' } },
    { filename: 'foo-1.0.tar.bz2', expected: { kind: 'sdist', name: 'foo', project: 'foo', version: '1.0' } },
    { filename: 'foo-1.0.tar.xz', expected: { kind: 'sdist', name: 'foo', project: 'foo', version: '1.0' } },
    { filename: 'foo-1.0.tar', expected: { kind: 'sdist', name: 'foo', project: 'foo', version: '1.0' } },
    // No version at all: refuse to guess.
    { filename: 'foo.tar.gz', expected: undefined },
    { filename: 'foo-.tar.gz', expected: undefined },
    { filename: 'foo-bar.tar.gz', expected: undefined },
    { filename: '-1.0.tar.gz', expected: undefined },
    { filename: 'foo bar-1.0.tar.gz', expected: undefined },
  ])
})

await describe('parseDistFilename: legacy hyphenated sdists', async () => {
  await runTable([
    {
      filename: 'python-dateutil-2.8.2.tar.gz',
      project: 'python-dateutil',
      expected: { kind: 'sdist', name: 'python-dateutil', project: 'python-dateutil', version: '2.8.2' },
    },
    {
      filename: 'python-dateutil-2.8.2.tar.gz',
      expected: { kind: 'sdist', name: 'python-dateutil', project: 'python-dateutil', version: '2.8.2' },
    },
    {
      filename: 'Foo_Bar-1.0.zip',
      project: 'foo-bar',
      expected: { kind: 'sdist', name: 'Foo_Bar', project: 'foo-bar', version: '1.0' },
    },
    { filename: 'foo-1.0-beta.tar.gz', expected: { kind: 'sdist', name: 'foo', project: 'foo', version: '1.0-beta' } },
    {
      filename: 'foo-1.0-beta.tar.gz',
      project: 'foo',
      expected: { kind: 'sdist', name: 'foo', project: 'foo', version: '1.0-beta' },
    },
    // "foo-bar-1.0" is never version "bar-1.0" of "foo", hint or not.
    {
      filename: 'foo-bar-1.0.tar.gz',
      project: 'foo',
      expected: { kind: 'sdist', name: 'foo-bar', project: 'foo-bar', version: '1.0' },
    },
    {
      filename: 'foo-bar-1.0.tar.gz',
      expected: { kind: 'sdist', name: 'foo-bar', project: 'foo-bar', version: '1.0' },
    },
    // The hint wins over the first "-digit": a project whose name holds "-<digit>".
    {
      filename: 'py-3to2-1.1.1.zip',
      project: 'py-3to2',
      expected: { kind: 'sdist', name: 'py-3to2', project: 'py-3to2', version: '1.1.1' },
    },
    // A hint that matches nothing falls back to the first "-digit".
    {
      filename: 'Django-4.2.tar.gz',
      project: 'flask',
      expected: { kind: 'sdist', name: 'Django', project: 'django', version: '4.2' },
    },
  ])
})

await describe('parseDistFilename: eggs', async () => {
  await runTable([
    {
      filename: 'zope.interface-4.1.3-py2.7-linux-x86_64.egg',
      expected: {
        kind: 'egg',
        name: 'zope.interface',
        project: 'zope-interface',
        version: '4.1.3',
        pythonTag: '2.7',
        platform: 'linux-x86_64',
      },
    },
    {
      filename: 'foo_bar-1.0-py3.8.egg',
      expected: { kind: 'egg', name: 'foo_bar', project: 'foo-bar', version: '1.0', pythonTag: '3.8' },
    },
    { filename: 'foo-1.0.egg', expected: { kind: 'egg', name: 'foo', project: 'foo', version: '1.0' } },
    {
      filename: 'foo_bar-1.0-py3.8.egg.zip',
      expected: { kind: 'egg', name: 'foo_bar', project: 'foo-bar', version: '1.0', pythonTag: '3.8' },
    },
    {
      filename: 'zope.interface-4.1.3-py2.7-linux-x86_64.egg.zip',
      expected: {
        kind: 'egg',
        name: 'zope.interface',
        project: 'zope-interface',
        version: '4.1.3',
        pythonTag: '2.7',
        platform: 'linux-x86_64',
      },
    },
    { filename: 'foo.egg', expected: undefined },
    { filename: 'foo-1.0-cp38.egg', expected: undefined },
  ])
})

await describe('parseDistFilename: paths are never filenames', async () => {
  await runTable([
    { filename: 'foo/foo-1.0.tar.gz', expected: undefined },
    { filename: '../foo-1.0.tar.gz', expected: undefined },
    { filename: 'foo\\foo-1.0.tar.gz', expected: undefined },
    { filename: 'sub/pip-24.0-py3-none-any.whl', expected: undefined },
    { filename: 'sub\\pip-24.0-py3-none-any.whl', expected: undefined },
    { filename: 'x/zope.interface-4.1.3-py2.7.egg', expected: undefined },
  ])
})

await describe('parseDistFilename: not distributions at all', async () => {
  await runTable([
    { filename: 'README', expected: undefined },
    { filename: 'foo-1.0.tar.gz.asc', expected: undefined },
    { filename: 'foo-1.0-py3-none-any.whl.metadata', expected: undefined },
    { filename: 'foo-1.0.tar.gz.part', expected: undefined },
    { filename: '.whl', expected: undefined },
    { filename: '', expected: undefined },
  ])
})

await describe('distributionExtension and isDistributionFilename (signatures, metadata and partial files are none)', async () => {
  const cases: readonly (readonly [string, { extension: string; kind: DistKind } | undefined, boolean])[] = [
    ['pip-24.0-py3-none-any.whl', { extension: '.whl', kind: 'wheel' }, true],
    ['foo-1.0.tar.gz', { extension: '.tar.gz', kind: 'sdist' }, true],
    ['foo-1.0.tar.bz2', { extension: '.tar.bz2', kind: 'sdist' }, true],
    ['foo-1.0.tar.xz', { extension: '.tar.xz', kind: 'sdist' }, true],
    ['foo-1.0.tgz', { extension: '.tgz', kind: 'sdist' }, true],
    ['foo-1.0.tar', { extension: '.tar', kind: 'sdist' }, true],
    ['foo-1.0.zip', { extension: '.zip', kind: 'sdist' }, true],
    ['foo-1.0-py3.8.egg', { extension: '.egg', kind: 'egg' }, true],
    // Longest suffix first: an .egg.zip is an egg, not a zip sdist.
    ['foo-1.0-py3.8.egg.zip', { extension: '.egg.zip', kind: 'egg' }, true],
    ['README', undefined, false],
    ['README.md', undefined, false],
    ['foo.whl.asc', undefined, false],
    ['foo-1.0.tar.gz.asc', undefined, false],
    ['foo-1.0-py3-none-any.whl.metadata', undefined, false],
    ['foo-1.0.tar.gz.part', undefined, false],
    ['foo-1.0.tar.gz.yanked', undefined, false],
    ['foo-1.0.gz', undefined, false],
    // A bare extension names no file.
    ['.whl', undefined, false],
    ['.tar.gz', undefined, false],
    ['.egg', undefined, false],
    ['', undefined, false],
    // Hidden: the extension is there, but eggserve never lists it.
    ['.hidden-1.0.tar.gz', { extension: '.tar.gz', kind: 'sdist' }, false],
    ['.foo-1.0-py3-none-any.whl', { extension: '.whl', kind: 'wheel' }, false],
  ]
  for (const [filename, extension, isDist] of cases) {
    await test(`${JSON.stringify(filename)}: extension ${extension?.extension ?? 'none'}, distribution ${String(isDist)}`, () => {
      assert.deepEqual(distributionExtension(filename), extension)
      assert.equal(isDistributionFilename(filename), isDist)
    })
  }
})

await describe('distributionKey: one key per distribution file, whatever the spelling', async () => {
  const key = (filename: string): string => {
    const parsed = parseDistFilename(filename, 'foo-bar')
    assert.ok(parsed, filename)
    return distributionKey(filename, parsed)
  }
  const same: [string, string][] = [
    ['FOO_BAR-2.0-py3-none-any.whl', 'foo_bar-2.0-py3-none-any.whl'],
    ['foo.bar-2.0.0-py3-none-any.whl', 'foo_bar-2.0-py3-none-any.whl'],
    ['foo_bar-2.0-py2.py3-none-any.whl', 'foo_bar-2.0-py3.py2-none-any.whl'],
    ['foo_bar-2.0-01-py3-none-any.whl', 'foo_bar-2.0-1-py3-none-any.whl'],
    ['foo_bar-2.0-CP312-CP312-MANYLINUX_2_17_X86_64.whl', 'foo_bar-2.0-cp312-cp312-manylinux_2_17_x86_64.whl'],
    ['Foo-Bar-1.0.tar.gz', 'foo_bar-1.0.0.tar.gz'],
    ['foo_bar-1.0_beta-py3.8.egg', 'Foo_Bar-1.0_BETA-py3.8.egg'],
  ]
  const different: [string, string][] = [
    ['foo_bar-2.0-py3-none-any.whl', 'foo_bar-2.0-py2.py3-none-any.whl'],
    ['foo_bar-2.0-1-py3-none-any.whl', 'foo_bar-2.0-py3-none-any.whl'],
    ['foo_bar-2.0-py3-none-any.whl', 'foo_bar-2.1-py3-none-any.whl'],
    ['foo_bar-1.0.tar.gz', 'foo_bar-1.0.zip'],
    ['foo_bar-1.0-py3.8.egg', 'foo_bar-1.0-py3.9.egg'],
  ]
  for (const [a, b] of same)
    await test(`${a} = ${b}`, () => {
      assert.equal(key(a), key(b))
    })
  for (const [a, b] of different)
    await test(`${a} ≠ ${b}`, () => {
      assert.notEqual(key(a), key(b))
    })
})
