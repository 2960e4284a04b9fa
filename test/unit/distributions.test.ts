// The test-distribution builders (test/helpers/distributions.ts) and the shipped examples.
import assert from 'node:assert/strict'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import test from 'node:test'
import { gunzipSync } from 'node:zlib'
import { unzipSync } from 'fflate'
import { extract } from 'tar-stream'
import { buildExamples, DEFAULT_EXAMPLES_DIR } from '../../scripts/build-examples.js'
import { BACKEND_MODULE } from '../helpers/dist-backend.js'
import { buildEgg, buildSdist, buildWheel, recordHash, writeDist, type DistSpec } from '../helpers/distributions.js'
import { needTool } from '../helpers/tools.js'

// A developer's SOURCE_DATE_EPOCH must not make the committed examples look stale. Put back
// by the last statement: with awaited top-level tests, node:test runs a root after() hook as
// soon as the first one ends (Node 20), not after the file.
const savedEpoch = process.env.SOURCE_DATE_EPOCH
delete process.env.SOURCE_DATE_EPOCH

const MIXED: DistSpec = {
  name: 'Hx.Mixed_Name',
  version: '0.1',
  summary: 'Mixed-case test project',
  requiresPython: '>=3.7',
  requiresDist: ['attrs>=20', 'six; python_version < "3"'],
}

const FIXED_EPOCH = 1580601600 // 2020-02-02T00:00:00Z, the builders' default

/** Zip members in archive order (fflate keeps it; none of these paths look like array indices). */
function unzip(bytes: Buffer): Map<string, Buffer> {
  return new Map(Object.entries(unzipSync(bytes)).map(([path, data]) => [path, Buffer.from(data)]))
}

interface TarMember {
  name: string
  type: string
  mode: number
  uid: number
  gid: number
  uname: string
  gname: string
  mtime: number
  data: Buffer
}

async function untarGz(bytes: Buffer): Promise<TarMember[]> {
  const reader = extract()
  reader.end(gunzipSync(bytes))
  const members: TarMember[] = []
  for await (const entry of reader) {
    const chunks: Buffer[] = []
    for await (const chunk of entry) {
      assert.ok(Buffer.isBuffer(chunk))
      chunks.push(chunk)
    }
    const { header } = entry
    members.push({
      name: header.name,
      type: header.type,
      mode: header.mode,
      uid: header.uid,
      gid: header.gid,
      uname: header.uname,
      gname: header.gname,
      mtime: header.mtime.getTime() / 1000,
      data: Buffer.concat(chunks),
    })
  }
  return members
}

function member(members: ReadonlyMap<string, Buffer>, path: string): Buffer {
  const data = members.get(path)
  assert.ok(data, `archive has no ${path}; it has ${[...members.keys()].join(', ')}`)
  return data
}

/** The `Key: value` header lines of a core-metadata file, in order. */
function headers(text: Buffer): [string, string][] {
  return text
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const colon = line.indexOf(': ')
      return [line.slice(0, colon), line.slice(colon + 2)]
    })
}

await test('shipped examples: are byte-identical to a fresh build (rerun `npm run examples` after changing the builders)', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'eggserve-examples-'))
  try {
    const written = await buildExamples(tmp)
    assert.deepEqual(written.map((path) => basename(path)).sort(), [
      'eggdemo-1.0-py3-none-any.whl',
      'eggdemo-1.0-py3.7.egg',
      'eggdemo-1.0.tar.gz',
    ])
    const committed = join(DEFAULT_EXAMPLES_DIR, 'eggdemo')
    for (const path of written) {
      const name = basename(path)
      const shipped = await readFile(join(committed, name)).catch(() => undefined)
      assert.ok(shipped, `examples/eggs/eggdemo/${name} is missing; run \`npm run examples\``)
      assert.ok(
        shipped.equals(await readFile(path)),
        `examples/eggs/eggdemo/${name} differs from a fresh build; run \`npm run examples\``,
      )
    }
    assert.deepEqual(
      (await readdir(committed)).sort(),
      written.map((path) => basename(path)).sort(),
      'stale files in examples/eggs/eggdemo',
    )
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
})

await test('buildWheel: names the file after the escaped, lowercased project name (PEP 427)', () => {
  assert.equal(buildWheel(MIXED).filename, 'hx_mixed_name-0.1-py3-none-any.whl')
  assert.equal(buildWheel({ name: 'a-b', version: '1.0-1' }).filename, 'a_b-1.0_1-py3-none-any.whl')
})

await test('buildWheel: honours pythonTag, buildTag and filenameName', () => {
  const wheel = buildWheel(MIXED, { pythonTag: 'py2.py3', buildTag: '7', filenameName: 'Hx.Mixed_Name' })
  assert.equal(wheel.filename, 'Hx.Mixed_Name-0.1-7-py2.py3-none-any.whl')
  const members = unzip(wheel.bytes)
  // The .dist-info directory keeps the escaped name whatever the filename says.
  const wheelFile = member(members, 'hx_mixed_name-0.1.dist-info/WHEEL').toString('utf8')
  assert.match(wheelFile, /^Tag: py2-none-any\nTag: py3-none-any\nBuild: 7\n$/m)
})

await test('buildWheel: holds the module and a .dist-info with METADATA, WHEEL and RECORD last', () => {
  const members = unzip(buildWheel(MIXED).bytes)
  assert.deepEqual(
    [...members.keys()],
    [
      'hx_mixed_name/__init__.py',
      'hx_mixed_name-0.1.dist-info/METADATA',
      'hx_mixed_name-0.1.dist-info/WHEEL',
      'hx_mixed_name-0.1.dist-info/RECORD',
    ],
  )
  assert.equal(member(members, 'hx_mixed_name/__init__.py').toString('utf8'), "__version__ = '0.1'\n")
  assert.deepEqual(headers(member(members, 'hx_mixed_name-0.1.dist-info/WHEEL')), [
    ['Wheel-Version', '1.0'],
    ['Generator', 'eggserve-test-helpers'],
    ['Root-Is-Purelib', 'true'],
    ['Tag', 'py3-none-any'],
  ])
})

await test('buildWheel: writes METADATA with every field of the spec and returns its exact bytes', () => {
  const wheel = buildWheel(MIXED)
  assert.ok(wheel.metadata.equals(member(unzip(wheel.bytes), 'hx_mixed_name-0.1.dist-info/METADATA')))
  assert.deepEqual(headers(wheel.metadata), [
    ['Metadata-Version', '2.1'],
    ['Name', 'Hx.Mixed_Name'],
    ['Version', '0.1'],
    ['Summary', 'Mixed-case test project'],
    ['Requires-Python', '>=3.7'],
    ['Requires-Dist', 'attrs>=20'],
    ['Requires-Dist', 'six; python_version < "3"'],
  ])
})

await test('buildWheel: lists every member in RECORD with its sha256 and size, and RECORD itself unhashed', () => {
  const members = unzip(buildWheel(MIXED).bytes)
  const rows = member(members, 'hx_mixed_name-0.1.dist-info/RECORD')
    .toString('utf8')
    .trimEnd()
    .split('\n')
    .map((line) => line.split(','))
  assert.deepEqual(
    rows.map((row) => row[0]),
    [...members.keys()],
  )
  for (const [path, hash, size] of rows) {
    assert.ok(path !== undefined)
    if (path.endsWith('/RECORD')) {
      assert.deepEqual([hash, size], ['', ''])
      continue
    }
    const data = member(members, path)
    assert.match(hash ?? '', /^sha256=[A-Za-z0-9_-]{43}$/, 'urlsafe base64 without padding')
    assert.equal(hash, recordHash(data), path)
    assert.equal(size, String(data.length), path)
  }
})

await test('buildWheel: uses the given module name and source', () => {
  const members = unzip(buildWheel({ name: 'x', version: '1', module: 'other', moduleSource: 'X = 1\n' }).bytes)
  assert.equal(member(members, 'other/__init__.py').toString('utf8'), 'X = 1\n')
  assert.throws(() => buildWheel({ name: '3d', version: '1' }), /not a Python identifier/)
})

await test('buildSdist: holds one top-level directory with PKG-INFO, pyproject.toml, setup.py, the backend and the module', async () => {
  const sdist = buildSdist(MIXED)
  assert.equal(sdist.filename, 'hx_mixed_name-0.1.tar.gz')
  const members = await untarGz(sdist.bytes)
  assert.deepEqual(
    members.map((m) => m.name),
    [
      'hx_mixed_name-0.1/',
      'hx_mixed_name-0.1/PKG-INFO',
      `hx_mixed_name-0.1/${BACKEND_MODULE}.py`,
      'hx_mixed_name-0.1/hx_mixed_name/',
      'hx_mixed_name-0.1/hx_mixed_name/__init__.py',
      'hx_mixed_name-0.1/pyproject.toml',
      'hx_mixed_name-0.1/setup.py',
    ],
  )
  const pkgInfo = members.find((m) => m.name === 'hx_mixed_name-0.1/PKG-INFO')
  assert.ok(pkgInfo?.data.equals(sdist.pkgInfo))
  assert.deepEqual(headers(sdist.pkgInfo), headers(buildWheel(MIXED).metadata))
  const pyproject = members.find((m) => m.name.endsWith('/pyproject.toml'))?.data.toString('utf8') ?? ''
  assert.match(pyproject, /^requires = \[\]$/m)
  assert.match(pyproject, new RegExp(`^build-backend = "${BACKEND_MODULE}"$`, 'm'))
  assert.match(pyproject, /^backend-path = \["\."\]$/m)
  const setupPy = members.find((m) => m.name.endsWith('/setup.py'))?.data.toString('utf8') ?? ''
  assert.match(setupPy, /install_requires=\['attrs>=20', 'six; python_version < "3"'\]/)
})

await test('buildSdist: has no owner, fixed permissions and times, and a gzip header without mtime', async () => {
  const sdist = buildSdist(MIXED)
  assert.equal(sdist.bytes.readUInt32LE(4), 0, 'gzip MTIME')
  for (const m of await untarGz(sdist.bytes)) {
    assert.deepEqual([m.uid, m.gid, m.uname, m.gname, m.mtime], [0, 0, '', '', FIXED_EPOCH], m.name)
    assert.equal(m.mode, m.type === 'directory' ? 0o755 : 0o644, m.name)
  }
})

await test('buildSdist: spells legacy filenames verbatim with filenameName', async () => {
  const sdist = buildSdist({ name: 'python-dateutil', version: '2.8.2' }, { filenameName: 'python-dateutil' })
  assert.equal(sdist.filename, 'python-dateutil-2.8.2.tar.gz')
  const names = (await untarGz(sdist.bytes)).map((m) => m.name)
  assert.ok(
    names.every((name) => name.startsWith('python-dateutil-2.8.2/')),
    names.join(', '),
  )
  assert.ok(names.includes('python-dateutil-2.8.2/python_dateutil/__init__.py'))
})

await test('buildSdist: can be a zip with the same layout', () => {
  const sdist = buildSdist(MIXED, { format: 'zip' })
  assert.equal(sdist.filename, 'hx_mixed_name-0.1.zip')
  const members = unzip(sdist.bytes)
  assert.ok([...members.keys()].every((name) => name.startsWith('hx_mixed_name-0.1/')))
  assert.ok(member(members, 'hx_mixed_name-0.1/PKG-INFO').equals(sdist.pkgInfo))
})

await test('buildSdist: ships Python that parses', (t) => {
  const python = needTool(t, 'python3')
  if (python === undefined) return
  const sdist = buildSdist({ ...MIXED, summary: "Ünïcode 'quoted' \\ summary" }, { format: 'zip' })
  const members = unzip(sdist.bytes)
  for (const path of [`${BACKEND_MODULE}.py`, 'setup.py']) {
    const source = member(members, `hx_mixed_name-0.1/${path}`)
    const result: SpawnSyncReturns<string> = spawnSync(python, ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], {
      input: source.toString('utf8'),
      encoding: 'utf8',
    })
    assert.equal(result.status, 0, `${path}: ${result.stderr}`)
  }
})

await test('buildEgg: names the file setuptools-style and holds EGG-INFO/PKG-INFO', () => {
  const egg = buildEgg(MIXED, { pyVersion: '3.7' })
  assert.equal(egg.filename, 'Hx.Mixed_Name-0.1-py3.7.egg')
  assert.equal(
    buildEgg({ name: 'a-b', version: '1-2' }, { pyVersion: '2.7', platform: 'linux-x86_64' }).filename,
    'a_b-1_2-py2.7-linux-x86_64.egg',
  )
  const members = unzip(egg.bytes)
  assert.ok(member(members, 'EGG-INFO/PKG-INFO').equals(egg.pkgInfo))
  assert.deepEqual(
    [...members.keys()],
    [
      'EGG-INFO/PKG-INFO',
      'EGG-INFO/SOURCES.txt',
      'EGG-INFO/dependency_links.txt',
      'EGG-INFO/requires.txt',
      'EGG-INFO/top_level.txt',
      'EGG-INFO/zip-safe',
      'hx_mixed_name/__init__.py',
    ],
  )
  assert.equal(member(members, 'EGG-INFO/top_level.txt').toString('utf8'), 'hx_mixed_name\n')
  assert.equal(member(members, 'EGG-INFO/requires.txt').toString('utf8'), 'attrs>=20\n\n[:python_version < "3"]\nsix\n')
})

await test('buildEgg: omits requires.txt without dependencies', () => {
  const members = unzip(buildEgg({ name: 'eggdemo', version: '1.0' }, { pyVersion: '3.7' }).bytes)
  assert.equal(members.has('EGG-INFO/requires.txt'), false)
})

await test('determinism: gives identical bytes for identical input', () => {
  for (const build of [
    () => buildWheel(MIXED),
    () => buildSdist(MIXED),
    () => buildSdist(MIXED, { format: 'zip' }),
    () => buildEgg(MIXED, { pyVersion: '3.7' }),
  ]) {
    assert.ok(build().bytes.equals(build().bytes))
  }
})

await test('determinism: stamps members with SOURCE_DATE_EPOCH when it is set', async () => {
  process.env.SOURCE_DATE_EPOCH = '1700000000' // 2023-11-14T22:13:20Z
  try {
    const members = await untarGz(buildSdist(MIXED).bytes)
    assert.ok(members.every((m) => m.mtime === 1700000000))
    // The first local file header's DOS time and date words, read as UTC (zip has no zone).
    const wheel = buildWheel(MIXED).bytes
    assert.equal(wheel.readUInt16LE(10), (22 << 11) | (13 << 5) | (20 >> 1))
    assert.equal(wheel.readUInt16LE(12), ((2023 - 1980) << 9) | (11 << 5) | 14)
  } finally {
    delete process.env.SOURCE_DATE_EPOCH
  }
})

await test('writeDist: creates the directory and writes the file under its filename', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'eggserve-dist-'))
  try {
    const wheel = buildWheel(MIXED)
    const path = await writeDist(join(tmp, 'a', 'b'), wheel)
    assert.equal(path, join(tmp, 'a', 'b', wheel.filename))
    assert.ok((await readFile(path)).equals(wheel.bytes))
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
})

if (savedEpoch !== undefined) process.env.SOURCE_DATE_EPOCH = savedEpoch
