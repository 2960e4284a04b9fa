// digestStream and digestReads: several digests in one pass equal node:crypto's one-shot digests.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, test, type TestContext } from 'node:test'
import { pino } from 'pino'
import type { HashAlgorithm } from '../../src/core/digests.js'
import { digestReads, digestStream } from '../../src/file-facts/digest-stream.js'
import { LocalStorage } from '../../src/storage/local-storage.js'
import type { OpenFile } from '../../src/storage/storage.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { noise } from '../helpers/test-bytes.js'

const ALL: readonly HashAlgorithm[] = ['md5', 'sha256', 'sha384', 'sha512']

/** Split `data` into chunks of varying sizes (1, 2, 3, ... bytes, then 4 KiB pieces). */
function chunked(data: Buffer): Buffer[] {
  const chunks: Buffer[] = []
  let offset = 0
  for (let size = 1; offset < data.length; size = size < 64 ? size + 1 : 4096) {
    chunks.push(data.subarray(offset, offset + size))
    offset += size
  }
  return chunks
}

function oneShot(data: Buffer, algorithm: HashAlgorithm): string {
  return createHash(algorithm).update(data).digest('hex')
}

await describe('digestStream', async () => {
  // Published vectors (RFC 1321, FIPS 180-2 examples).
  const vectors: readonly (readonly [string, Record<'md5' | 'sha256' | 'sha512', string>])[] = [
    [
      '',
      {
        md5: 'd41d8cd98f00b204e9800998ecf8427e',
        sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        sha512:
          'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
      },
    ],
    [
      'abc',
      {
        md5: '900150983cd24fb0d6963f7d28e17f72',
        sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
        sha512:
          'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
      },
    ],
    [
      'The quick brown fox jumps over the lazy dog',
      {
        md5: '9e107d9d372bb6826bd81d3542a419d6',
        sha256: 'd7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592',
        sha512:
          '07e547d9586f6a73f73fbac0435ed76951218fb7d0c8d788a309d785436bbb642e93a252a954f23912547d1e8a3b5ed6e1bfd7097821233fa0538f3db854fee6',
      },
    ],
  ]
  for (const [text, expected] of vectors) {
    await test(`known vectors for ${JSON.stringify(text)}, one byte per chunk`, async () => {
      const data = Buffer.from(text, 'utf8')
      const stream = Readable.from([...data].map((byte) => Buffer.from([byte])))
      assert.deepEqual(await digestStream(stream, ['md5', 'sha256', 'sha512']), expected)
    })
  }

  for (const length of [0, 1, 63, 64, 65, 1000, 100_003, 1_048_576]) {
    await test(`${length} bytes in uneven chunks equal the one-shot digests`, async () => {
      const data = noise(length, length + 1)
      const chunks = chunked(data)
      if (length > 64) assert.ok(chunks.length > 10)
      const digests = await digestStream(Readable.from(chunks), ALL)
      assert.deepEqual(digests, Object.fromEntries(ALL.map((algorithm) => [algorithm, oneShot(data, algorithm)])))
    })
  }

  await test('returns exactly the requested algorithms, as lowercase hex', async () => {
    const data = noise(5000, 42)
    for (const algorithms of [['md5'], ['sha256'], ['md5', 'sha256'], ['sha384', 'md5']] as const) {
      const digests = await digestStream(Readable.from(chunked(data)), algorithms)
      assert.deepEqual(Object.keys(digests).sort(), [...algorithms].sort())
      for (const algorithm of algorithms) {
        assert.equal(digests[algorithm], oneShot(data, algorithm))
        assert.match(digests[algorithm] ?? '', /^[0-9a-f]+$/)
      }
    }
  })

  await test('no algorithms still reads the stream and returns an empty object', async () => {
    let read = false
    const stream = Readable.from(
      (function* () {
        yield Buffer.from('x')
        read = true
      })(),
    )
    assert.deepEqual(await digestStream(stream, []), {})
    assert.equal(read, true)
  })

  await test('hashes a file-like byte stream (highWaterMark-sized chunks)', async () => {
    const data = noise(200_000, 7)
    const stream = new Readable({
      highWaterMark: 1024,
      read() {
        /* pushed below */
      },
    })
    for (let offset = 0; offset < data.length; offset += 777) stream.push(data.subarray(offset, offset + 777))
    stream.push(null)
    assert.deepEqual(await digestStream(stream, ['md5', 'sha256']), {
      md5: oneShot(data, 'md5'),
      sha256: oneShot(data, 'sha256'),
    })
  })

  await test('rejects with the stream error', async () => {
    const failure = new Error('disk on fire')
    const stream = Readable.from(
      (function* () {
        yield Buffer.from('partial')
        throw failure
      })(),
    )
    await assert.rejects(digestStream(stream, ['sha256']), (err: unknown) => err === failure)
  })

  await test('rejects when the stream is destroyed midway', async () => {
    const stream = new Readable({
      read() {
        /* fed below */
      },
    })
    stream.push(Buffer.from('some bytes'))
    const result = digestStream(stream, ['md5'])
    setImmediate(() => stream.destroy(new Error('aborted')))
    await assert.rejects(result, /aborted/)
  })
})

await describe('digestReads', async () => {
  // Real files read through LocalStorage's readInto(), blocking (a worker) and not.
  async function opened(t: TestContext, data: Buffer, blocking: boolean): Promise<OpenFile> {
    const root = await tempDir(t)
    await writeTree(root, { 'demo/demo-1.0.tar.gz': data })
    const storage = await LocalStorage.create(root, pino({ level: 'silent' }), { blocking })
    const file = (await storage.open('demo/demo-1.0.tar.gz')) ?? assert.fail('not opened')
    t.after(() => file.close())
    return file
  }

  for (const blocking of [false, true]) {
    for (const [length, bufferBytes] of [
      [0, 16],
      [1, 16],
      [1000, 7],
      [1000, 1000],
      [1000, 4096],
      [100_003, 65_536],
    ] as const) {
      await test(`${length} bytes read ${bufferBytes} at a time (blocking: ${blocking}) equal the one-shot digests`, async (t) => {
        const data = noise(length, length + 3)
        const file = await opened(t, data, blocking)
        const readInto = file.readInto ?? assert.fail('a local file reads into a buffer')
        const buffer = Buffer.alloc(bufferBytes)
        const digests = await digestReads(
          { readInto, size: file.file.size, buffer, signal: new AbortController().signal },
          ALL,
        )
        assert.deepEqual(digests, Object.fromEntries(ALL.map((algorithm) => [algorithm, oneShot(data, algorithm)])))
      })
    }
  }

  await test('a file shorter than its size (truncated in place) is digested up to its end, as a stream would be', async (t) => {
    const data = noise(5000, 9)
    const file = await opened(t, data, true)
    const readInto = file.readInto ?? assert.fail('a local file reads into a buffer')
    const digests = await digestReads(
      { readInto, size: 9000, buffer: Buffer.alloc(1024), signal: new AbortController().signal },
      ['sha256'],
    )
    assert.deepEqual(digests, { sha256: oneShot(data, 'sha256') })
    assert.deepEqual(await digestStream(file.createReadStream({ start: 0, end: 8999 }), ['sha256']), digests)
  })

  await test("stops between two reads once its signal is aborted, with the signal's reason", async () => {
    const stop = new AbortController()
    const reason = new Error('closing')
    let reads = 0
    const readInto = (buffer: Buffer): Promise<number> => {
      reads++
      if (reads === 3) stop.abort(reason)
      buffer.fill(1)
      return Promise.resolve(buffer.length)
    }
    await assert.rejects(
      digestReads({ readInto, size: 1_000_000, buffer: Buffer.alloc(100), signal: stop.signal }, ['md5']),
      (err: unknown) => err === reason,
    )
    assert.equal(reads, 3)
  })

  await test('rejects with the read error', async () => {
    const failure = new Error('EIO')
    await assert.rejects(
      digestReads(
        {
          readInto: () => Promise.reject(failure),
          size: 10,
          buffer: Buffer.alloc(4),
          signal: new AbortController().signal,
        },
        ['md5'],
      ),
      (err: unknown) => err === failure,
    )
  })
})
