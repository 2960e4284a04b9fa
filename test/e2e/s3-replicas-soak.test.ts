// Three eggserve replicas on one moto bucket behind a real nginx load balancer, as
// docs/s3-replicas.md runs them, under a bounded soak and a crash:
// - 60 uploads of distinct files through nginx, 6 at a time, with duplicates among them
//   (identical bytes: 200; different bytes under a taken filename: 409): every replica's pages
//   converge on exactly the uploaded files and digests, the bucket holds each file once with
//   the uploaded bytes, and the change journal numbers its records 0..n-1 with no gap, one
//   record per file. How long convergence took is reported, not asserted: the poll is bounded
//   only so that a lost upload fails the test instead of hanging it.
// - a replica SIGKILLed in the middle of a 30 MB upload (held mid-body until its multipart
//   upload of the temporary object has a part): nothing at the final key, nothing listed by
//   the other replicas, the same file uploaded again to another replica is created (200), and
//   what is left is one multipart upload under the temporary prefix, which the sweep (the one
//   a starting replica runs, with its real API) leaves alone while it is younger than the grace
//   period and removes once the grace period is short enough.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { S3Storage } from '../../src/storage/s3-storage.js'
import { memoryLogger } from '../helpers/build-app.js'
import { buildWheel, type BuiltWheel } from '../helpers/distributions.js'
import { startMoto } from '../helpers/moto.js'
import { freePort, startNginx } from '../helpers/nginx.js'
import { startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { noise } from '../helpers/test-bytes.js'
import { multipart, uploadParts, type MultipartBody } from '../helpers/upload-form.js'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
const JSON_API = 'application/vnd.pypi.simple.v1+json'
const PREFIX = 'pypi/'
const HIDDEN = `${PREFIX}.eggserve/`
const PROJECTS = 12
const VERSIONS = 5
const CONCURRENCY = 6
// A hang guard for the polls (a lost upload would otherwise poll for ever), not a time limit
// on the behaviour: the convergence itself is reported, never asserted.
const POLL_BOUND_MS = 180_000

interface SimpleJson {
  files: { filename: string; hashes: { sha256?: string } }[]
}

async function form(wheel: BuiltWheel, name: string, version: string): Promise<MultipartBody> {
  return multipart(await uploadParts(wheel, { name, version }))
}

async function upload(base: string, body: MultipartBody): Promise<number> {
  const res = await fetch(`${base}/legacy/`, {
    method: 'POST',
    body: body.body,
    headers: { 'content-type': body.contentType },
  })
  await res.arrayBuffer()
  return res.status
}

// filename → sha256 as `server`'s JSON page lists them (empty for an unknown project).
async function listed(server: ServerHandle, project: string): Promise<Map<string, string | undefined>> {
  const res = await fetch(`${server.url}/simple/${project}/`, { headers: { accept: JSON_API } })
  if (res.status === 404) {
    await res.arrayBuffer()
    return new Map()
  }
  assert.equal(res.status, 200)
  const { files } = (await res.json()) as SimpleJson
  const map = new Map(files.map((file) => [file.filename, file.hashes.sha256]))
  assert.equal(map.size, files.length, `${project}: a file listed twice on ${server.url}`)
  return map
}

// Poll `check` until it returns something other than undefined; fail with `what` past the bound.
async function until<T>(what: () => string, check: () => Promise<T | undefined>): Promise<T> {
  const started = performance.now()
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (performance.now() - started > POLL_BOUND_MS) assert.fail(`still not so after ${POLL_BOUND_MS} ms: ${what()}`)
    await sleep(50)
  }
}

// Every key under `prefix`, page by page.
async function keys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const found: string[] = []
  let token: string | undefined
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token === undefined ? {} : { ContinuationToken: token }),
      }),
    )
    for (const object of page.Contents ?? []) if (object.Key !== undefined) found.push(object.Key)
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined
  } while (token !== undefined)
  return found
}

async function objectBytes(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return (await object.Body?.transformToByteArray()) ?? new Uint8Array()
}

async function multipartUploads(client: S3Client, bucket: string): Promise<{ key: string; uploadId: string }[]> {
  const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: PREFIX }))
  return (page.Uploads ?? []).map((upload) => ({ key: upload.Key ?? '', uploadId: upload.UploadId ?? '' }))
}

// Run `jobs` with at most `limit` in flight; results in the jobs' order.
async function bounded<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(jobs.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next++
      const job = jobs[index]
      if (job !== undefined) results[index] = await job()
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
  return results
}

await test('three replicas on one bucket behind nginx: a soak of uploads, and a replica killed mid-upload', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const root = await tempDir(t, 'eggserve-soak-')
  const bucket = await moto.createBucket()
  const args = ['--storage', `s3://${bucket}/pypi`, '--s3-path-style', '--authenticate', '.', '--hash-workers', '0']
  const replicas = await Promise.all([0, 1, 2].map(() => startServer(t, { args, env: moto.env() })))
  const port = await freePort()
  const upstreamLog = join(root, 'upstream.log')
  const nginx = await startNginx(t, {
    port,
    http: `upstream eggserve {
    least_conn;
    ${replicas.map((replica) => `server 127.0.0.1:${String(replica.port)};`).join('\n    ')}
  }
  log_format upstream '$upstream_addr $status $request';
  server {
    listen 127.0.0.1:${String(port)};
    client_max_body_size 100m;
    access_log ${upstreamLog} upstream;
    location / {
      proxy_pass http://eggserve;
      proxy_set_header Host $http_host;
    }
  }`,
  })
  if (nginx === undefined) return
  const { client } = moto

  await t.test(
    `${PROJECTS * VERSIONS} uploads through nginx, ${CONCURRENCY} at a time, with duplicates: pages converge, nothing lost or doubled, no journal gap`,
    async (t) => {
      // Project after project, so that uploads to one folder run at once on different replicas.
      const originals = Array.from({ length: PROJECTS * VERSIONS }, (_, i) => {
        const project = `soak-${Math.floor(i / VERSIONS)}`
        const version = `1.${i % VERSIONS}`
        return { project, version, wheel: buildWheel({ name: project, version }) }
      })
      const expected = new Map<string, Map<string, string>>()
      for (const { project, wheel } of originals) {
        const files = expected.get(project) ?? new Map<string, string>()
        files.set(wheel.filename, sha256(wheel.bytes))
        expected.set(project, files)
      }
      const done = new Map<number, Promise<number>>()
      interface Job {
        what: string
        expect: number
        run: () => Promise<number>
      }
      const jobs: Job[] = []
      const original = (i: number): Job => ({
        what: originals[i]?.wheel.filename ?? '?',
        expect: 200,
        run: () => {
          const item = originals[i]
          if (item === undefined) throw new Error(`no upload ${i}`)
          const answer = form(item.wheel, item.project, item.version).then((body) => upload(nginx.url, body))
          done.set(i, answer)
          return answer
        },
      })
      // A duplicate waits for its original's answer, so its outcome is known: the same bytes
      // again give 200, other bytes under the taken filename give 409 (as on a folder).
      const duplicate = (i: number, same: boolean): Job => ({
        what: `${originals[i]?.wheel.filename ?? '?'} again with ${same ? 'the same' : 'other'} bytes`,
        expect: same ? 200 : 409,
        run: async () => {
          const item = originals[i]
          if (item === undefined) throw new Error(`no upload ${i}`)
          await done.get(i)
          const wheel = same
            ? item.wheel
            : buildWheel({ name: item.project, version: item.version, moduleSource: `OTHER = ${i}\n` })
          assert.equal(wheel.filename, item.wheel.filename)
          return upload(nginx.url, await form(wheel, item.project, item.version))
        },
      })
      // Ten of each kind, each sent a few uploads after its original.
      for (let i = 0; i < originals.length; i++) {
        jobs.push(original(i))
        const back = i - 7
        if (back >= 0 && back % 6 === 0) jobs.push(duplicate(back, true))
        if (back >= 0 && back % 6 === 3) jobs.push(duplicate(back, false))
      }
      for (let back = originals.length - 7; back < originals.length; back++) {
        if (back % 6 === 0) jobs.push(duplicate(back, true))
        if (back % 6 === 3) jobs.push(duplicate(back, false))
      }
      assert.equal(jobs.length, originals.length + 20)

      const statuses = await bounded(
        jobs.map((job) => job.run),
        CONCURRENCY,
      )
      const answered = performance.now()
      assert.deepEqual(
        jobs.map((job, i) => `${job.what}: ${String(statuses[i])}`),
        jobs.map((job) => `${job.what}: ${String(job.expect)}`),
      )

      // The balancer spread the uploads over all three replicas.
      const uploadsTo = new Set(
        (await readFile(upstreamLog, 'utf8'))
          .split('\n')
          .filter((line) => line.includes('POST /legacy/'))
          .map((line) => line.split(' ')[0]),
      )
      assert.equal(uploadsTo.size, 3, `uploads went to ${[...uploadsTo].join(', ')} only`)

      // Every replica, asked directly, lists exactly the uploaded files with their digests.
      const times: number[] = []
      for (const replica of replicas) {
        for (const [project, files] of expected) {
          await until(
            () => `${replica.url} does not list ${project} as uploaded`,
            async () => {
              const seen = await listed(replica, project)
              const same = seen.size === files.size && [...files].every(([name, digest]) => seen.get(name) === digest)
              return same ? true : undefined
            },
          )
        }
        times.push(Math.round(performance.now() - answered))
      }
      t.diagnostic(
        `the three replicas listed all ${originals.length} uploads ${times.join(', ')} ms after the last upload was answered (checked one after another)`,
      )

      // The bucket: each file once, with the bytes of its one accepted upload.
      const all = await keys(client, bucket, PREFIX)
      const files = all.filter((key) => !key.startsWith(HIDDEN)).sort()
      const wanted = originals.map(({ project, wheel }) => `${PREFIX}${project}/${wheel.filename}`).sort()
      assert.deepEqual(files, wanted)
      for (const { project, wheel } of originals) {
        assert.equal(
          sha256(await objectBytes(client, bucket, `${PREFIX}${project}/${wheel.filename}`)),
          sha256(wheel.bytes),
          `${wheel.filename} in the bucket`,
        )
      }
      // One set of facts per file, no temporary object and no unfinished multipart upload left.
      assert.deepEqual(
        all
          .filter((key) => key.startsWith(`${HIDDEN}facts/`))
          .map((key) => key.slice(`${HIDDEN}facts/`.length).replace(/\.json$/, ''))
          .sort(),
        wanted.map((key) => key.slice(PREFIX.length)),
      )
      assert.deepEqual(
        all.filter((key) => key.startsWith(`${HIDDEN}tmp/`)),
        [],
      )
      assert.deepEqual(await multipartUploads(client, bucket), [])

      // The journal: records 0..n-1, no gap, one publish record per file, from every replica.
      const journal = all.filter((key) => key.startsWith(`${HIDDEN}journal/`)).sort()
      assert.deepEqual(
        journal,
        Array.from({ length: originals.length }, (_, n) => `${HIDDEN}journal/${String(n).padStart(20, '0')}.json`),
      )
      const records = await Promise.all(
        journal.map(
          async (key) =>
            JSON.parse(Buffer.from(await objectBytes(client, bucket, key)).toString('utf8')) as {
              op: string
              key: string
              replica: string
            },
        ),
      )
      assert.deepEqual(
        records.map((record) => `${record.op} ${PREFIX}${record.key}`).sort(),
        wanted.map((key) => `publish ${key}`),
      )
      assert.equal(new Set(records.map((record) => record.replica)).size, 3)
    },
  )

  await t.test(
    'a replica killed in the middle of a 30 MB upload: no partial file anywhere, one orphan under the temporary prefix, removed by the sweep after its grace period',
    async () => {
      const [victim, survivor, other] = replicas
      assert.ok(victim !== undefined && survivor !== undefined && other !== undefined)
      // Base64 of noise: a valid wheel of about 30 MB that deflate cannot shrink much.
      const big = buildWheel({
        name: 'killed',
        version: '1.0',
        moduleSource: `DATA = '${noise(30 * 1024 * 1024, 13).toString('base64')}'\n`,
      })
      assert.ok(big.bytes.length > 30_000_000)
      const body = await form(big, 'killed', '1.0')
      const finalKey = `${PREFIX}killed/${big.filename}`
      const journalBefore = (await keys(client, bucket, `${HIDDEN}journal/`)).length

      // Send the first 20 MiB (more than two 8 MiB parts), then hold the body open.
      const req = httpRequest(`${victim.url}/legacy/`, {
        method: 'POST',
        headers: { 'content-type': body.contentType, 'content-length': String(body.body.length) },
      })
      const outcome = new Promise<string>((resolve) => {
        req.once('response', (res) => {
          res.resume()
          resolve(`answered ${String(res.statusCode)}`)
        })
        req.once('error', (err) => {
          resolve(`failed: ${err.message}`)
        })
      })
      const held = 20 * 1024 * 1024
      for (let offset = 0; offset < held; offset += 1024 * 1024) {
        if (!req.write(body.body.subarray(offset, offset + 1024 * 1024)))
          await Promise.race([once(req, 'drain'), outcome])
      }
      // The replica has the temporary object's multipart upload going, with a part in it.
      const orphan = await until(
        () => `no multipart upload with a part under ${HIDDEN}tmp/: ${JSON.stringify([victim.stderr])}`,
        async () => {
          const [upload] = await multipartUploads(client, bucket)
          if (upload === undefined) return undefined
          const parts = await client.send(
            new ListPartsCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.uploadId }),
          )
          return (parts.Parts ?? []).length > 0 ? upload : undefined
        },
      )
      assert.ok(orphan.key.startsWith(`${HIDDEN}tmp/`), orphan.key)

      assert.equal(await victim.stop('SIGKILL'), null)
      assert.match(await outcome, /^failed: /)

      // Nothing at the final key, no facts for it, no journal record of it.
      const all = await keys(client, bucket, PREFIX)
      assert.deepEqual(
        all.filter((key) => key.includes('killed')),
        [],
      )
      assert.equal(all.filter((key) => key.startsWith(`${HIDDEN}journal/`)).length, journalBefore)
      // The other replicas: once they list another file of the project, uploaded after the
      // crash (their journal poll went past it), they still do not list the killed upload.
      const small = buildWheel({ name: 'killed', version: '0.1' })
      assert.equal(await upload(survivor.url, await form(small, 'killed', '0.1')), 200)
      for (const replica of [survivor, other]) {
        const seen = await until(
          () => `${replica.url} does not list ${small.filename}`,
          async () => {
            const files = await listed(replica, 'killed')
            return files.has(small.filename) ? files : undefined
          },
        )
        assert.deepEqual([...seen.keys()], [small.filename])
      }

      // The one orphan is the temporary object's multipart upload. The sweep a starting
      // replica runs leaves it alone while it is younger than the grace period (another
      // replica could still be receiving it), and removes it after.
      assert.deepEqual(await multipartUploads(client, bucket), [orphan])
      const sweeper = await S3Storage.open(moto.spec(bucket, { prefix: PREFIX }), memoryLogger([]))
      assert.equal(await sweeper.sweepUploads(60 * 60_000), 0)
      assert.deepEqual(await multipartUploads(client, bucket), [orphan])
      await sleep(5)
      assert.equal(await sweeper.sweepUploads(1), 1)
      assert.deepEqual(await multipartUploads(client, bucket), [])
      assert.deepEqual(await keys(client, bucket, `${HIDDEN}tmp/`), [])

      // The filename was never taken: the same file uploaded to another replica is created.
      assert.equal(await upload(survivor.url, body), 200)
      for (const replica of [survivor, other]) {
        await until(
          () => `${replica.url} does not list ${big.filename}`,
          async () => ((await listed(replica, 'killed')).get(big.filename) === sha256(big.bytes) ? true : undefined),
        )
      }
      assert.equal(sha256(await objectBytes(client, bucket, finalKey)), sha256(big.bytes))
    },
  )
})
