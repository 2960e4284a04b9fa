// The repository stands on its own: nothing in it cites a document that is not in it (the
// item codes of an outside list of requirements, an outside style document, an issue
// tracker's numbers) or reaches for files outside it. A comment cites the PEP, the RFC section, the client's code or issue
// URL, or a document under docs/.
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Where the rule is enforced: everything the repository ships or runs. */
const CHECKED = [
  'src',
  'ui-assets',
  'README.md',
  'BENCHMARKS.md',
  'LICENSE',
  'package.json',
  'eslint.config.js',
  'docs',
  'test',
  'scripts',
  'contrib',
  '.ci',
  'bin',
  'examples',
]

/** Text files under `path` (a file or a folder), skipping binaries. */
function textFiles(path: string): string[] {
  const full = join(ROOT, path)
  if (statSync(full).isFile()) return [path]
  return readdirSync(full, { recursive: true, encoding: 'utf8' })
    .map((name) => join(path, name))
    .filter((file) => statSync(join(ROOT, file)).isFile() && !/\.(png|jpe?g|gz|tgz|whl|egg|zip|tar|bz2|xz)$/.test(file))
}

// Built from pieces, so that this file does not match itself.
const OUTSIDE = [
  {
    what: 'the shared folder outside the repository',
    pattern: new RegExp(['\\.\\./', 'shared\\b|/work/', 'shared\\b'].join('')),
  },
  { what: 'an outside list of requirements', pattern: new RegExp(['\\bcheck', 'list\\b'].join(''), 'i') },
  {
    what: 'an item code of that list (one or two letters, a hyphen, a number)',
    pattern: new RegExp(['\\b(?:A|N|C|H|J|M|F|K|P|FN|MD|U|X|E|Z)', '-\\d+\\b'].join('')),
  },
  {
    what: 'an outside style document',
    pattern: new RegExp(['style ', 'guide|style ', 'pitfall|style\\.', 'md'].join(''), 'i'),
  },
  { what: 'an issue tracker number', pattern: new RegExp(['\\bissues? ', '#?\\d+\\b'].join(''), 'i') },
]

await test('nothing cites a document that is not in the repository', () => {
  const files = CHECKED.flatMap(textFiles).filter((file) => !file.includes('node_modules'))
  assert.ok(files.includes('test/unit/standalone.test.ts') && files.length > 100, `only ${files.length} files checked`)
  const found: string[] = []
  for (const file of files) {
    readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .forEach((line, index) => {
        for (const { what, pattern } of OUTSIDE) {
          const match = pattern.exec(line)
          if (match !== null) found.push(`${file}:${index + 1}: ${what} ("${match[0]}"): ${line.trim().slice(0, 160)}`)
        }
      })
  }
  assert.deepEqual(found, [])
})

await test('the patterns find what they are meant to find', () => {
  const samples = [
    'see ../' + 'shared/tools',
    'the check' + 'list says so',
    '(K' + '-1)',
    'FN' + '-7 and Z' + '-1',
    'style ' + 'pitfall 5',
    'issue ' + '4',
  ]
  for (const sample of samples)
    assert.ok(
      OUTSIDE.some(({ pattern }) => pattern.test(sample)),
      sample,
    )
  for (const fine of [
    'RFC 9110 §13.1.2',
    'CVE-2025-54368',
    'UTF-8',
    'SHA-256',
    'pypa/pip#13680',
    'aws/aws-sdk-js-v3#6810',
    'ISO-8859-1',
  ]) {
    assert.ok(!OUTSIDE.some(({ pattern }) => pattern.test(fine)), fine)
  }
})
