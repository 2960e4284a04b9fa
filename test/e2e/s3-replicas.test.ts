// Two real eggserve processes on one moto bucket, as two replicas behind a load balancer:
// an upload to one shows on the other (through the change journal, with no time assertion:
// how long it took is only reported), the other serves the right sha256 without reading the
// file (its facts were stored beside it; the fault proxy in front of the second replica counts
// its requests), its listing is not taken again while nothing changes, and of two uploads of
// one filename to the two replicas at once exactly one is published.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  GetObjectCommand,
  ListObjectsV2Command,
  type GetObjectCommandOutput,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3'
import { buildWheel, type BuiltDist } from '../helpers/distributions.js'
import { startMoto } from '../helpers/moto.js'
import { startFaultProxy } from '../helpers/s3-fault-proxy.js'
import { startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { multipart, uploadParts } from '../helpers/upload-form.js'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
const JSON_API = 'application/vnd.pypi.simple.v1+json'

interface SimpleJson {
  files: { filename: string; hashes: { sha256?: string } }[]
}

async function upload(server: ServerHandle, dist: BuiltDist, name: string, version: string): Promise<number> {
  const form = multipart(await uploadParts(dist, { name, version }))
  const res = await fetch(`${server.url}/legacy/`, {
    method: 'POST',
    body: form.body,
    headers: { 'content-type': form.contentType },
  })
  await res.arrayBuffer()
  return res.status
}

async function simpleFiles(server: ServerHandle, project: string): Promise<SimpleJson['files']> {
  const res = await fetch(`${server.url}/simple/${project}/`, { headers: { accept: JSON_API } })
  if (res.status === 404) {
    await res.arrayBuffer()
    return []
  }
  assert.equal(res.status, 200)
  return ((await res.json()) as SimpleJson).files
}

// Poll until `project`'s page on `server` lists `filename`; returns how long that took.
async function converge(
  server: ServerHandle,
  project: string,
  filename: string,
): Promise<{ ms: number; files: SimpleJson['files'] }> {
  const started = performance.now()
  for (;;) {
    const files = await simpleFiles(server, project)
    if (files.some((file) => file.filename === filename)) return { ms: Math.round(performance.now() - started), files }
    await sleep(20)
  }
}

await test('two eggserve replicas on one moto bucket', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const bucket = await moto.createBucket()
  const proxy = await startFaultProxy(t, moto.endpoint)
  const args = ['--storage', `s3://${bucket}/pypi`, '--s3-path-style', '--authenticate', '.', '--hash-workers', '0']
  const a = await startServer(t, { args, env: moto.env() })
  const b = await startServer(t, { args, env: moto.env(proxy.url) })
  const objectGets = (filename: string): number =>
    proxy.requests.filter((request) => request.operation === 'GetObject' && request.path.endsWith(`/${filename}`))
      .length
  const folderLists = (folder: string): number =>
    proxy.requests.filter(
      (request) => request.operation === 'ListObjectsV2' && request.query.get('prefix') === `pypi/${folder}/`,
    ).length

  await t.test(
    'an upload to one replica shows on the other, with its sha256, without the other reading the file',
    async (t) => {
      const wheel = buildWheel({ name: 'replicated', version: '1.0' })
      // The project is unknown to both at first.
      assert.deepEqual(await simpleFiles(b, 'replicated'), [])
      assert.equal(await upload(a, wheel, 'replicated', '1.0'), 200)
      const { ms, files } = await converge(b, 'replicated', wheel.filename)
      t.diagnostic(`replica B listed the upload to replica A ${ms} ms after A answered it`)
      assert.equal(files.find((file) => file.filename === wheel.filename)?.hashes.sha256, sha256(wheel.bytes))
      assert.equal(objectGets(wheel.filename), 0, 'B took the digests from the facts stored beside the file')
      // pip's view through B: the download itself is the first read of the bytes.
      const res = await fetch(`${b.url}/packages/replicated/${wheel.filename}`)
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(wheel.bytes))
    },
  )

  await t.test('while nothing changes, the other replica does not list the folder again', async () => {
    // Once B has read A's journal record (its next poll starts after it), its listing is trusted.
    const record = `pypi/.eggserve/journal/${'0'.padStart(20, '0')}.json`
    while (
      !proxy.requests.some(
        (request) => request.operation === 'ListObjectsV2' && request.query.get('start-after') === record,
      )
    )
      await sleep(50)
    await simpleFiles(b, 'replicated')
    const before = folderLists('replicated')
    // Well past the one-second listing lifetime of a bucket without a journal.
    for (let i = 0; i < 4; i++) {
      await sleep(600)
      assert.equal((await simpleFiles(b, 'replicated')).length, 1)
    }
    assert.equal(folderLists('replicated'), before)
  })

  await t.test('uploads to either replica show on the other one, which had the project listed already', async (t) => {
    const times: number[] = []
    for (let round = 0; round < 6; round++) {
      const [to, from] = round % 2 === 0 ? [b, a] : [a, b]
      const version = `2.${round}`
      const wheel = buildWheel({ name: 'replicated', version })
      // The watching replica has the folder listed (and trusts that listing) before the upload.
      assert.equal(
        (await simpleFiles(from, 'replicated')).some((file) => file.filename === wheel.filename),
        false,
      )
      assert.equal(await upload(to, wheel, 'replicated', version), 200)
      const { ms, files } = await converge(from, 'replicated', wheel.filename)
      assert.equal(files.find((file) => file.filename === wheel.filename)?.hashes.sha256, sha256(wheel.bytes))
      times.push(ms)
    }
    const sorted = [...times].sort((x, y) => x - y)
    t.diagnostic(
      `convergence after an upload to the other replica (ms): ${times.join(', ')}; median ${sorted[Math.floor(sorted.length / 2)] ?? 0}, max ${sorted.at(-1) ?? 0}`,
    )
  })

  await t.test(
    'one filename uploaded to both replicas at once: one 200 and one 409 for different bytes, both 200 for the same bytes, one object',
    async () => {
      for (let round = 0; round < 4; round++) {
        const version = `3.${round}`
        const first = buildWheel({ name: 'racing', version, moduleSource: `VALUE = 'a${round}'\n` })
        const second = buildWheel({ name: 'racing', version, moduleSource: `VALUE = 'b${round}'\n` })
        assert.equal(first.filename, second.filename)
        assert.notEqual(sha256(first.bytes), sha256(second.bytes))
        const statuses = await Promise.all([upload(a, first, 'racing', version), upload(b, second, 'racing', version)])
        assert.deepEqual([...statuses].sort(), [200, 409], `round ${round}: ${statuses.join(', ')}`)
        const winner = statuses[0] === 200 ? first : second
        const listed: ListObjectsV2CommandOutput = await moto.client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: 'pypi/racing/' }),
        )
        assert.deepEqual(
          (listed.Contents ?? []).filter((object) => object.Key?.endsWith(first.filename)).map((object) => object.Key),
          [`pypi/racing/${first.filename}`],
        )
        const stored: GetObjectCommandOutput = await moto.client.send(
          new GetObjectCommand({ Bucket: bucket, Key: `pypi/racing/${first.filename}` }),
        )
        assert.equal(sha256((await stored.Body?.transformToByteArray()) ?? new Uint8Array()), sha256(winner.bytes))
        for (const server of [a, b]) {
          const { files } = await converge(server, 'racing', first.filename)
          assert.equal(files.find((file) => file.filename === first.filename)?.hashes.sha256, sha256(winner.bytes))
        }
        const same = buildWheel({ name: 'racing', version: `4.${round}` })
        assert.deepEqual(
          await Promise.all([upload(a, same, 'racing', `4.${round}`), upload(b, same, 'racing', `4.${round}`)]),
          [200, 200],
        )
      }
    },
  )
})
