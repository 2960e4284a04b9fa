// readCoreMetadata over real files opened through LocalStorage (the storage seam): exact bytes
// for good distributions, a coded refusal for bad ones (docs/http.md, "What the pages say"), no stream or
// descriptor left behind either way.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { describe, test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import type { FastifyBaseLogger } from 'fastify'
import { pino } from 'pino'
import { parseDistFilename } from '../../src/core/filenames.js'
import {
  METADATA_LIMITS,
  randomAccessSource,
  readCoreMetadata,
  type MetadataLimits,
  type MetadataRead,
  type RandomAccessSource,
} from '../../src/archives/read-core-metadata.js'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { makeKey, type OpenFile } from '../../src/storage/storage.js'
import { gzip, writeTar, writeZip, withParentDirs, type ArchiveEntry } from '../helpers/dist-archives.js'
import { buildEgg, buildSdist, buildWheel, coreMetadata, type DistSpec } from '../helpers/distributions.js'
import { eventually, noise, openDescriptors } from '../helpers/test-bytes.js'

const FOLDER = 'demo-pkg'
const SPEC: DistSpec = {
  name: 'Demo.Pkg',
  version: '1.0',
  summary: 'A demo',
  requiresDist: ['six>=1.0', 'attrs; python_version < "3.8"'],
}
const METADATA = coreMetadata(SPEC)
const log: FastifyBaseLogger = pino({ level: 'silent' })

// Set-up at the top, clean-up as the last statement: with awaited top-level tests, node:test
// runs a root after() hook as soon as the first one ends (Node 20), not after the file.
const root = await mkdtemp(join(tmpdir(), 'eggserve-archives-'))
await mkdir(join(root, FOLDER))
const storage = await LocalStorage.create(root, log)

/** The source, recording every stream handed out so the test can check none is left running. */
function tracked(source: RandomAccessSource): { source: RandomAccessSource; streams: Readable[] } {
  const streams: Readable[] = []
  return {
    streams,
    source: {
      size: source.size,
      createReadStream: (range) => {
        const stream = source.createReadStream(range)
        streams.push(stream)
        return stream
      },
    },
  }
}

async function openStored(filename: string): Promise<OpenFile> {
  const file = await storage.open(makeKey(FOLDER, filename))
  assert.ok(file, `${filename} opens`)
  return file
}

/**
 * Store `bytes` as `<root>/demo-pkg/<filename>`, open it through LocalStorage, read its
 * metadata and close it; asserts that every stream was finished or destroyed by then and
 * that no descriptor outlives the close.
 */
async function readStored(
  filename: string,
  bytes: Buffer,
  limits: MetadataLimits = METADATA_LIMITS,
): Promise<MetadataRead> {
  await writeFile(join(root, FOLDER, filename), bytes)
  const parsed = parseDistFilename(filename, 'demo-pkg')
  assert.ok(parsed, `${filename} parses`)
  const descriptors = openDescriptors()
  const file = await openStored(filename)
  const { source, streams } = tracked(randomAccessSource(file))
  let result: MetadataRead
  try {
    result = await readCoreMetadata(source, parsed, filename, limits)
    const running = streams.filter((stream) => !stream.destroyed && !stream.readableEnded)
    assert.equal(running.length, 0, `${running.length} of ${streams.length} source streams left running`)
  } finally {
    await file.close()
  }
  assert.ok(await eventually(() => openDescriptors() <= descriptors), 'no descriptor stays open')
  return result
}

function assertBytes(result: MetadataRead, expected: Buffer, member: string): void {
  assert.ok(result.ok, result.ok ? '' : `${result.code}: ${result.reason}`)
  assert.equal(result.member, member)
  assert.ok(result.bytes.equals(expected), 'exact bytes')
}

function assertProblem(result: MetadataRead, code: string, reason?: RegExp): void {
  assert.equal(result.ok, false, 'refused')
  assert.equal(result.code, code, result.reason)
  if (reason !== undefined) assert.match(result.reason, reason)
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8')

/** A wheel-shaped zip of the given members (WHEEL added unless `bare`). */
function wheelOf(entries: readonly ArchiveEntry[]): Buffer {
  return writeZip([{ path: 'demo_pkg/__init__.py', data: utf8('') }, ...entries])
}

await describe('readCoreMetadata: well-formed distributions', async () => {
  await test('a wheel gives its .dist-info/METADATA byte for byte', async () => {
    const wheel = buildWheel(SPEC)
    assertBytes(await readStored(wheel.filename, wheel.bytes), wheel.metadata, 'demo_pkg-1.0.dist-info/METADATA')
  })

  await test('a wheel whose .dist-info keeps the unescaped project name is accepted (legacy spelling)', async () => {
    const bytes = wheelOf([{ path: 'Demo.Pkg-1.0.dist-info/METADATA', data: METADATA }])
    assertBytes(await readStored('Demo.Pkg-1.0-py3-none-any.whl', bytes), METADATA, 'Demo.Pkg-1.0.dist-info/METADATA')
  })

  await test('an egg gives EGG-INFO/PKG-INFO', async () => {
    const egg = buildEgg(SPEC, { pyVersion: '3.7' })
    assertBytes(await readStored(egg.filename, egg.bytes), egg.pkgInfo, 'EGG-INFO/PKG-INFO')
  })

  await test('a .tar.gz sdist gives <top>/PKG-INFO', async () => {
    const sdist = buildSdist(SPEC)
    assertBytes(await readStored(sdist.filename, sdist.bytes), sdist.pkgInfo, 'demo_pkg-1.0/PKG-INFO')
  })

  await test('a .zip sdist gives <top>/PKG-INFO', async () => {
    const sdist = buildSdist(SPEC, { format: 'zip' })
    assertBytes(await readStored(sdist.filename, sdist.bytes), sdist.pkgInfo, 'demo_pkg-1.0/PKG-INFO')
  })

  await test('.tgz and plain .tar sdists are read too', async () => {
    const sdist = buildSdist(SPEC)
    assertBytes(await readStored('demo_pkg-1.0.tgz', sdist.bytes), sdist.pkgInfo, 'demo_pkg-1.0/PKG-INFO')
    assertBytes(await readStored('demo_pkg-1.0.tar', gunzipSync(sdist.bytes)), sdist.pkgInfo, 'demo_pkg-1.0/PKG-INFO')
  })

  await test('a PKG-INFO far from the start of a .tar.gz is found (flit and hatchling write it last)', async () => {
    const files: ArchiveEntry[] = Array.from({ length: 40 }, (_, i) => ({
      path: `demo_pkg-1.0/data/blob${String(i).padStart(2, '0')}.bin`,
      data: noise(50_000, i + 1),
    }))
    const tar = writeTar([...withParentDirs(files), { path: 'demo_pkg-1.0/PKG-INFO', data: METADATA }])
    const bytes = gzip(tar)
    assert.ok(bytes.length > 1_500_000, 'the noise does not compress')
    assertBytes(await readStored('demo_pkg-1.0.tar.gz', bytes), METADATA, 'demo_pkg-1.0/PKG-INFO')
  })

  await test('a pax header carrying the path (Python 3.8+ sdists) is honoured', async () => {
    const { paxMember } = await import('../helpers/bad-archives.js')
    const tar = Buffer.concat([paxMember('demo_pkg-1.0/PKG-INFO', METADATA), Buffer.alloc(1024)])
    assertBytes(await readStored('demo_pkg-1.0.tar.gz', gzip(tar)), METADATA, 'demo_pkg-1.0/PKG-INFO')
  })

  await test('the OpenFile stays usable after a wheel was read to its end', async () => {
    const wheel = buildWheel(SPEC)
    await writeFile(join(root, FOLDER, wheel.filename), wheel.bytes)
    const parsed = parseDistFilename(wheel.filename)
    assert.ok(parsed)
    const file = await openStored(wheel.filename)
    try {
      for (let i = 0; i < 2; i++) {
        assertBytes(
          await readCoreMetadata(randomAccessSource(file), parsed, wheel.filename),
          wheel.metadata,
          'demo_pkg-1.0.dist-info/METADATA',
        )
      }
    } finally {
      await file.close()
    }
  })
})

// Node's FileHandle streams close the whole FileHandle when any of them is destroyed (autoClose
// only governs the close at the end), so LocalStorage streams ranges itself. Reading PKG-INFO
// from the head of a big .tar.gz cuts the stream short; the OpenFile must survive that.
await test('the OpenFile stays usable after a read cut short', async () => {
  const files = [
    { path: 'demo_pkg-1.0/PKG-INFO', data: METADATA },
    { path: 'demo_pkg-1.0/blob.bin', data: noise(2_000_000, 3) },
  ]
  const filename = 'demo_pkg-1.0.tar.gz'
  await writeFile(join(root, FOLDER, filename), gzip(writeTar(files)))
  const parsed = parseDistFilename(filename)
  assert.ok(parsed)
  const file = await openStored(filename)
  try {
    assertBytes(await readCoreMetadata(randomAccessSource(file), parsed, filename), METADATA, 'demo_pkg-1.0/PKG-INFO')
    const head = file.createReadStream({ start: 0, end: 1 })
    const chunks: Buffer[] = []
    for await (const chunk of head) chunks.push(chunk as Buffer)
    assert.deepEqual(Buffer.concat(chunks), Buffer.from([0x1f, 0x8b]))
  } finally {
    await file.close()
  }
})

await describe('readCoreMetadata: wheels refused (pip installs only a wheel with exactly one .dist-info)', async () => {
  await test('two .dist-info directories', async () => {
    const bytes = wheelOf([
      { path: 'demo_pkg-1.0.dist-info/METADATA', data: METADATA },
      { path: 'other-2.0.dist-info/METADATA', data: METADATA },
    ])
    assertProblem(
      await readStored('demo_pkg-1.0-py3-none-any.whl', bytes),
      'duplicate-metadata',
      /more than one \.dist-info/,
    )
  })

  await test('no METADATA in the .dist-info directory, or no .dist-info at all', async () => {
    const noMetadata = wheelOf([{ path: 'demo_pkg-1.0.dist-info/WHEEL', data: utf8('Wheel-Version: 1.0\n') }])
    assertProblem(await readStored('demo_pkg-1.0-py3-none-any.whl', noMetadata), 'missing-metadata', /METADATA/)
    assertProblem(await readStored('demo_pkg-1.0-py3-none-any.whl', wheelOf([])), 'missing-metadata', /no \.dist-info/)
  })

  await test('METADATA nested deeper than the top-level .dist-info does not count', async () => {
    const bytes = wheelOf([{ path: 'demo_pkg/vendored-1.0.dist-info/METADATA', data: METADATA }])
    assertProblem(await readStored('demo_pkg-1.0-py3-none-any.whl', bytes), 'missing-metadata')
  })

  await test('a .dist-info of another project', async () => {
    const bytes = wheelOf([{ path: 'demo_pkgx-1.0.dist-info/METADATA', data: METADATA }])
    assertProblem(await readStored('demo_pkg-1.0-py3-none-any.whl', bytes), 'missing-metadata', /does not belong/)
  })

  await test('METADATA listed twice in the central directory', async () => {
    const bytes = wheelOf([
      { path: 'demo_pkg-1.0.dist-info/METADATA', data: METADATA },
      { path: 'demo_pkg-1.0.dist-info/METADATA', data: utf8('Metadata-Version: 2.1\nName: evil\nVersion: 6.6.6\n') },
    ])
    assertProblem(await readStored('demo_pkg-1.0-py3-none-any.whl', bytes), 'duplicate-metadata', /listed twice/)
  })
})

await describe("readCoreMetadata: sdists and other formats refused (an sdist's PKG-INFO is in its one top folder)", async () => {
  const eggInfoOnly = [
    { path: 'demo_pkg-1.0/src/demo_pkg.egg-info/PKG-INFO', data: METADATA },
    { path: 'demo_pkg-1.0/setup.py', data: utf8('') },
  ]

  await test('a .tar.gz whose only PKG-INFO is inside *.egg-info/', async () => {
    assertProblem(
      await readStored('demo_pkg-1.0.tar.gz', gzip(writeTar(withParentDirs(eggInfoOnly)))),
      'missing-metadata',
    )
  })

  await test('a .zip sdist whose only PKG-INFO is inside *.egg-info/', async () => {
    assertProblem(await readStored('demo_pkg-1.0.zip', writeZip(withParentDirs(eggInfoOnly))), 'missing-metadata')
  })

  await test('a .zip sdist with two top-level PKG-INFO files', async () => {
    const bytes = writeZip([
      { path: 'a-1.0/PKG-INFO', data: METADATA },
      { path: 'b-1.0/PKG-INFO', data: METADATA },
    ])
    assertProblem(await readStored('demo_pkg-1.0.zip', bytes), 'duplicate-metadata')
  })

  await test('.tar.bz2 and .tar.xz cannot be decompressed', async () => {
    assertProblem(
      await readStored('demo_pkg-1.0.tar.bz2', Buffer.from('BZh91AY&SY')),
      'unsupported-compression',
      /bzip2/,
    )
    assertProblem(await readStored('demo_pkg-1.0.tar.xz', Buffer.from('\u00fd7zXZ\u0000')), 'unsupported-compression')
  })

  await test('a filename parsed as another kind is a programmer error', async () => {
    const parsed = parseDistFilename('demo_pkg-1.0.tar.gz')
    assert.ok(parsed)
    const source: RandomAccessSource = {
      size: 0,
      createReadStream: () => {
        throw new Error('not read')
      },
    }
    await assert.rejects(readCoreMetadata(source, parsed, 'demo_pkg-1.0-py3-none-any.whl'), TypeError)
    assertProblem(await readCoreMetadata(source, parsed, 'README.txt'), 'unsupported-format')
  })
})

await describe('readCoreMetadata: corrupt archives', async () => {
  const wheel = buildWheel(SPEC)
  const sdist = buildSdist(SPEC)
  const random = noise(4096, 42)

  await test('a wheel cut in half, random bytes, an empty file', async () => {
    assertProblem(await readStored(wheel.filename, wheel.bytes.subarray(0, wheel.bytes.length >> 1)), 'corrupt-archive')
    assertProblem(await readStored(wheel.filename, random), 'corrupt-archive')
    assertProblem(await readStored(wheel.filename, Buffer.alloc(0)), 'corrupt-archive', /empty/)
  })

  await test('a .tar.gz cut before its PKG-INFO, random bytes, an empty file', async () => {
    assertProblem(await readStored(sdist.filename, sdist.bytes.subarray(0, 40)), 'corrupt-archive')
    assertProblem(await readStored(sdist.filename, random), 'corrupt-archive')
    assertProblem(await readStored('demo_pkg-1.0.tar', random), 'corrupt-archive')
    assertProblem(await readStored(sdist.filename, Buffer.alloc(0)), 'corrupt-archive')
  })

  await test('a member name escaping the archive (../) spoils the whole zip', async () => {
    const bytes = wheelOf([
      { path: '../evil.py', data: utf8('') },
      { path: 'demo_pkg-1.0.dist-info/METADATA', data: METADATA },
    ])
    assertProblem(await readStored(wheel.filename, bytes), 'corrupt-archive', /relative path/)
  })
})

await rm(root, { recursive: true, force: true })
