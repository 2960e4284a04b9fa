// Archives cut off at every byte: readCoreMetadata must answer each with a result, never throw
// and never leave an 'error' unheard (which would end the process, and this test run with it).
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { parseDistFilename } from '../../src/core/filenames.js'
import { readCoreMetadata, type RandomAccessSource } from '../../src/archives/read-core-metadata.js'
import { writeTar, withParentDirs } from '../helpers/dist-archives.js'
import { buildEgg, buildSdist, buildWheel, coreMetadata } from '../helpers/distributions.js'

const SPEC = { name: 'cut', version: '1.0', summary: 'cut short' }

function bufferSource(bytes: Buffer): RandomAccessSource {
  return {
    size: bytes.length,
    createReadStream: (range) => Readable.from([bytes.subarray(range.start, range.end + 1)]),
  }
}

// A plain tar is padded to 10 KiB records: every byte up to the end of the members, then a stride.
const plainTar = writeTar(
  withParentDirs([
    { path: 'cut-1.0/PKG-INFO', data: Buffer.concat([coreMetadata(SPEC), Buffer.from('Description: x\n'.repeat(80))]) },
    { path: 'cut-1.0/setup.py', data: Buffer.from('from setuptools import setup\nsetup()\n') },
  ]),
)

const CASES: readonly { filename: string; bytes: Buffer }[] = [
  buildWheel(SPEC),
  buildSdist(SPEC),
  buildSdist(SPEC, { format: 'zip' }),
  buildEgg(SPEC, { pyVersion: '3.8' }),
  { filename: 'cut-1.0.tar', bytes: plainTar },
]

for (const { filename, bytes } of CASES) {
  await test(`${filename} cut off at every offset: a result each time, the whole file still read`, async () => {
    const parsed = parseDistFilename(filename)
    assert.ok(parsed)
    const whole = await readCoreMetadata(bufferSource(bytes), parsed, filename)
    assert.equal(whole.ok, true, whole.ok ? '' : whole.reason)
    const last = filename.endsWith('.tar') ? 4096 : bytes.length
    let refused = 0
    for (let cut = 0; cut < bytes.length; cut += cut < last ? 1 : 97) {
      const read = await readCoreMetadata(bufferSource(bytes.subarray(0, cut)), parsed, filename)
      assert.equal(typeof read.ok, 'boolean')
      if (!read.ok) refused++
    }
    assert.ok(refused > 0, 'truncated copies are refused')
  })
}
