// The packed form in which facts stores keep each file's facts (src/file-facts/packed-facts.ts):
// lossless, compact, and what the stores hold.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { FileFacts } from '../../src/core/index-model.js'
import { InternTable } from '../../src/core/intern.js'
import { MemoryFactsStore } from '../../src/file-facts/facts-store.js'
import { encode, header, parseLog } from '../../src/file-facts/facts-record.js'
import { hasDigest, packFacts, unpackFacts, type StoredFileFacts } from '../../src/file-facts/packed-facts.js'
import { repoRoot } from '../helpers/spawn-server.js'

const run = promisify(execFile)
const probe = fileURLToPath(new URL('../helpers/facts-heap-probe.ts', import.meta.url))

const md5 = '0123456789abcdef'.repeat(2)
const sha256 = 'fedcba9876543210'.repeat(4)
const other = 'a1'.repeat(32)

const PACKABLE: readonly FileFacts[] = [
  { digests: { md5, sha256 } },
  { digests: { md5, sha256 }, metadata: { sha256: other } },
  { digests: { md5, sha256 }, metadata: { sha256: other, requiresPython: '>=3.8' } },
  { digests: { md5, sha256, sha512: 'ff'.repeat(64) }, metadata: { sha256: other, requiresPython: '>=3.8, !=3.9.*' } },
  { digests: { sha384: '00'.repeat(48) } },
  { digests: {} },
  { digests: { md5, sha256 }, metadata: { sha256: other, requiresPython: '' } },
  { digests: { md5, sha256 }, metadata: { sha256: other, requiresPython: '>=3.8 # café, 🐍' } },
]

await test('unpackFacts(packFacts(facts)) equals facts, field for field and in order', () => {
  for (const facts of PACKABLE) {
    const packed = packFacts(facts)
    assert.equal(typeof packed, 'string', `packed: ${JSON.stringify(facts)}`)
    const again = unpackFacts(packed)
    assert.deepEqual(again, facts)
    assert.equal(JSON.stringify(again), JSON.stringify(facts), 'the same fields in the same order')
  }
})

await test('the packed form holds the raw bytes: one byte of flags, each digest at half its hex length', () => {
  assert.equal((packFacts({ digests: { md5, sha256 } }) as string).length, 1 + 16 + 32)
  const full = packFacts({ digests: { md5, sha256 }, metadata: { sha256: other, requiresPython: '>=3.8' } })
  assert.equal((full as string).length, 1 + 16 + 32 + 32 + 5)
  // One byte per character: V8 keeps it as a one-byte string, even for a Requires-Python
  // outside latin1 (its UTF-8 bytes are packed).
  const wide = packFacts(PACKABLE[7] ?? assert.fail())
  assert.equal(typeof wide, 'string')
  assert.ok(/^[\0-\xff]*$/.test(wide as string))
})

await test('facts the packed form cannot hold exactly are kept as they are', () => {
  const kept: FileFacts[] = [
    { digests: { md5: md5.toUpperCase(), sha256 } },
    { digests: { md5, sha256: sha256.slice(2) } },
    { digests: { md5, sha256: `${sha256.slice(1)}g` } },
    { digests: { md5, sha256 }, metadata: { sha256: 'not hex' } },
    { digests: { md5, sha256 }, metadata: { sha256: other, requiresPython: '>=3.8\uD800' } },
    { digests: { md5, sha256 }, metadata: { sha256: other, requiresPython: '\uDC00>=3.8' } },
    { digests: { md5, sha256, blake2b: '00' } } as unknown as FileFacts,
    { digests: { md5, sha256 }, extra: 1 } as unknown as FileFacts,
    { digests: { md5, sha256 }, metadata: { sha256: other, extra: 1 } } as unknown as FileFacts,
  ]
  for (const facts of kept) {
    assert.equal(packFacts(facts), facts, JSON.stringify(facts))
    assert.equal(unpackFacts(facts), facts)
  }
})

// The cache file's records, read as a warm start reads them.
function readRecords(facts: readonly FileFacts[]): StoredFileFacts[] {
  const text = header('/srv/eggs') + facts.map((f, i) => encode(`id:${String(i)}`, f)).join('')
  const read: StoredFileFacts[] = []
  assert.deepEqual(
    parseLog(Buffer.from(text), '/srv/eggs', (_, found) => read.push(found)),
    { foreign: false, corrupt: 0 },
  )
  return read
}

await test('a cache record is read straight into the packed form packFacts() makes of its facts', () => {
  // The digests in another order than packFacts() lists them, as a record may list them.
  const reordered: FileFacts = { digests: { sha256, md5 }, metadata: { sha256: other, requiresPython: '>=3.9' } }
  const all = [...PACKABLE, reordered]
  for (const [i, found] of readRecords(all).entries()) {
    const facts = all[i] ?? assert.fail()
    assert.equal(typeof found, 'string', JSON.stringify(facts))
    assert.equal(found, packFacts(facts))
    assert.deepEqual(unpackFacts(found), facts)
    for (const algorithm of ['md5', 'sha256', 'sha384', 'sha512'] as const)
      assert.equal(hasDigest(found, algorithm), facts.digests[algorithm] !== undefined)
  }
})

await test('a cache record the packed form cannot hold is read into the facts it says', () => {
  const odd: FileFacts[] = [
    { digests: { md5: md5.toUpperCase(), sha256 } },
    { digests: { md5, sha256: sha256.slice(2) } },
    { digests: { md5, sha256 }, metadata: { sha256: 'not hex' } },
    { digests: { md5, sha256 }, metadata: { sha256: other.toUpperCase(), requiresPython: '>=3.8' } },
    { digests: { md5, sha256 }, metadata: { sha256: other, requiresPython: '>=3.8\uD800' } },
  ]
  for (const [i, found] of readRecords(odd).entries()) {
    assert.equal(typeof found, 'object')
    assert.deepEqual(found, odd[i])
    assert.equal(hasDigest(found, 'md5'), true)
    assert.equal(hasDigest(found, 'sha512'), false)
  }
})

await test('unpacked Requires-Python values are taken from the table given', () => {
  const table = new InternTable()
  const a = unpackFacts(packFacts(PACKABLE[2] ?? assert.fail()), table)
  const b = unpackFacts(packFacts(PACKABLE[2] ?? assert.fail()), table)
  assert.equal(a.metadata?.requiresPython, '>=3.8')
  assert.equal(table.size, 1, 'one value, held once')
  assert.equal(b.metadata?.requiresPython, '>=3.8')
})

await test('a memory store keeps what it is given and gives back equal facts, unpacked anew', () => {
  const store = new MemoryFactsStore()
  for (const [i, facts] of PACKABLE.entries()) store.set(`id:${String(i)}`, facts)
  const weird = { digests: { md5: md5.toUpperCase() } }
  store.set('weird', weird)
  assert.equal(store.size, PACKABLE.length + 1)
  for (const [i, facts] of PACKABLE.entries()) {
    assert.deepEqual(store.get(`id:${String(i)}`), facts)
    assert.equal(store.has(`id:${String(i)}`), true)
  }
  assert.equal(store.get('weird'), weird, 'facts that cannot be packed are the very object')
  assert.equal(store.has('nope'), false)
  assert.equal(store.get('nope'), undefined)
  assert.deepEqual([...store.keys()], [...PACKABLE.keys()].map((i) => `id:${String(i)}`).concat('weird'))
  assert.deepEqual(new Map(store.entries()), new Map([...store.keys()].map((key) => [key, store.get(key)])))
  store.delete('weird')
  assert.equal(store.has('weird'), false)
})

await test('a memory store holds the facts of a file in under 200 bytes of heap (about 380 unpacked)', async (t) => {
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', probe, '20000'], {
    cwd: repoRoot,
  })
  const { count, bytesPerFile } = JSON.parse(stdout) as { count: number; bytesPerFile: number }
  t.diagnostic(`${String(bytesPerFile)} bytes per file`)
  assert.equal(count, 20000)
  // Packed: a Map entry and a string of 1 + 16 + 32 + 32 + 5 bytes, about 135 bytes on Node 20.
  assert.ok(bytesPerFile < 200, `${String(bytesPerFile)} bytes per file`)
})
