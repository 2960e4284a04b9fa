// The documents under docs/ (and the README) stay true to the code and to each other: every
// EGGSERVE_ name and eggserve flag they mention exists, every relative link and anchor resolves,
// every repository path they quote exists, the index lists every document, and the
// compatibility table sits where scripts/compat-table.ts writes it.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { COMPAT_DOC, replaceRegion } from '../../scripts/compat-table.js'
import { optionFlags } from '../../src/cli.js'
import { SETTINGS } from '../../src/config.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8')

/** README.md and every Markdown file under docs/, as repository paths. */
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
]
/** The documents whose links and quoted paths are checked: DOCS, the benchmark report and the bench's own README. */
const LINKED = [...DOCS, 'BENCHMARKS.md', 'scripts/bench/README.md']

/** The text outside fenced code blocks (links and headings in code are not links or headings). */
function prose(text: string): string {
  let fenced = false
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*```/.test(line)) {
        fenced = !fenced
        return ''
      }
      return fenced ? '' : line
    })
    .join('\n')
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** The anchors of a Markdown file's headings (a repeated heading gets -1, -2, ... as on GitHub). */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  for (const match of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(match[1] ?? '')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    result.add(count === 0 ? base : `${base}-${count}`)
  }
  return result
}

/** Every file under `dir` (a repository path), recursively, skipping node_modules. */
function filesUnder(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return []
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter(
      (path) =>
        !path.includes('node_modules') &&
        !/\.(png|jpe?g|gz|whl|egg|zip|tgz)$/.test(path) &&
        statSync(join(ROOT, path)).isFile(),
    )
}

await test('docs/README.md lists every document under docs/', () => {
  const index = read('docs/README.md')
  for (const doc of DOCS.filter((path) => path.startsWith('docs/') && path !== 'docs/README.md')) {
    const name = doc.slice('docs/'.length)
    assert.ok(index.includes(`](${name})`), `docs/README.md links ${name}`)
  }
})

await test('every relative link in the README, docs/ and the benchmark reports leads to a file, and every #anchor to a heading there', () => {
  const checked: string[] = []
  for (const doc of LINKED) {
    const text = read(doc)
    for (const match of prose(text).matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)) {
      const target = match[1] ?? ''
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
      const [path = '', anchor] = target.split('#')
      const file = path === '' ? doc : relative(ROOT, join(ROOT, dirname(doc), decodeURI(path)))
      assert.ok(!file.startsWith('..'), `${doc}: ${target} leaves the repository`)
      assert.ok(existsSync(join(ROOT, file)), `${doc}: ${target} (${file}) does not exist`)
      if (anchor !== undefined) {
        assert.ok(file.endsWith('.md'), `${doc}: ${target}: an anchor into a file that is not Markdown`)
        assert.ok(
          anchors(read(file)).has(anchor),
          `${doc}: ${target}: no heading "#${anchor}" in ${file} (it has: ${[...anchors(read(file))].join(', ')})`,
        )
      }
      checked.push(target)
    }
  }
  // The check found the links it is meant to check.
  assert.ok(checked.includes('docs/http.md#hash-anchors'), 'the README links the hash anchors')
  assert.ok(checked.length > 50, `only ${checked.length} links found`)
})

await test('every repository path the README, docs/ and the benchmark reports quote exists', () => {
  const quoted: string[] = []
  for (const doc of LINKED) {
    for (const match of prose(read(doc)).matchAll(
      /`((?:src|test|scripts|contrib|docs|examples|bin|ui-assets|\.ci)\/[\w./-]*)`/g,
    )) {
      const path = match[1] ?? ''
      assert.ok(existsSync(join(ROOT, path)), `${doc} names ${path}, which does not exist`)
      quoted.push(path)
    }
  }
  assert.ok(quoted.includes('contrib/systemd/eggserve.service'), 'the check sees quoted paths')
})

await test('every EGGSERVE_ name in the README and docs/ exists in the code', () => {
  const code = ['src', 'test', 'scripts', '.ci', 'bin']
    .flatMap(filesUnder)
    .filter((path) => path !== 'test/unit/docs.test.ts')
    .map(read)
    .join('\n')
  const settings = new Set<string>(Object.values(SETTINGS).map((setting) => setting.env))
  const names = new Set<string>()
  for (const doc of DOCS)
    for (const match of read(doc).matchAll(/\bEGGSERVE_[A-Z0-9_]*[A-Z0-9]\b/g)) names.add(match[0])
  for (const name of names) {
    assert.ok(
      settings.has(name) || new RegExp(`\\b${name}\\b`).test(code),
      `${name} is documented but appears nowhere in src/, test/, scripts/, .ci/ or bin/`,
    )
  }
  // Every setting's variable is documented somewhere.
  for (const env of settings) assert.ok(names.has(env), `${env} is not documented`)
})

/**
 * Flags of other programs that the documents mention, by program. Anything else that looks like
 * a long option must be one of eggserve's: a renamed or removed flag cannot linger in the docs.
 */
const OTHER_PROGRAMS_FLAGS: Readonly<Record<string, readonly string[]>> = {
  pip: ['--index-url', '--extra-index-url', '--trusted-host', '--require-hashes', '--cert', '--hash', '--pre'],
  'pip-tools': ['--generate-hashes'],
  twine: ['--repository-url', '--skip-existing'],
  uv: ['--publish-url', '--index', '--username', '--password', '--find-links'],
  poetry: ['--build', '--no-ansi', '--no-root'],
  pdm: ['--no-build', '--no-self'],
  virtualenv: ['--no-seed'],
  npm: [
    '--prefix',
    '--json',
    '--quick',
    '--keep',
    '--profile',
    '--only',
    '--out',
    '--ui-renders',
    '--node',
    '--projects',
    '--rounds',
    '--s3-startup-100k',
    '--s3-download-only',
    '--clients',
    '--stages',
    '--ignore-scripts',
  ], // and the bench's own, after `--`
  node: [
    '--import',
    '--test',
    '--pending-deprecation',
    '--jitless',
    '--max-semi-space-size',
    '--noEmit',
    '--trace-gc',
    '--heap-growing-percent',
    '--no-allocation-site-pretenuring',
    '--heapsnapshot-signal',
    '--semi-space-growth-factor',
    '--cpu-prof',
    '--perf-basic-prof',
    '--ttfb', // scripts/bench/s3-download-ab.ts
  ],
  systemd: ['--now', '--root'],
  valgrind: ['--tool', '--separate-threads'],
}

await test("every long option the README and docs/ mention is eggserve's or a named other program's", () => {
  const ours = new Set([
    '--help',
    '--version',
    ...optionFlags().flatMap((flags) => flags.split(/[\s,]+/).filter((word) => word.startsWith('--'))),
  ])
  const others = new Set(Object.values(OTHER_PROGRAMS_FLAGS).flat())
  for (const flag of others)
    assert.ok(!ours.has(flag), `${flag} is eggserve's own; remove it from OTHER_PROGRAMS_FLAGS`)
  const seen = new Set<string>()
  for (const doc of DOCS) {
    for (const match of read(doc).matchAll(/(?<![\w-])--[a-zA-Z][a-zA-Z0-9-]*/g)) {
      assert.ok(
        ours.has(match[0]) || others.has(match[0]),
        `${doc} mentions ${match[0]}, which is no eggserve flag (nor listed as another program's)`,
      )
      seen.add(match[0])
    }
  }
  for (const flag of others)
    assert.ok(seen.has(flag), `${flag} is no longer mentioned; remove it from OTHER_PROGRAMS_FLAGS`)
})

await test(`the compatibility table lives in ${COMPAT_DOC}, between the markers scripts/compat-table.ts rewrites`, () => {
  const doc = read(COMPAT_DOC)
  assert.equal(doc.split('<!-- compat:start -->').length, 2, 'one start marker')
  assert.equal(doc.split('<!-- compat:end -->').length, 2, 'one end marker')
  const region = doc.slice(
    doc.indexOf('<!-- compat:start -->') + '<!-- compat:start -->\n'.length,
    doc.indexOf('<!-- compat:end -->'),
  )
  assert.match(region, /^<!-- Generated by `node --import tsx scripts\/compat-table\.ts`/)
  assert.equal(replaceRegion(doc, region), doc, 'rewriting the region with itself changes nothing else')
  assert.notEqual(replaceRegion(doc, 'new\n'), doc)
  // Nowhere else: the README points to it instead.
  for (const other of DOCS.filter((path) => path !== COMPAT_DOC))
    assert.ok(!read(other).includes('<!-- compat:start -->'), `${other} holds a second table`)
  assert.ok(read('README.md').includes(`](${COMPAT_DOC})`), 'the README links the table')
})
