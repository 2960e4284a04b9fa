// `eggserve check`, `eggserve warm` and `eggserve cache warm` on a moto bucket (EGGSERVE_STORAGE),
// each through the fault proxy that counts the LISTs: they start as a server does, from the
// bucket's snapshot of the listings (no LIST of a project folder nor of the tree), else with
// the flat listing of the whole tree (a LIST per 1,000 keys, never one per folder).
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { S3Storage } from '../../src/storage/s3-storage.js'
import { memoryLogger } from '../helpers/build-app.js'
import { buildWheel } from '../helpers/distributions.js'
import { startMoto, type Moto } from '../helpers/moto.js'
import { startFaultProxy, type FaultProxy } from '../helpers/s3-fault-proxy.js'
import { runCli } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const PREFIX = 'pypi/'
const PROJECTS = 12

/** LISTs outside the hidden folder (journal, snapshots): of the tree or of a project folder. */
function treeLists(proxy: FaultProxy): string[] {
  return proxy.requests
    .filter((request) => request.operation === 'ListObjectsV2')
    .map((request) => `${request.query.get('prefix') ?? ''}${request.query.has('delimiter') ? ' /' : ''}`)
    .filter((prefix) => !prefix.startsWith(`${PREFIX}.eggserve/`))
}

async function seed(moto: Moto): Promise<string> {
  const bucket = await moto.createBucket()
  for (let i = 0; i < PROJECTS; i++) {
    const wheel = buildWheel({ name: `cmd${String(i)}`, version: '1.0' })
    await moto.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}cmd${String(i)}/${wheel.filename}`, Body: wheel.bytes }),
    )
  }
  return bucket
}

// A replica that listed the bucket and follows its journal writes the snapshot (in-process).
async function snapshot(t: TestContext, moto: Moto, bucket: string): Promise<void> {
  const lines: Record<string, unknown>[] = []
  const storage = await S3Storage.open(
    moto.spec(bucket, { prefix: PREFIX, journalPollMs: 50, snapshotDir: await tempDir(t) }),
    memoryLogger(lines),
  )
  const root = await storage.listRoot()
  await Promise.all(root.folders.map((folder) => storage.listFolder(folder)))
  const watch = storage.watch(() => undefined)
  t.after(() => {
    watch.close()
  })
  // Polled as a hang guard only.
  while (!lines.some((line) => line.msg === 'Wrote a snapshot of the listings'))
    await new Promise((resolve) => setTimeout(resolve, 50))
}

await test('the commands start on a bucket as the server does', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const withSnapshot = await seed(moto)
  await snapshot(t, moto, withSnapshot)
  const withoutSnapshot = await seed(moto)
  const dir = await tempDir(t)
  const requirements = join(dir, 'requirements.txt')
  await writeFile(requirements, 'cmd3==1.0\n')

  const commands: Record<string, (cacheDir: string) => string[]> = {
    check: () => ['check'],
    warm: (cacheDir) => ['warm', '--cache-dir', cacheDir, '--hash-workers', '0'],
    // Its project is in the bucket: skipped, so the upstream (nothing listens there) is never asked.
    'cache warm': (cacheDir) => [
      'cache',
      'warm',
      '-r',
      requirements,
      '--upstream',
      'http://127.0.0.1:9/',
      '--cache-dir',
      cacheDir,
    ],
  }
  for (const [name, args] of Object.entries(commands)) {
    for (const [bucket, expected] of [
      [withSnapshot, []],
      [withoutSnapshot, [PREFIX, PREFIX]],
    ] as const) {
      const label = bucket === withSnapshot ? 'with a snapshot: no LIST of the tree' : 'without: the tree listed flat'
      await t.test(`eggserve ${name}, ${label}`, async (t) => {
        const proxy = await startFaultProxy(t, moto.endpoint)
        const result = await runCli(args(await tempDir(t)), {
          ...moto.env(proxy.url),
          EGGSERVE_STORAGE: `s3://${bucket}/pypi`,
          EGGSERVE_S3_PATH_STYLE: 'true',
        })
        assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`)
        assert.deepEqual(treeLists(proxy), expected)
        if (name === 'check')
          assert.equal(
            result.stdout,
            `"s3://${bucket}/pypi": ${PROJECTS} projects, ${PROJECTS} distributions, no problems\n`,
          )
        if (name === 'warm') assert.match(result.stdout, new RegExp(`^Hashed ${PROJECTS} files`))
        if (name === 'cache warm') assert.match(result.stderr, /skipped cmd3: a local project/)
      })
    }
  }
})
