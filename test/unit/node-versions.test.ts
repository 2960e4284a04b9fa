// The supported Node majors are listed once, in package.json's engines.node, and everything else
// follows it (docs/node-versions.md): the runtimes the pass on other majors uses, the packages
// that ship, the Node types the code compiles against, .ci/prerequisites, the docs and the README.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import semver from 'semver'
import { PINNED_RUNTIMES, RUNTIME_PACKAGE } from '../../scripts/node-versions/pinned-runtimes.js'
import { enginesRange, supportedMajors } from '../../scripts/node-versions/supported.js'
import { E2E_SUBSET, majorsToRun, passFiles } from '../../scripts/node-versions/test-pass.js'
import { repoRoot } from '../helpers/spawn-server.js'

interface LockEntry {
  readonly version?: string
  readonly dev?: boolean
  readonly engines?: unknown
}

const range = enginesRange()
const majors = supportedMajors(range)
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>
}
const lock = JSON.parse(readFileSync(join(repoRoot, 'npm-shrinkwrap.json'), 'utf8')) as {
  packages: Record<string, LockEntry>
}

/** A release just before `version` (20.19.0 → 20.18.99, 24.0.0 → 23.99.99). */
function before(version: string): string {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number)
  if (patch > 0) return `${major}.${minor}.${patch - 1}`
  if (minor > 0) return `${major}.${minor - 1}.99`
  return `${major - 1}.99.99`
}

/** The engines.node a lock entry declares, if any. */
function nodeEngines(entry: LockEntry): string | undefined {
  const engines = entry.engines
  if (typeof engines !== 'object' || engines === null || !('node' in engines)) return undefined
  return typeof engines.node === 'string' ? engines.node : undefined
}

await test('supportedMajors reads one major per part of the range, and refuses a range that hides one', () => {
  assert.deepEqual(supportedMajors('^20.19.0 || ^22.12.0 || >=24.0.0'), [
    { major: 20, floor: '20.19.0', part: '^20.19.0', openEnded: false },
    { major: 22, floor: '22.12.0', part: '^22.12.0', openEnded: false },
    { major: 24, floor: '24.0.0', part: '>=24.0.0', openEnded: true },
  ])
  assert.deepEqual(
    supportedMajors('^22.12.0 || ^24.0.0').map((m) => [m.major, m.openEnded]),
    [
      [22, false],
      [24, false],
    ],
  )
  // ">=20.19 || ..." would admit 21, 22, 23 without naming them.
  assert.throws(() => supportedMajors('>=20.19 || ^24.0.0'), /spans several majors/)
  assert.throws(() => supportedMajors('^22.12.0 || ^20.19.0'), /oldest first/)
  assert.throws(() => supportedMajors('^20.19.0 || ^20.20.0'), /each major once/)
})

await test('package.json engines.node lists the supported majors, each from a floor of its own; the lock file says the same', () => {
  assert.ok(majors.length >= 1, range)
  assert.equal(nodeEngines(lock.packages[''] ?? {}), range, 'run npm install after changing engines.node')
  for (const entry of majors) {
    assert.ok(semver.satisfies(entry.floor, range), `${entry.floor} is admitted`)
    assert.ok(!semver.satisfies(before(entry.floor), range), `the release before ${entry.floor} is not admitted`)
  }
})

await test('every supported major has exactly one pinned runtime, of that major, admitted by engines.node', () => {
  assert.deepEqual(
    Object.keys(PINNED_RUNTIMES).map(Number),
    majors.map((entry) => entry.major),
  )
  for (const entry of majors) {
    const pin = PINNED_RUNTIMES[entry.major]
    assert.ok(pin !== undefined)
    assert.equal(semver.major(pin.version), entry.major)
    assert.ok(semver.satisfies(pin.version, range), `${pin.version} is admitted by ${range}`)
    assert.match(pin.integrity, /^sha512-[A-Za-z0-9+/]{86}==$/)
  }
})

await test("every package that ships admits every Node that engines.node admits (npm checks only eggserve's own engines at install)", () => {
  const refused: string[] = []
  let checked = 0
  for (const [path, entry] of Object.entries(lock.packages)) {
    const theirs = nodeEngines(entry)
    if (path === '' || entry.dev === true || theirs === undefined) continue
    checked++
    if (!semver.subset(range, theirs)) refused.push(`${path}@${entry.version ?? '?'}: node ${theirs}`)
  }
  assert.ok(checked > 50, `only ${checked} packages declare engines`)
  assert.deepEqual(refused, [], `these need a newer Node than ${range}`)
})

await test('every development package admits the runtimes the tests run on', () => {
  const refused: string[] = []
  for (const [path, entry] of Object.entries(lock.packages)) {
    const theirs = nodeEngines(entry)
    if (path === '' || entry.dev !== true || theirs === undefined) continue
    for (const pin of Object.values(PINNED_RUNTIMES)) {
      if (pin !== undefined && !semver.satisfies(pin.version, theirs))
        refused.push(`${path}@${entry.version ?? '?'}: node ${theirs}, not ${pin.version}`)
    }
  }
  assert.deepEqual(refused, [])
})

await test("@types/node is the oldest supported major's, so the compiler refuses APIs newer than it", () => {
  const types = pkg.devDependencies['@types/node']
  assert.ok(types !== undefined)
  assert.equal(semver.minVersion(types)?.major, majors[0]?.major)
  assert.equal(semver.major(lock.packages['node_modules/@types/node']?.version ?? '0.0.0'), majors[0]?.major)
})

await test('.ci/node-supported.js (run before npm ci, without semver) agrees with semver on engines.node', () => {
  const versions = [
    '18.20.8',
    '20.18.3',
    '20.19.0',
    '20.20.2',
    '21.7.3',
    '22.0.0',
    '22.11.0',
    '22.12.0',
    '22.23.5',
    '23.11.1',
    '24.0.0',
    '24.22.3',
    '25.2.0',
    '26.12.1',
    '30.0.0',
  ]
  for (const entry of majors) versions.push(entry.floor, before(entry.floor))
  for (const version of versions) {
    const result = spawnSync(process.execPath, [join(repoRoot, '.ci', 'node-supported.js'), version], {
      encoding: 'utf8',
    })
    const admitted = semver.satisfies(version, range)
    assert.equal(result.status, admitted ? 0 : 1, `${version}: ${result.stdout}${result.stderr}`)
    assert.equal(result.stdout, admitted ? '' : `Node.js ${range} (package.json engines.node; this is v${version})\n`)
  }
})

await test('docs/node-versions.md has one row per supported major: its floor and pinned runtime', () => {
  const docs = readFileSync(join(repoRoot, 'docs', 'node-versions.md'), 'utf8')
  assert.ok(docs.includes(`\`${range}\``), 'the docs quote engines.node')
  const rows = [...docs.matchAll(/^\| (\d+) \| (\d+\.\d+\.\d+) and later[^|]*\| `([^`]+)` \|/gm)].map((m) => [
    Number(m[1]),
    m[2],
    m[3],
  ])
  assert.deepEqual(
    rows,
    majors.map((entry) => [
      entry.major,
      entry.floor,
      `${RUNTIME_PACKAGE}@${PINNED_RUNTIMES[entry.major]?.version ?? '?'}`,
    ]),
  )
})

await test("the README's quick start names each supported major with its floor, and docs/node-versions.md", () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
  const start = readme.indexOf('## Quick start')
  const quickStart = readme.slice(start, readme.indexOf('```', start))
  const named = majors.map(
    (entry) => `${entry.floor.endsWith('.0.0') ? String(entry.major) : entry.floor.replace(/\.0$/, '')}+`,
  )
  const list = `${named.slice(0, -1).join(', ')}${named.length > 1 ? ' or ' : ''}${named.at(-1) ?? ''}`
  assert.ok(quickStart.includes(`Needs Node.js ${list}`), `the quick start says "Needs Node.js ${list}": ${quickStart}`)
  assert.ok(quickStart.includes('(docs/node-versions.md)'), quickStart)
})

await test('the pass on other majors: every supported major but the running one, or those named', () => {
  const others = majors.map((entry) => entry.major)
  const running = others[0] ?? 0
  assert.deepEqual(majorsToRun([], range, `v${running}.1.2`), others.slice(1))
  assert.deepEqual(majorsToRun([String(others.at(-1))], range, `v${running}.1.2`), [others.at(-1)])
  assert.throws(() => majorsToRun(['19'], range, 'v20.0.0'), /"19" is not a supported Node major/)
  assert.throws(() => majorsToRun(['latest'], range, 'v20.0.0'), /not a supported Node major/)
})

await test('the pass runs every unit and HTTP test file and the end-to-end subset, whose files exist', () => {
  const files = passFiles()
  for (const dir of ['test/unit', 'test/http']) {
    for (const name of readdirSync(join(repoRoot, dir)).filter((n) => n.endsWith('.test.ts')))
      assert.ok(files.includes(`${dir}/${name}`), `${dir}/${name}`)
  }
  const e2e = files.filter((file) => file.startsWith('test/e2e/'))
  assert.deepEqual(e2e, Object.keys(E2E_SUBSET))
  for (const file of e2e) assert.ok(existsSync(join(repoRoot, file)), file)
})
