// The real daemon starting from a snapshot of the listings: a first replica lists every
// folder of a moto bucket and writes the snapshot; restarted with its cache folder (warm), or
// started with an empty one (cold: the bucket's snapshot), a replica lists no project folder
// (the fault proxy counts the LISTs), reads none of the facts stored beside the files (the
// snapshot carries them), serves every project with its digests and answers /health/ready once
// every file's facts are known.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { buildWheel, type BuiltDist } from '../helpers/distributions.js'
import { startMoto } from '../helpers/moto.js'
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../helpers/s3-fault-proxy.js'
import { startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const PROJECTS = 20
const JSON_API = 'application/vnd.pypi.simple.v1+json'
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

function folderLists(requests: readonly ProxiedRequest[]): string[] {
  return requests
    .filter((request) => request.operation === 'ListObjectsV2')
    .map((request) => request.query.get('prefix') ?? '')
    .filter((prefix) => !prefix.startsWith('pypi/.eggserve/'))
}

// /health/ready answers 503 until every file's facts are known; polled as a hang guard only.
async function ready(server: ServerHandle): Promise<void> {
  for (;;) {
    const res = await fetch(`${server.url}/health/ready`)
    await res.arrayBuffer()
    if (res.status === 200) return
    await sleep(50)
  }
}

async function projectFiles(
  server: ServerHandle,
  project: string,
): Promise<{ filename: string; sha256: string | undefined }[]> {
  const res = await fetch(`${server.url}/simple/${project}/`, { headers: { accept: JSON_API } })
  assert.equal(res.status, 200)
  const page = (await res.json()) as { files: { filename: string; hashes: { sha256?: string } }[] }
  return page.files.map((file) => ({ filename: file.filename, sha256: file.hashes.sha256 }))
}

await test('a replica starts from the snapshot of the listings', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const bucket = await moto.createBucket()
  const wheels: BuiltDist[] = []
  for (let i = 0; i < PROJECTS; i++) {
    const wheel = buildWheel({ name: `snap${String(i)}`, version: '1.0' })
    wheels.push(wheel)
    await moto.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: `pypi/snap${String(i)}/${wheel.filename}`, Body: wheel.bytes }),
    )
  }
  const args = (cacheDir: string): string[] => [
    ...['--storage', `s3://${bucket}/pypi`, '--s3-path-style', '--hash-workers', '0', '--cache-dir', cacheDir],
  ]
  const warmCache = await tempDir(t, 'eggserve-snapshot-warm-')
  // The first replica and its restart reach the store the same way: the endpoint is part of
  // the name of the local copy of the snapshot (another endpoint is another store).
  const shared = await startFaultProxy(t, moto.endpoint)
  const first = await startServer(t, { args: args(warmCache), env: moto.env(shared.url) })
  // Once hashed, the files' facts are in a snapshot (a later revision when the first had none).
  await first.waitForLine((line) => line.msg === 'Wrote a snapshot of the listings' && line.facts === PROJECTS, 60_000)
  await ready(first)
  await first.stop()

  // `since`: the proxy's requests before this server started are another server's.
  const check = async (server: ServerHandle, proxy: FaultProxy, since = 0): Promise<void> => {
    const sent = (): ProxiedRequest[] => proxy.requests.slice(since)
    assert.deepEqual(folderLists(sent()), [], 'no project folder (nor the top level) was listed')
    const index = await fetch(`${server.url}/simple/`, { headers: { accept: JSON_API } })
    const names = ((await index.json()) as { projects: { name: string }[] }).projects.map((p) => p.name)
    assert.equal(names.length, PROJECTS)
    await ready(server)
    for (const [i, wheel] of wheels.entries())
      assert.deepEqual(await projectFiles(server, `snap${String(i)}`), [
        { filename: wheel.filename, sha256: sha256(wheel.bytes) },
      ])
    const wheelReads = sent().filter((r) => r.operation === 'GetObject' && r.path.endsWith('.whl'))
    assert.deepEqual(wheelReads, [], 'the digests came from the cache or the facts stored beside the files')
    const factReads = sent().filter((r) => r.operation === 'GetObject' && r.path.includes('/.eggserve/facts/'))
    assert.deepEqual(factReads, [], 'the facts came with the snapshot: not one GET per file')
  }

  await t.test('warm: restarted with its cache folder', async (t) => {
    const since = shared.requests.length
    const server = await startServer(t, { args: args(warmCache), env: moto.env(shared.url) })
    const loaded = await server.waitForLine((line) => line.msg === 'Loaded the listings from a snapshot')
    assert.equal(loaded.source, 'local')
    const snapshotReads = shared.requests
      .slice(since)
      .filter((r) => r.operation === 'GetObject' && r.path.includes('/.eggserve/snapshots/'))
    assert.deepEqual(snapshotReads, [], 'its own copy, not the bucket one')
    await check(server, shared, since)
  })

  await t.test('cold: a new replica with an empty cache folder takes the bucket snapshot', async (t) => {
    const proxy = await startFaultProxy(t, moto.endpoint)
    const server = await startServer(t, { args: args(await tempDir(t)), env: moto.env(proxy.url) })
    const loaded = await server.waitForLine((line) => line.msg === 'Loaded the listings from a snapshot')
    assert.equal(loaded.source, 'bucket')
    await check(server, proxy)
  })
})
