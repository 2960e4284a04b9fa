// The benchmark's tree generator (scripts/bench/make-tree.ts): the layout, valid wheels (every
// member's CRC-32, RECORD's sha256 and size), readable sdists, and the same bytes for the same seed.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { gunzipSync, crc32 } from 'node:zlib'
import { extract as tarExtract } from 'tar-stream'
import yauzl from 'yauzl'
import { makeTree } from '../../scripts/bench/make-tree.js'
import type { TreeShape } from '../../scripts/bench/options.js'
import { tempDir } from '../helpers/temp-tree.js'

const SHAPE: TreeShape = { projects: 3, files: 4, size: 3000, bigMb: 2, sdists: true, seed: 7 }

interface ZipMemberRead {
  readonly path: string
  readonly crc: number
  readonly data: Buffer
}

/** Every member of a zip, read through its central directory with yauzl. */
async function readZip(bytes: Buffer): Promise<ZipMemberRead[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true, validateEntrySizes: true }, (err, file) => {
      if (err === null) resolve(file)
      else reject(err)
    })
  })
  const members: ZipMemberRead[] = []
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (err, stream) => {
        if (err !== null) {
          reject(err)
          return
        }
        const chunks: Buffer[] = []
        stream.on('data', (chunk: Buffer) => chunks.push(chunk))
        stream.on('end', () => {
          members.push({ path: entry.fileName, crc: entry.crc32, data: Buffer.concat(chunks) })
          zip.readEntry()
        })
        stream.on('error', reject)
      })
    })
    zip.on('end', resolve)
    zip.on('error', reject)
    zip.readEntry()
  })
  return members
}

/** The member names and contents of a .tar.gz. */
async function readTarGz(bytes: Buffer): Promise<Map<string, Buffer>> {
  const members = new Map<string, Buffer>()
  const extract = tarExtract()
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = []
      for await (const chunk of entry) chunks.push(chunk as Buffer)
      members.set(entry.header.name, Buffer.concat(chunks))
    }
  })()
  extract.end(gunzipSync(bytes))
  await done
  return members
}

/** Every file under `dir` (relative path → sha256). */
async function digests(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const folder of (await readdir(dir)).sort()) {
    for (const name of (await readdir(join(dir, folder))).sort()) {
      out.set(
        `${folder}/${name}`,
        createHash('sha256')
          .update(await readFile(join(dir, folder, name)))
          .digest('hex'),
      )
    }
  }
  return out
}

await test('make-tree writes the layout, valid wheels and sdists, and the same bytes for the same seed', async (t) => {
  const root = await tempDir(t, 'eggserve-make-tree-')
  const summary = await makeTree(join(root, 'a'), SHAPE)
  assert.equal(summary.files, 3 * 4 + 1)
  const tree = await digests(join(root, 'a'))
  assert.deepEqual(
    [...tree.keys()],
    [
      'big/big-1.0-py3-none-any.whl',
      ...['00000', '00001', '00002'].flatMap((n) => [
        `proj-${n}/proj_${n}-1.0.0-py3-none-any.whl`,
        `proj-${n}/proj_${n}-1.0.1-py3-none-any.whl`,
        `proj-${n}/proj_${n}-1.0.2.tar.gz`,
        `proj-${n}/proj_${n}-1.0.3-py3-none-any.whl`,
      ]),
    ],
  )
  assert.equal(new Set(tree.values()).size, tree.size, 'every file differs')

  await t.test('wheels: CRC-32 and RECORD (sha256, size) match every member; METADATA names the release', async () => {
    for (const path of [...tree.keys()].filter((p) => p.endsWith('.whl'))) {
      const members = await readZip(await readFile(join(root, 'a', path)))
      for (const member of members) assert.equal(crc32(member.data), member.crc, `${path}: ${member.path}`)
      const byPath = new Map(members.map((m) => [m.path, m.data]))
      const recordPath = members.map((m) => m.path).find((p) => p.endsWith('.dist-info/RECORD'))
      assert.ok(recordPath !== undefined, path)
      const lines = (byPath.get(recordPath) ?? Buffer.alloc(0)).toString('utf8').trimEnd().split('\n')
      assert.equal(lines.length, members.length, `${path}: one RECORD line per member`)
      for (const line of lines) {
        const [member = '', hash = '', size = ''] = line.split(',')
        if (member === recordPath) {
          assert.equal(line, `${recordPath},,`)
          continue
        }
        const data = byPath.get(member)
        assert.ok(data !== undefined, `${path}: RECORD names ${member}`)
        assert.equal(hash, `sha256=${createHash('sha256').update(data).digest('base64url')}`, `${path}: ${member}`)
        assert.equal(Number(size), data.length)
      }
      const [, project = '', version = ''] = /^(?:proj-\d+|big)\/([a-z0-9_]+)-([\d.]+)-py3/.exec(path) ?? []
      const metadata = [...byPath].find(([p]) => p.endsWith('.dist-info/METADATA'))?.[1].toString('utf8') ?? ''
      assert.match(
        metadata,
        new RegExp(
          `^Metadata-Version: 2\\.1\\nName: ${project.replace(/_/g, '-')}\\nVersion: ${version.replace(/\./g, '\\.')}\\n`,
        ),
        path,
      )
    }
  })

  await t.test('the large wheel holds a payload of --big-mb MiB; small payloads are --size bytes', async () => {
    const big = await readZip(await readFile(join(root, 'a', 'big/big-1.0-py3-none-any.whl')))
    assert.equal(big.find((m) => m.path === 'big/payload.bin')?.data.length, 2 * 2 ** 20)
    const small = await readZip(await readFile(join(root, 'a', 'proj-00001/proj_00001-1.0.1-py3-none-any.whl')))
    assert.equal(small.find((m) => m.path === 'proj_00001/payload.bin')?.data.length, 3000)
    assert.match(
      small.find((m) => m.path.endsWith('METADATA'))?.data.toString('utf8') ?? '',
      /^Requires-Python: >=3\.8$/m,
    )
  })

  await t.test('sdists hold PKG-INFO under their {name}-{version}/ folder', async () => {
    const members = await readTarGz(await readFile(join(root, 'a', 'proj-00002/proj_00002-1.0.2.tar.gz')))
    assert.deepEqual([...members.keys()], ['proj_00002-1.0.2/PKG-INFO', 'proj_00002-1.0.2/payload.bin'])
    assert.match(members.get('proj_00002-1.0.2/PKG-INFO')?.toString('utf8') ?? '', /^Name: proj-00002$/m)
  })

  await t.test('the same seed gives the same bytes; another seed other bytes', async () => {
    await makeTree(join(root, 'b'), SHAPE)
    assert.deepEqual(await digests(join(root, 'b')), tree)
    await makeTree(join(root, 'c'), { ...SHAPE, seed: 8 })
    const other = await digests(join(root, 'c'))
    for (const [path, digest] of tree) assert.notEqual(other.get(path), digest, path)
  })

  await t.test('a folder that is not empty is refused', async () => {
    await assert.rejects(makeTree(join(root, 'a'), SHAPE), /exists and is not empty/)
  })
})
