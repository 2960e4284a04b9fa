// The periodic reconcile (--reconcile-interval) on a real moto bucket, with the fault proxy
// counting the LISTs: when many folders' listings ran out of trust it lists the whole tree
// flat (a LIST per 1,000 keys, not one per folder) and finds what was copied in or deleted by
// hand exactly as listing folder by folder does; when only a few are due it lists those folders.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import type { S3StorageSpec } from '../../src/storage/open-storage.js'
import { buildBucketApp, type TestApp } from '../helpers/build-app.js'
import { startMoto } from '../helpers/moto.js'
import { startFaultProxy, type FaultProxy } from '../helpers/s3-fault-proxy.js'

const PREFIX = 'pypi/'
// 1,250 keys: a flat listing is three LISTs (the one that stops at the hidden folder, then two pages).
const FOLDERS = 250
const FILES = 5
const TRUST_MS = 60_000

/** The LISTs sent since `since`, outside the hidden folder: their prefix, and "/" when grouped. */
function lists(proxy: FaultProxy, since: number): string[] {
  return proxy.requests
    .slice(since)
    .filter((request) => request.operation === 'ListObjectsV2')
    .map((request) => `${request.query.get('prefix') ?? ''}${request.query.has('delimiter') ? ' /' : ''}`)
    .filter((prefix) => !prefix.startsWith(`${PREFIX}.eggserve/`))
}

/** Every project the index holds, with its files. */
function held(app: TestApp): Record<string, string[]> {
  const projects: Record<string, string[]> = {}
  for (const snapshot of app.services.index.heldProjects())
    projects[snapshot.folder] = snapshot.files.map((file) => `${file.filename} ${file.size}`)
  return projects
}

await test('the reconcile of a bucket', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const bucket = await moto.createBucket()
  const put = (key: string, body: string): Promise<unknown> =>
    moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: `${PREFIX}${key}`, Body: body }))
  const keys = Array.from({ length: FOLDERS * FILES }, (_, n) => {
    const i = Math.floor(n / FILES)
    return `f${i}/f${i}-${n % FILES}.0.tar.gz`
  })
  for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((key) => put(key, key)))
  const open = async (
    t: TestContext,
    settings: Partial<S3StorageSpec>,
  ): Promise<{ app: TestApp; proxy: FaultProxy }> => {
    const proxy = await startFaultProxy(t, moto.endpoint)
    const app = await buildBucketApp(t, moto.spec(bucket, { prefix: PREFIX, endpoint: proxy.url, ...settings }))
    return { app, proxy }
  }
  // The clock (Date only) is stopped, then moved past the listings' trust: every listing is due
  // at once, and the listings the reconcile makes stay trusted until it ends, however slow it is.
  const expire = (t: TestContext): void => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
    t.mock.timers.tick(TRUST_MS + 1)
  }

  await t.test('many folders due: one flat listing, with the files added and removed by hand', async (t) => {
    const flat = await open(t, { listingTtlMs: TRUST_MS })
    // The same, with the flat listing refused: the reconcile lists folder by folder.
    const byFolder = await open(t, { listingTtlMs: TRUST_MS })
    byFolder.proxy.setRules([
      {
        match: (r) => r.operation === 'ListObjectsV2' && r.query.get('prefix') === PREFIX && !r.query.has('delimiter'),
        action: { kind: 'access-denied' },
      },
    ])
    const before = held(flat.app)
    assert.equal(Object.keys(before).length, FOLDERS)
    assert.deepEqual(held(byFolder.app), before)

    await put('f3/f3-9.0.tar.gz', 'copied in by hand')
    await moto.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${PREFIX}f7/f7-0.0.tar.gz` }))
    await put('fresh/fresh-1.0.tar.gz', 'a new folder')
    expire(t)

    const since = flat.proxy.requests.length
    await flat.app.services.index.reconcile()
    assert.deepEqual(lists(flat.proxy, since), [PREFIX, PREFIX, PREFIX], 'pages of the whole tree, no folder listed')
    const after = held(flat.app)
    assert.equal(after.f3?.length, FILES + 1)
    assert.equal(after.f7?.length, FILES - 1)
    assert.deepEqual(after.fresh, [`fresh-1.0.tar.gz ${'a new folder'.length}`])

    const sinceByFolder = byFolder.proxy.requests.length
    await byFolder.app.services.index.reconcile()
    const folderLists = lists(byFolder.proxy, sinceByFolder).filter(
      (prefix) => prefix.endsWith('/ /') && prefix !== `${PREFIX} /`,
    )
    assert.equal(folderLists.length, FOLDERS + 1, 'a LIST per folder, the new one included')
    assert.deepEqual(held(byFolder.app), after)
  })

  await t.test('listings the last reconcile made, just short of their trust, are due at the next', async (t) => {
    // The reconcile timer's interval is the listings' trust: the next reconcile starts a few
    // milliseconds before the last one's listings run out, and must still read them again.
    const { app, proxy } = await open(t, { listingTtlMs: TRUST_MS })
    await put('f11/f11-7.0.tar.gz', 'copied in by hand')
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
    t.mock.timers.tick(TRUST_MS - 50)
    const since = proxy.requests.length
    await app.services.index.reconcile()
    assert.deepEqual(lists(proxy, since), [PREFIX, PREFIX, PREFIX], 'pages of the whole tree')
    assert.equal(held(app).f11?.length, FILES + 1)
  })

  await t.test('a few folders due: each listed on its own, the tree not listed', async (t) => {
    const { app, proxy } = await open(t, { listingTtlMs: TRUST_MS })
    // Removed through eggserve: its listing, and the top level's, are forgotten; no other is due.
    assert.equal(await app.services.storage.remove('f9/f9-1.0.tar.gz'), true)
    await put('f9/f9-8.0.tar.gz', 'copied in by hand')
    const since = proxy.requests.length
    await app.services.index.reconcile()
    assert.deepEqual(lists(proxy, since), [`${PREFIX} /`, `${PREFIX}f9/ /`])
    assert.deepEqual(
      held(app).f9?.map((line) => line.split(' ')[0]),
      ['f9-0.0.tar.gz', 'f9-2.0.tar.gz', 'f9-3.0.tar.gz', 'f9-4.0.tar.gz', 'f9-8.0.tar.gz'],
    )
  })
})
