// Layout validation: folders are projects, files belong by normalized name (docs/layout.md).
import assert from 'node:assert/strict'
import { isAbsolute } from 'node:path'
import { describe, test } from 'node:test'
import {
  classifyFolder,
  compareNames,
  isHiddenName,
  LayoutScan,
  validateLayout,
  type LayoutProblem,
  type LayoutProblemCode,
  type ScannedTree,
} from '../../src/core/layout.js'
import { InternTable } from '../../src/core/intern.js'

function filenames(folder: { files: readonly { filename: string }[] }): string[] {
  return folder.files.map((file) => file.filename)
}

function codesAndPaths(problems: readonly LayoutProblem[]): (readonly [LayoutProblemCode, string])[] {
  return problems.map((problem) => [problem.code, problem.path] as const)
}

await describe('classifyFolder', async () => {
  await test('accepts absl_py wheels in absl-py/ (normalized names agree; raw prefixes do not)', () => {
    const folder = classifyFolder('absl-py', [
      'absl_py-2.1.0-py3-none-any.whl',
      'absl-py-2.0.0.tar.gz',
      'Absl.Py-1.0.zip',
    ])
    assert.equal(folder.folder, 'absl-py')
    assert.equal(folder.project, 'absl-py')
    assert.deepEqual(filenames(folder), ['absl-py-2.0.0.tar.gz', 'Absl.Py-1.0.zip', 'absl_py-2.1.0-py3-none-any.whl'])
    assert.deepEqual(folder.problems, [])
    assert.deepEqual(
      folder.files.map((file) => [file.parsed.project, file.parsed.version]),
      [
        ['absl-py', '2.0.0'],
        ['absl-py', '1.0'],
        ['absl-py', '2.1.0'],
      ],
    )
  })

  await test('normalizes a non-normalized folder name into the project', () => {
    const folder = classifyFolder('Zope.Interface', [
      'zope.interface-4.1.3-py2.7-linux-x86_64.egg',
      'zope_interface-6.4.tar.gz',
    ])
    assert.equal(folder.project, 'zope-interface')
    assert.deepEqual(filenames(folder), ['zope.interface-4.1.3-py2.7-linux-x86_64.egg', 'zope_interface-6.4.tar.gz'])
    assert.deepEqual(folder.problems, [])
  })

  await test('uses the folder as the project hint for legacy hyphenated sdists', () => {
    const folder = classifyFolder('python-dateutil', ['python-dateutil-2.8.2.tar.gz'])
    assert.deepEqual(
      folder.files.map((file) => file.parsed.version),
      ['2.8.2'],
    )
    assert.deepEqual(folder.problems, [])
  })

  await test('reports a foreign file with a path relative to the eggdir', () => {
    const folder = classifyFolder('foo', ['foo-1.0.tar.gz', 'bar-2.0-py3-none-any.whl'])
    assert.deepEqual(filenames(folder), ['foo-1.0.tar.gz'])
    assert.equal(folder.problems.length, 1)
    const [problem] = folder.problems
    assert.equal(problem?.code, 'foreign-file')
    assert.equal(problem.path, 'foo/bar-2.0-py3-none-any.whl')
    assert.match(problem.message, /^foo\/bar-2\.0-py3-none-any\.whl: /)
    assert.match(problem.message, /"bar"/)
    assert.match(problem.message, /"foo"/)
  })

  await test('a file whose name only starts like the folder is foreign (foo-bar-1.0 in foo/)', () => {
    const folder = classifyFolder('foo', ['foo-bar-1.0.tar.gz'])
    assert.deepEqual(filenames(folder), [])
    assert.deepEqual(codesAndPaths(folder.problems), [['foreign-file', 'foo/foo-bar-1.0.tar.gz']])
  })

  await test('reports an unparsable distribution', () => {
    const folder = classifyFolder('foo', ['foo.whl', 'foo-1.0-x1-py3-none-any.whl', 'foo.tar.gz', 'foo-1.0.tar.gz'])
    assert.deepEqual(filenames(folder), ['foo-1.0.tar.gz'])
    assert.deepEqual(codesAndPaths(folder.problems), [
      ['unparsable-file', 'foo/foo.whl'],
      ['unparsable-file', 'foo/foo-1.0-x1-py3-none-any.whl'],
      ['unparsable-file', 'foo/foo.tar.gz'],
    ])
    for (const problem of folder.problems) assert.ok(problem.message.startsWith(`${problem.path}: `), problem.message)
  })

  await test('skips hidden files and non-distributions silently', () => {
    const folder = classifyFolder('foo', [
      'README',
      'README.md',
      'foo-1.0.tar.gz.asc',
      'foo-1.0-py3-none-any.whl.metadata',
      'foo-1.0.tar.gz.part',
      'foo-1.0.tar.gz.yanked',
      '.foo-1.0.tar.gz',
      '.bar-1.0-py3-none-any.whl',
      '.whl',
      'index.html',
    ])
    assert.deepEqual(folder.files, [])
    assert.deepEqual(folder.problems, [])
  })

  await test('sorts files case-insensitively, case-sensitively on ties', () => {
    const folder = classifyFolder('foo', ['foo-2.0.tar.gz', 'Foo-1.0.tar.gz', 'foo-1.0.tar.gz', 'FOO-1.5.zip'])
    assert.deepEqual(filenames(folder), ['Foo-1.0.tar.gz', 'foo-1.0.tar.gz', 'FOO-1.5.zip', 'foo-2.0.tar.gz'])
  })
})

await describe('validateLayout', async () => {
  await test('a clean tree has projects and no problems', () => {
    const report = validateLayout({
      folders: [
        { name: 'absl-py', files: ['absl_py-2.1.0-py3-none-any.whl'] },
        { name: 'Zope.Interface', files: ['zope.interface-4.1.3-py2.7.egg'] },
      ],
      rootFiles: ['README.md'],
    })
    assert.deepEqual(report.problems, [])
    assert.deepEqual(
      report.projects.map((p) => [p.folder, p.project, filenames(p)]),
      [
        ['absl-py', 'absl-py', ['absl_py-2.1.0-py3-none-any.whl']],
        ['Zope.Interface', 'zope-interface', ['zope.interface-4.1.3-py2.7.egg']],
      ],
    )
  })

  await test('reports two folders that normalize to the same project, keeping the first in sort order', () => {
    const orders: readonly ScannedTree['folders'][] = [
      [
        { name: 'foo_bar', files: ['foo_bar-2.0.tar.gz'] },
        { name: 'Foo.Bar', files: ['Foo.Bar-1.0.tar.gz'] },
      ],
      [
        { name: 'Foo.Bar', files: ['Foo.Bar-1.0.tar.gz'] },
        { name: 'foo_bar', files: ['foo_bar-2.0.tar.gz'] },
      ],
    ]
    for (const folders of orders) {
      const report = validateLayout({ folders, rootFiles: [] })
      assert.deepEqual(
        report.projects.map((p) => p.folder),
        ['Foo.Bar'],
      )
      assert.deepEqual(codesAndPaths(report.problems), [['duplicate-project', 'foo_bar/']])
      const [problem] = report.problems
      assert.match(problem?.message ?? '', /"Foo\.Bar\/"/)
      assert.match(problem?.message ?? '', /"foo-bar"/)
    }
  })

  await test('reports folders whose names are not valid project names', () => {
    for (const name of ['foo bar', '-foo', 'foo_', 'föö', 'foo+bar']) {
      const report = validateLayout({ folders: [{ name, files: [`${name}-1.0.tar.gz`] }], rootFiles: [] })
      assert.deepEqual(report.projects, [], name)
      assert.deepEqual(codesAndPaths(report.problems), [['invalid-folder', `${name}/`]], name)
      assert.ok(report.problems[0]?.message.startsWith(`${name}/: `), name)
    }
  })

  await test('reports a distribution at the top level, ignores other top-level files', () => {
    const report = validateLayout({
      folders: [],
      rootFiles: [
        'foo-1.0.tar.gz',
        'README.md',
        '.hidden-1.0.tar.gz',
        'eggserve.conf',
        'pip-24.0-py3-none-any.whl.asc',
      ],
    })
    assert.deepEqual(report.projects, [])
    assert.deepEqual(codesAndPaths(report.problems), [['stray-file', 'foo-1.0.tar.gz']])
    assert.match(report.problems[0]?.message ?? '', /^foo-1\.0\.tar\.gz: /)
  })

  await test('ignores hidden folders entirely', () => {
    const report = validateLayout({
      folders: [
        { name: '.git', files: ['objects.tar.gz'] },
        { name: '.cache', files: ['bar-1.0.tar.gz'] },
      ],
      rootFiles: [],
    })
    assert.deepEqual(report, { projects: [], problems: [] })
  })

  await test('reports every problem at once, in folder order, and keeps the good files', () => {
    const report = validateLayout({
      folders: [
        { name: 'zeta', files: ['zeta-1.0.tar.gz', 'alpha-1.0.tar.gz'] },
        { name: 'bad name', files: ['x-1.0.tar.gz'] },
        { name: 'Alpha', files: ['alpha-1.0.tar.gz', 'alpha.whl'] },
        { name: 'alpha', files: ['alpha-2.0.tar.gz'] },
        { name: '.hidden', files: ['whatever-1.0.tar.gz'] },
      ],
      rootFiles: ['stray-1.0-py3-none-any.whl', 'notes.txt'],
    })
    assert.deepEqual(codesAndPaths(report.problems), [
      ['stray-file', 'stray-1.0-py3-none-any.whl'],
      ['unparsable-file', 'Alpha/alpha.whl'],
      ['duplicate-project', 'alpha/'],
      ['invalid-folder', 'bad name/'],
      ['foreign-file', 'zeta/alpha-1.0.tar.gz'],
    ])
    assert.deepEqual(
      report.projects.map((p) => [p.folder, filenames(p)]),
      [
        ['Alpha', ['alpha-1.0.tar.gz']],
        ['zeta', ['zeta-1.0.tar.gz']],
      ],
    )
  })

  await test('sorts projects case-insensitively', () => {
    const report = validateLayout({
      folders: ['gamma', 'Beta', 'alpha', 'Delta', 'ALPHA2'].map((name) => ({ name, files: [] })),
      rootFiles: [],
    })
    assert.deepEqual(
      report.projects.map((p) => p.folder),
      ['alpha', 'ALPHA2', 'Beta', 'Delta', 'gamma'],
    )
  })

  await test('problem paths and messages never contain an absolute path', () => {
    const report = validateLayout({
      folders: [
        { name: 'Foo', files: ['bar-1.0.tar.gz', 'foo.whl'] },
        { name: 'foo', files: [] },
        { name: 'not valid', files: [] },
      ],
      rootFiles: ['baz-1.0.tar.gz'],
    })
    assert.equal(report.problems.length, 5)
    for (const problem of report.problems) {
      assert.equal(isAbsolute(problem.path), false, problem.path)
      assert.doesNotMatch(problem.message, /(^|[\s"'(])\//, problem.message)
      assert.ok(problem.message.startsWith(`${problem.path}: `), problem.message)
    }
  })
})

await describe('compareNames and isHiddenName', async () => {
  const ordered = ['a', 'B', 'b', 'c', 'Foo', 'foo', 'foo-bar', 'FOO_BAR', 'foo_bar', 'zz']
  await test('orders case-insensitively with a case-sensitive tie-break', () => {
    const shuffled = [...ordered].reverse()
    assert.deepEqual(shuffled.sort(compareNames), ordered)
  })
  await test('is a consistent comparator', () => {
    for (const [i, a] of ordered.entries()) {
      for (const [j, b] of ordered.entries()) {
        assert.equal(Math.sign(compareNames(a, b)), Math.sign(i - j), `${a} vs ${b}`)
      }
    }
  })
  await test('hidden means a leading dot', () => {
    assert.deepEqual(['.git', '.foo-1.0.tar.gz', 'foo', 'a.b', ''].map(isHiddenName), [true, true, false, false, false])
  })
})

await describe('classifyFolder with a string table', async () => {
  const folders: Record<string, string[]> = {
    foo: [
      'foo-1.0-py3-none-any.whl',
      'Foo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl',
      'foo-1.0-1-py3-none-any.whl',
      'foo-2.0.tar.gz',
      'foo-1.0-py2.7-linux_x86_64.egg',
      'foo-1.0-py2.7.egg',
      'bar-1.0.tar.gz',
      'README.txt',
    ],
    bar: ['bar-1.0-py3-none-any.whl'],
  }

  await test('gives the same classification, parse for parse, optional fields present exactly when they were', () => {
    const strings = new InternTable()
    for (const [folder, files] of Object.entries(folders)) {
      assert.deepEqual(classifyFolder(folder, files, strings), classifyFolder(folder, files))
    }
    const tree: ScannedTree = {
      rootFiles: [],
      folders: Object.entries(folders).map(([name, files]) => ({ name, files })),
    }
    assert.deepEqual(validateLayout(tree, new InternTable()), validateLayout(tree))
  })

  await test('holds each version and tag once, across folders', () => {
    const strings = new InternTable()
    for (const [folder, files] of Object.entries(folders)) classifyFolder(folder, files, strings)
    // Versions 1.0 and 2.0; py3, any, cp312, manylinux_2_17_x86_64; build tag 1; egg 2.7, linux_x86_64.
    assert.equal(strings.size, 9)
    assert.equal(strings.intern('py3'), 'py3')
    assert.equal(strings.size, 9, 'py3 was held already')
  })
})

await describe('LayoutScan', async () => {
  const tree: ScannedTree = {
    rootFiles: ['stray-1.0.tar.gz', 'README.md'],
    folders: [
      { name: 'foo_bar', files: ['foo_bar-2.0.tar.gz'] },
      { name: 'zed', files: ['zed-1.0.tar.gz', 'other-1.0.tar.gz'] },
      { name: '.hidden', files: ['hidden-1.0.tar.gz'] },
      { name: 'foo bar', files: [] },
      { name: 'Foo.Bar', files: ['Foo.Bar-1.0.tar.gz'] },
      { name: 'absl-py', files: ['absl_py-2.1.0-py3-none-any.whl'] },
    ],
  }

  await test('folder by folder, in its order, gives the report validateLayout() gives for the whole tree', () => {
    const order = LayoutScan.order(tree.folders.map((folder) => folder.name))
    assert.deepEqual(order, ['absl-py', 'foo bar', 'Foo.Bar', 'foo_bar', 'zed'], 'hidden left out, sorted')
    const scan = new LayoutScan(tree.rootFiles)
    const added = order.map((name) => scan.add(name, tree.folders.find((folder) => folder.name === name)?.files ?? []))
    assert.deepEqual(
      added.map((classified) => classified?.folder),
      ['absl-py', undefined, 'Foo.Bar', undefined, 'zed'],
      'an invalid name and the second folder of a project hold none',
    )
    assert.deepEqual(scan.report(), validateLayout(tree))
    assert.deepEqual(codesAndPaths(scan.report().problems), [
      ['stray-file', 'stray-1.0.tar.gz'],
      ['invalid-folder', 'foo bar/'],
      ['duplicate-project', 'foo_bar/'],
      ['foreign-file', 'zed/other-1.0.tar.gz'],
    ])
  })

  await test('a folder left out (it could not be listed) owns no project: the next one of that name does', () => {
    const scan = new LayoutScan([])
    for (const name of LayoutScan.order(['Foo.Bar', 'foo_bar'])) {
      if (name === 'Foo.Bar') continue
      scan.add(name, ['foo_bar-2.0.tar.gz'])
    }
    assert.deepEqual(
      scan.report().projects.map((project) => project.folder),
      ['foo_bar'],
    )
    assert.deepEqual(scan.report().problems, [])
  })
})
