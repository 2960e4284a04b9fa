// The core metadata store: bounded by bytes, one read for concurrent requests of one file.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import type { DistFile } from '../../src/core/index-model.js'
import { CoreMetadataStore } from '../../src/live-index/metadata-store.js'
import { createIndexServices } from '../../src/services.js'
import type { Storage } from '../../src/storage/storage.js'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })

async function wheels(
  t: Parameters<typeof tempDir>[0],
  count: number,
): Promise<{ storage: Storage; files: DistFile[]; metadata: Buffer[] }> {
  const root = await tempDir(t)
  const metadata: Buffer[] = []
  for (let i = 0; i < count; i++) {
    // A long summary, so a few files fill the budget.
    const wheel = buildWheel({ name: 'demo', version: `1.${String(i)}`, summary: `release ${String(i)} `.repeat(60) })
    await writeDist(join(root, 'demo'), wheel)
    metadata.push(wheel.metadata)
  }
  const services = await createIndexServices({ eggdir: root, hashAlgorithm: 'sha256', logger: silent })
  t.after(() => services.close())
  await services.index.load()
  const demo = (await services.index.findProject('demo')) ?? assert.fail('no project demo')
  const files = metadata.map(
    (_, i) => demo.file(`demo-1.${String(i)}-py3-none-any.whl`) ?? assert.fail(`no file ${String(i)}`),
  )
  return { storage: services.storage, files, metadata }
}

await test('the metadata store stays within its byte budget and still answers every file', async (t) => {
  const { storage, files, metadata } = await wheels(t, 40)
  const budget = 8 * 1024
  const store = new CoreMetadataStore({ storage, log: silent, maxBytes: budget })
  for (const [i, file] of files.entries()) {
    const read = await store.read(file)
    assert.deepEqual(read?.bytes, metadata[i])
    assert.ok(store.bytes <= budget, `${String(store.bytes)} > ${String(budget)}`)
  }
  assert.ok(store.bytes > 0)
})

await test('concurrent reads of one file open it once; a later read is served from memory', async (t) => {
  const { storage, files, metadata } = await wheels(t, 1)
  let opens = 0
  // The real storage, counting its opens.
  const counting: Storage = Object.create(storage, {
    open: {
      value: (...args: Parameters<Storage['open']>) => {
        opens++
        return storage.open(...args)
      },
    },
  }) as Storage
  const store = new CoreMetadataStore({ storage: counting, log: silent })
  const file = files[0] ?? assert.fail('no file')
  const reads = await Promise.all(Array.from({ length: 10 }, () => store.read(file)))
  assert.equal(opens, 1)
  for (const read of reads) assert.deepEqual(read?.bytes, metadata[0])
  await store.read(file)
  assert.equal(opens, 1)
})
