// readUploadedMetadata, the upload-time archive checks: archives written by Python's own
// zipfile and tarfile (what setuptools, wheel, hatchling, flit, poetry and pdm build with) pass,
// ZIP64 included; the hostile ones are refused; and the serving reader answers every one of them.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { readCoreMetadata, type RandomAccessSource } from '../../src/archives/read-core-metadata.js'
import { readUploadedMetadata } from '../../src/archives/upload-archive.js'
import { parseDistFilename } from '../../src/core/filenames.js'
import { pyenvPython, pyenvVersionsDir } from '../helpers/clients/environment.js'
import { runProcess } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'
import { HOSTILE_UPLOADS, UPL_WHEEL } from '../helpers/upload-archives.js'
import { buildEgg, buildSdist, coreMetadata } from '../helpers/distributions.js'

function bufferSource(bytes: Buffer): RandomAccessSource {
  return {
    size: bytes.length,
    createReadStream: (range) => Readable.from([bytes.subarray(range.start, range.end + 1)]),
  }
}

async function readUpload(filename: string, bytes: Buffer): ReturnType<typeof readUploadedMetadata> {
  const parsed = parseDistFilename(filename)
  assert.ok(parsed, filename)
  return readUploadedMetadata(bufferSource(bytes), parsed, filename)
}

// Each archive as Python writes it; `members` of the zips are METADATA plus this many modules.
const PYTHON_WRITER = `
import io, sys, tarfile, zipfile
out, metadata = sys.argv[1], open(sys.argv[2], 'rb').read()
def wheel(path, count=3, zip64=False):
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as zf:
        for i in range(count):
            with zf.open(f'upl/m{i}.py', 'w', force_zip64=zip64) as member:
                member.write(b'x = 1\\n')
        zf.writestr('upl-1.6.dist-info/METADATA', metadata)
        zf.writestr('upl-1.6.dist-info/WHEEL', 'Wheel-Version: 1.0\\nTag: py3-none-any\\n')
wheel(f'{out}/plain.whl')
wheel(f'{out}/forced-zip64.whl', zip64=True)
# More than 65535 members: zipfile writes ZIP64 end records and their locator.
wheel(f'{out}/many.whl', count=70000)
for name, mode in (('pax.tar.gz', 'w:gz'), ('gnu.tar', 'w')):
    fmt = tarfile.PAX_FORMAT if name.startswith('pax') else tarfile.GNU_FORMAT
    with tarfile.open(f'{out}/{name}', mode, format=fmt) as tar:
        for path, data in (('upl-1.6/PKG-INFO', metadata), ('upl-1.6/' + 'd' * 120 + '/long_name_' + 'x' * 90 + '.py', b'')):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
`

await test("archives written by Python's zipfile and tarfile pass, ZIP64 ones included", async (t) => {
  const found = pyenvPython(await pyenvVersionsDir(), '3.11')
  const python = needTool(t, 'python3.11 (pyenv)', found?.python)
  if (python === undefined) return
  const dir = await tempDir(t)
  const metadata = coreMetadata({ name: 'upl', version: '1.6' })
  await writeFile(join(dir, 'METADATA'), metadata)
  const made = await runProcess(python, ['-c', PYTHON_WRITER, dir, join(dir, 'METADATA')], { timeoutMs: 120_000 })
  assert.equal(made.code, 0, made.stderr)
  for (const [file, filename] of [
    ['plain.whl', 'upl-1.6-py3-none-any.whl'],
    ['forced-zip64.whl', 'upl-1.6-py3-none-any.whl'],
    ['many.whl', 'upl-1.6-py3-none-any.whl'],
    ['pax.tar.gz', 'upl-1.6.tar.gz'],
    ['gnu.tar', 'upl-1.6.tar'],
  ] as const) {
    const read = await readUpload(filename, await readFile(join(dir, file)))
    assert.ok(read?.ok === true, `${file}: ${read?.ok === false ? read.reason : 'unread'}`)
    assert.deepEqual(read.bytes, metadata, file)
  }
})

await test("the test builders' own wheels, sdists and eggs pass; .tar.bz2 is accepted unread", async () => {
  const sdist = buildSdist({ name: 'upl', version: '1.6' })
  const zipSdist = buildSdist({ name: 'upl', version: '1.6' }, { format: 'zip' })
  const egg = buildEgg({ name: 'upl', version: '1.6' }, { pyVersion: '3.8' })
  for (const dist of [UPL_WHEEL, sdist, zipSdist, egg]) {
    const read = await readUpload(dist.filename, dist.bytes)
    assert.ok(read?.ok === true, `${dist.filename}: ${read?.ok === false ? read.reason : 'unread'}`)
  }
  assert.equal(await readUpload('upl-1.6.tar.bz2', Buffer.from('BZh9')), undefined)
})

await test('every hostile archive: refused at upload, and the serving reader still gives an answer', async () => {
  for (const hostile of HOSTILE_UPLOADS) {
    const bytes = await hostile.bytes()
    const read = await readUpload(hostile.filename, bytes)
    // The metadata-level refusals (Name, Version) come later, in the publisher.
    if (read?.ok === true) assert.match(hostile.reason.source, /its metadata/, hostile.title)
    else assert.match(`Invalid distribution file: ${read?.reason ?? ''}`, hostile.reason, hostile.title)
    const parsed = parseDistFilename(hostile.filename)
    assert.ok(parsed)
    const served = await readCoreMetadata(bufferSource(bytes), parsed, hostile.filename)
    assert.equal(typeof served.ok, 'boolean', hostile.title)
  }
})
