// The caps readCoreMetadata keeps against hostile archives (docs/http.md, "What the pages say";
// Warehouse caps compression ratios and methods too): bombs, lying headers, odd
// compression methods, endless tars. Each source stream opens its own descriptor here, so a
// stream left running shows up as a leaked descriptor.
import assert from 'node:assert/strict'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { parseDistFilename } from '../../src/core/filenames.js'
import {
  METADATA_LIMITS,
  readCoreMetadata,
  type MetadataLimits,
  type MetadataRead,
} from '../../src/archives/read-core-metadata.js'
import {
  deflatedMember,
  deflatedZeros,
  rawZip,
  tarBlocks,
  ustarFileHeader,
  withBadCrc,
  withLocalNameChanged,
  withMethod,
  writeZeroPaddedTarGz,
  type RawMember,
} from '../helpers/bad-archives.js'
import { gzip, writeTar } from '../helpers/dist-archives.js'
import { buildWheel, coreMetadata } from '../helpers/distributions.js'
import { eventually, noise, openDescriptors } from '../helpers/test-bytes.js'

const METADATA = coreMetadata({ name: 'demo', version: '1.0' })
const MIB = 1024 * 1024
// Set-up at the top, clean-up as the last statement: with awaited top-level tests, node:test
// runs a root after() hook as soon as the first one ends (Node 20), not after the file.
const dir = await mkdtemp(join(tmpdir(), 'eggserve-bombs-'))

/** Read the metadata of the file at `path` (named `filename`), each range through its own descriptor. */
async function readPath(
  path: string,
  filename: string,
  limits: MetadataLimits = METADATA_LIMITS,
): Promise<MetadataRead> {
  const parsed = parseDistFilename(filename)
  assert.ok(parsed)
  const { size } = await stat(path)
  const descriptors = openDescriptors()
  const result = await readCoreMetadata(
    { size, createReadStream: (range) => createReadStream(path, range) },
    parsed,
    filename,
    limits,
  )
  assert.ok(await eventually(() => openDescriptors() <= descriptors), 'every source stream was closed')
  return result
}

async function readBytes(filename: string, bytes: Buffer, limits?: MetadataLimits): Promise<MetadataRead> {
  const path = join(dir, filename)
  await writeFile(path, bytes)
  return readPath(path, filename, limits)
}

function assertProblem(result: MetadataRead, code: string, reason?: RegExp): void {
  assert.equal(result.ok, false, 'refused')
  assert.equal(result.code, code, result.reason)
  if (reason !== undefined) assert.match(result.reason, reason)
}

/** A wheel whose METADATA is `metadata`, with a small WHEEL member before it. */
async function wheelWith(metadata: RawMember): Promise<Buffer> {
  return rawZip([await deflatedMember('demo-1.0.dist-info/WHEEL', Buffer.from('Wheel-Version: 1.0\n')), metadata])
}

/** Run `read` and report how long it took and how much the resident set grew meanwhile. */
async function measured(
  read: () => Promise<MetadataRead>,
): Promise<{ result: MetadataRead; ms: number; rssGrowth: number }> {
  const rss = process.memoryUsage().rss
  const started = performance.now()
  const result = await read()
  return { result, ms: performance.now() - started, rssGrowth: process.memoryUsage().rss - rss }
}

const WHEEL = 'demo-1.0-py3-none-any.whl'

await describe('zip caps', async () => {
  await test('a 50 MiB METADATA of zeros is refused from its header, fast and in little memory', async () => {
    const zeros = await deflatedZeros(50 * MIB)
    const bomb = await wheelWith({
      name: 'demo-1.0.dist-info/METADATA',
      method: 8,
      ...zeros,
      uncompressedSize: 50 * MIB,
    })
    assert.ok(bomb.length < 200_000, `the bomb is ${bomb.length} bytes on disk`)
    const { result, ms, rssGrowth } = await measured(() => readBytes(WHEEL, bomb))
    assertProblem(result, 'too-large', /declares 52428800 bytes/)
    assert.ok(ms < 2000, `took ${ms} ms`)
    assert.ok(rssGrowth < 64 * MIB, `rss grew by ${rssGrowth} bytes`)
  })

  await test('the same bomb declaring 1000 bytes is stopped at the first chunk past them', async () => {
    const zeros = await deflatedZeros(50 * MIB)
    const liar = await wheelWith({ name: 'demo-1.0.dist-info/METADATA', method: 8, ...zeros, uncompressedSize: 1000 })
    const { result, ms, rssGrowth } = await measured(() => readBytes(WHEEL, liar))
    assertProblem(result, 'corrupt-archive', /more than its declared 1000 bytes/)
    assert.ok(ms < 2000, `took ${ms} ms`)
    assert.ok(rssGrowth < 64 * MIB, `rss grew by ${rssGrowth} bytes`)
  })

  await test('a member cut short mid-read (3 MB compressed, 1000 bytes declared) leaves no stream running', async () => {
    const member = await deflatedMember('demo-1.0.dist-info/METADATA', noise(3 * MIB, 2463534242))
    assert.ok(member.compressed.length > 3 * MIB)
    const bytes = await wheelWith({ ...member, uncompressedSize: 1000 })
    assertProblem(await readBytes(WHEEL, bytes), 'corrupt-archive', /more than its declared 1000 bytes/)
  })

  await test('real inflated bytes are counted against the size cap, whatever the header says', async () => {
    const member = await deflatedMember('demo-1.0.dist-info/METADATA', Buffer.alloc(5000, 0x41))
    const bytes = await wheelWith({ ...member, uncompressedSize: 900 })
    assertProblem(
      await readBytes(WHEEL, bytes, { ...METADATA_LIMITS, maxMetadataBytes: 1000 }),
      'too-large',
      /inflates to more than 1000/,
    )
  })

  await test('5 MiB of zeros (under the size cap) is refused for its compression ratio', async () => {
    const zeros = await deflatedZeros(5 * MIB)
    const bytes = await wheelWith({
      name: 'demo-1.0.dist-info/METADATA',
      method: 8,
      ...zeros,
      uncompressedSize: 5 * MIB,
    })
    assertProblem(await readBytes(WHEEL, bytes), 'compression-ratio', /ratio above 200/)
  })

  await test('a member compressed with bzip2 (method 12)', async () => {
    const wheel = buildWheel({ name: 'demo', version: '1.0' })
    const bytes = withMethod(wheel.bytes, 'demo-1.0.dist-info/METADATA', 12)
    assertProblem(await readBytes(WHEEL, bytes), 'unsupported-compression', /method 12/)
  })

  await test('a stored member is read as is', async () => {
    const { crc, uncompressedSize } = await deflatedMember('x', METADATA)
    const bytes = await wheelWith({
      name: 'demo-1.0.dist-info/METADATA',
      method: 0,
      compressed: METADATA,
      crc,
      uncompressedSize,
    })
    const result = await readBytes(WHEEL, bytes)
    assert.ok(result.ok && result.bytes.equals(METADATA))
  })

  await test('a CRC-32 mismatch, and a local header naming another file', async () => {
    const wheel = buildWheel({ name: 'demo', version: '1.0' })
    assertProblem(
      await readBytes(WHEEL, withBadCrc(wheel.bytes, 'demo-1.0.dist-info/METADATA')),
      'corrupt-archive',
      /CRC-32/,
    )
    assertProblem(
      await readBytes(WHEEL, withLocalNameChanged(wheel.bytes, 'demo-1.0.dist-info/METADATA')),
      'corrupt-archive',
      /local header/,
    )
  })

  await test('a central directory listing more entries than the cap', async () => {
    const wheel = buildWheel({ name: 'demo', version: '1.0' })
    assertProblem(
      await readBytes(WHEEL, wheel.bytes, { ...METADATA_LIMITS, maxZipEntries: 2 }),
      'too-large',
      /lists 4 members/,
    )
  })
})

await describe('tar caps', async () => {
  const SDIST = 'demo-1.0.tar.gz'

  await test('300 MiB of zeros before PKG-INFO: the scan stops at the byte cap', async () => {
    const path = join(dir, SDIST)
    await writeZeroPaddedTarGz(path, 'demo-1.0', 300 * MIB, METADATA)
    assert.ok((await stat(path)).size < 1 * MIB)
    const { result, ms, rssGrowth } = await measured(() => readPath(path, SDIST))
    assertProblem(result, 'missing-metadata', new RegExp(`first ${METADATA_LIMITS.maxTarScanBytes} bytes`))
    assert.ok(ms < 10_000, `took ${ms} ms`)
    assert.ok(rssGrowth < 64 * MIB, `rss grew by ${rssGrowth} bytes`)
  })

  await test('the byte cap is what stops it: a lower cap misses PKG-INFO that the default finds', async () => {
    const path = join(dir, 'padded.tar.gz')
    await writeZeroPaddedTarGz(path, 'demo-1.0', 2 * MIB, METADATA)
    const filename = 'demo-1.0.tar.gz'
    assertProblem(
      await readPath(path, filename, { ...METADATA_LIMITS, maxTarScanBytes: MIB }),
      'missing-metadata',
      /bytes/,
    )
    const found = await readPath(path, filename)
    assert.ok(found.ok && found.bytes.equals(METADATA) && found.member === 'demo-1.0/PKG-INFO')
  })

  await test('zero blocks are skipped by tar-stream, so only the byte cap ends an all-zero tar', async () => {
    assertProblem(
      await readBytes('demo-1.0.tar', Buffer.alloc(3 * MIB), { ...METADATA_LIMITS, maxTarScanBytes: MIB }),
      'missing-metadata',
      /bytes/,
    )
  })

  await test('the member cap', async () => {
    const files = Array.from({ length: 30 }, (_, i) => ({ path: `demo-1.0/f${i}.txt`, data: Buffer.from(`${i}\n`) }))
    const bytes = gzip(writeTar([...files, { path: 'demo-1.0/PKG-INFO', data: METADATA }]))
    assertProblem(
      await readBytes(SDIST, bytes, { ...METADATA_LIMITS, maxTarEntries: 10 }),
      'missing-metadata',
      /first 10 members/,
    )
    assert.ok((await readBytes(SDIST, bytes)).ok)
  })

  await test('a PKG-INFO larger than the size cap', async () => {
    const bytes = gzip(writeTar([{ path: 'demo-1.0/PKG-INFO', data: METADATA }]))
    assertProblem(await readBytes(SDIST, bytes, { ...METADATA_LIMITS, maxMetadataBytes: 10 }), 'too-large')
  })

  await test('a symlink called PKG-INFO is skipped', async () => {
    const link = ustarFileHeader('demo-1.0/PKG-INFO', 0, '2')
    const tar = Buffer.concat([link, ustarFileHeader('demo-1.0/setup.py', 0), Buffer.alloc(1024)])
    assertProblem(await readBytes(SDIST, gzip(tar)), 'missing-metadata')
    const real = Buffer.concat([
      link,
      ustarFileHeader('demo-1.0/PKG-INFO', METADATA.length),
      tarBlocks(METADATA),
      Buffer.alloc(1024),
    ])
    const result = await readBytes(SDIST, gzip(real))
    assert.ok(result.ok && result.bytes.equals(METADATA))
  })
})

await rm(dir, { recursive: true, force: true })
