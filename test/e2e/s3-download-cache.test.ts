// The real daemon with --s3-download-cache on a moto bucket behind the fault proxy (which counts
// the GETs): pip installs a wheel twice with --require-hashes, the second time from the local
// copy (no GetObject of the wheel), and /metrics counts the miss, the hit and the bytes fetched.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { buildWheel } from '../helpers/distributions.js'
import { parseSamples, sampleValue } from '../helpers/metrics-text.js'
import { startMoto } from '../helpers/moto.js'
import { createVenv, installHashed, output } from '../helpers/python.js'
import { startFaultProxy } from '../helpers/s3-fault-proxy.js'
import { httpGet, pollUntil, startServer } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

await test('eggserve --s3-download-cache: pip installs twice, the store is read once', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const venv = await createVenv(t)
  if (venv === undefined) return
  const root = await tempDir(t, 'eggserve-s3-cache-e2e-')
  const bucket = await moto.createBucket()
  const proxy = await startFaultProxy(t, moto.endpoint)
  const wheel = buildWheel({ name: 'Cached.Pkg', version: '1.0', moduleSource: "__version__ = 'cached'\n" })
  await moto.client.send(
    new PutObjectCommand({ Bucket: bucket, Key: `pypi/Cached.Pkg/${wheel.filename}`, Body: wheel.bytes }),
  )
  const cacheDir = join(root, 'downloads')
  const server = await startServer(t, {
    args: ['--storage', `s3://${bucket}/pypi`, '--s3-path-style', '--s3-download-cache', cacheDir, '--metrics'],
    env: moto.env(proxy.url),
  })
  const ready = await pollUntil(async () => (await httpGet(`${server.url}/health/ready`)).status === 200, 30_000)
  assert.notEqual(ready, undefined, 'the server hashed the bucket')
  // Whole-object GETs of the wheel: the .metadata pip asks for first is read by ranges.
  const wheelGets = (): number =>
    proxy.requests.filter(
      (request) =>
        request.operation === 'GetObject' &&
        request.path.endsWith(`/${wheel.filename}`) &&
        request.headers.range === undefined,
    ).length
  const before = wheelGets()
  const requirements = join(root, 'requirements.txt')
  await writeFile(requirements, `cached-pkg==1.0 --hash=sha256:${sha256(wheel.bytes)}\n`)
  for (const target of ['first', 'second']) {
    const result = await installHashed(venv, {
      index: `${server.url}/simple/`,
      requirements,
      target: join(root, target),
    })
    assert.equal(result.code, 0, output(result))
  }
  assert.equal(wheelGets() - before, 1, 'the second install read the local copy')
  assert.equal((await readdir(cacheDir)).length, 1)
  const samples = parseSamples((await httpGet(`${server.url}/metrics`)).body.toString('utf8'))
  assert.equal(sampleValue(samples, 'eggserve_s3_download_cache_misses_total'), 1)
  assert.equal(sampleValue(samples, 'eggserve_s3_download_cache_hits_total'), 1)
  assert.equal(sampleValue(samples, 'eggserve_s3_download_cache_fetched_bytes_total'), wheel.bytes.length)
})
