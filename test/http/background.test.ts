// Background hashing, the persistent cache across restarts, worker threads, readiness and reconcile.
import assert from 'node:assert/strict'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { createHash } from 'node:crypto'
import { pino } from 'pino'
import { AnalysisStoppedError } from '../../src/file-facts/analyzer.js'
import type { ProjectPage } from '../../src/core/index-model.js'
import { buildApp } from '../../src/app.js'
import { SETTINGS } from '../../src/config.js'
import { MemoizingAnalyzer } from '../../src/file-facts/memoizing-analyzer.js'
import { BackgroundWork } from '../../src/live-index/background.js'
import { IndexService } from '../../src/live-index/index-service.js'
import { Warmup, type WarmupProgress } from '../../src/live-index/warmup.js'
import { createIndexServices, type IndexServices, type IndexServicesOptions } from '../../src/services.js'
import { buildSdist, buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })
const md5 = (data: string | Uint8Array): string => createHash('md5').update(data).digest('hex')

async function services(
  t: TestContext,
  root: string,
  options: Partial<IndexServicesOptions> = {},
): Promise<IndexServices> {
  const built = await createIndexServices({ eggdir: root, hashAlgorithm: 'md5', logger: silent, ...options })
  t.after(() => built.close())
  await built.index.load()
  return built
}

async function tree(t: TestContext, projects: number, files: number): Promise<string> {
  const root = await tempDir(t)
  const content: Record<string, string> = {}
  for (let p = 0; p < projects; p++)
    for (let f = 0; f < files; f++) content[`p${p}/p${p}-1.${f}.tar.gz`] = `project ${p} file ${f}`
  await writeTree(root, content)
  return root
}

// A project's analyzed page, as a request finds it.
async function pageOf(s: IndexServices, name: string): Promise<ProjectPage | undefined> {
  const found = await s.index.findProject(name)
  return found === undefined ? undefined : s.index.analyzedPage(found)
}

await test('warm-up hashes every file once, reporting progress, then says done', async (t) => {
  const root = await tree(t, 5, 20)
  const s = await services(t, root)
  const reports: WarmupProgress[] = []
  const warmup = new Warmup({
    index: s.index,
    analyzer: s.analyzer,
    log: silent,
    progressEveryMs: 1,
    onProgress: (p) => reports.push(p),
  })
  assert.equal(warmup.done, false)
  const done = await warmup.run()
  assert.equal(warmup.done, true)
  assert.equal(done.files, 100)
  assert.equal(done.filesDone, 100)
  assert.equal(s.reader.stats.files, 100)
  assert.ok(reports.length > 0 && reports.at(-1)?.done === true)
  assert.equal(
    (await new Warmup({ index: s.index, analyzer: s.analyzer, log: silent }).run()).files,
    0,
    'a second pass finds nothing to do',
  )
})

await test('a restart on the same cache directory re-hashes nothing that did not change', async (t) => {
  const root = await tree(t, 3, 10)
  const cacheDir = await tempDir(t, 'eggserve-cache-')
  const first = await services(t, root, { cacheDir })
  await new Warmup({ index: first.index, analyzer: first.analyzer, log: silent }).run()
  assert.equal(first.reader.stats.files, 30)
  await first.close()

  await writeFile(join(root, 'p1', 'p1-1.3.tar.gz'), 'changed in place')
  const second = await services(t, root, { cacheDir })
  const progress = await new Warmup({ index: second.index, analyzer: second.analyzer, log: silent }).run()
  assert.equal(progress.files, 1, 'only the changed file')
  assert.equal(second.reader.stats.files, 1)
  const page = await pageOf(second, 'p1')
  assert.ok(page !== undefined)
  assert.equal(page.files.find((f) => f.file.filename === 'p1-1.3.tar.gz')?.facts.digests.md5, md5('changed in place'))
  assert.equal(page.files.find((f) => f.file.filename === 'p1-1.4.tar.gz')?.facts.digests.md5, md5('project 1 file 4'))
})

await test('worker threads compute the same facts as the main thread, metadata included', async (t) => {
  const root = await tempDir(t)
  const wheel = buildWheel({ name: 'demo', version: '1.0', requiresPython: '>=3.9' })
  await writeDist(join(root, 'demo'), wheel)
  await writeDist(join(root, 'demo'), buildSdist({ name: 'demo', version: '1.0', requiresPython: '>=3.9' }))
  const inline = await services(t, root, { workers: 0 })
  const pooled = await services(t, root, { workers: 2 })
  const a = await pageOf(inline, 'demo')
  const b = await pageOf(pooled, 'demo')
  assert.ok(a !== undefined && b !== undefined)
  assert.deepEqual(
    b.files.map((f) => f.facts),
    a.files.map((f) => f.facts),
  )
  assert.equal(
    b.files.find((f) => f.file.parsed.kind === 'wheel')?.facts.metadata?.sha256,
    createHash('sha256').update(wheel.metadata).digest('hex'),
  )
  assert.equal(pooled.reader.stats.files, 2)
})

await test('a requested project jumps the background queue', async (t) => {
  const root = await tempDir(t)
  const big = Buffer.alloc(2 * 1024 * 1024, 3)
  const content: Record<string, string | Buffer> = { 'wanted/wanted-1.0.tar.gz': 'small' }
  for (let i = 0; i < 60; i++) content[`bulk/bulk-1.${i}.tar.gz`] = Buffer.concat([big, Buffer.from(String(i))])
  await writeTree(root, content)
  const s = await services(t, root, { concurrency: 2 })
  const warmup = new Warmup({ index: s.index, analyzer: s.analyzer, log: silent })
  const running = warmup.run()
  await new Promise((resolve) => setTimeout(resolve, 20))
  const page = await pageOf(s, 'wanted')
  assert.equal(page?.files.length, 1)
  const hashedWhenServed = s.reader.stats.files
  t.diagnostic(`files hashed when the requested page was ready: ${hashedWhenServed} of 61`)
  assert.ok(hashedWhenServed < 40, `the page waited for ${hashedWhenServed - 1} background files`)
  assert.equal(warmup.done, false)
  await running
})

await test('/health answers at once; /health/ready says 503 with progress until warm-up is done', async (t) => {
  const root = await tree(t, 4, 50)
  const s = await services(t, root, { concurrency: 1 })
  const background = new BackgroundWork({ services: s, log: silent, reconcileIntervalMs: 0 })
  const app = await buildApp({
    index: s.index,
    storage: s.storage,
    logger: silent,
    hashAlgorithm: 'md5',
    cacheControl: SETTINGS.cacheControl.defaultValue,
    readiness: () => background.readiness(),
  })
  t.after(() => app.close())
  background.start()
  assert.equal((await app.inject('/health')).statusCode, 200)
  const early = await app.inject('/health/ready')
  assert.equal(early.statusCode, 503)
  assert.equal(early.json<{ status: string; files: number }>().files, 200)
  await background.stop()
  const late = new BackgroundWork({ services: s, log: silent, reconcileIntervalMs: 0 })
  late.start()
  for (let i = 0; i < 200 && !late.readiness().ready; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.equal(late.readiness().ready, true)
  await late.stop()
})

await test('reconcile catches a change no watcher reported', async (t) => {
  const root = await tree(t, 2, 2)
  const s = await services(t, root)
  assert.equal((await pageOf(s, 'p0'))?.files[0]?.facts.digests.md5, md5('project 0 file 0'))
  // Rewritten in place: the folder's timestamp does not change, and nothing is watching.
  await writeFile(join(root, 'p0', 'p0-1.0.tar.gz'), 'rewritten')
  assert.notEqual((await pageOf(s, 'p0'))?.files[0]?.facts.digests.md5, md5('rewritten'), 'unseen without events')
  await s.index.reconcile()
  assert.equal((await pageOf(s, 'p0'))?.files[0]?.facts.digests.md5, md5('rewritten'))
})

for (const workers of [0, 1]) {
  await test(`closing the reader (${workers === 0 ? 'main thread' : 'worker thread'}) fails what is queued without reading it, and anything asked later`, async (t) => {
    const root = await tree(t, 4, 25)
    const s = await services(t, root, { workers, concurrency: 1 })
    const files = [...s.index.heldProjects()].flatMap(({ project, files: list }) =>
      list.map((file) => ({ project, file })),
    )
    assert.equal(files.length, 100)
    const settled = Promise.allSettled(
      files.map(({ project, file }) => s.analyzer.analyze(file, { group: project, urgent: false })),
    )
    // Closed at once: at most the reads already started may finish.
    await s.reader.close()
    const outcomes = await settled
    const stopped = outcomes.filter(
      (outcome) => outcome.status === 'rejected' && outcome.reason instanceof AnalysisStoppedError,
    )
    assert.ok(stopped.length >= 100 - 4, `${stopped.length} of 100 analyses stopped`)
    assert.ok(s.reader.stats.files <= 4, `${s.reader.stats.files} files were read after close()`)
    const [first] = files
    assert.ok(first !== undefined)
    s.analyzer.forget(first.file.identity)
    await assert.rejects(s.analyzer.analyze(first.file, { group: first.project }), AnalysisStoppedError)
  })
}

await test('stopping the background work and closing the services leaves the window of queued files unread', async (t) => {
  const root = await tree(t, 4, 50)
  const s = await services(t, root, { workers: 1 })
  const background = new BackgroundWork({ services: s, log: silent, reconcileIntervalMs: 0 })
  background.start()
  // As the daemon stops: the background is not waited for before the readers are closed.
  const stopped = background.stop()
  await s.close()
  await stopped
  assert.ok(s.reader.stats.files <= 4, `${s.reader.stats.files} of 200 files hashed while stopping`)
  assert.equal(background.readiness().ready, false)
})

await test('once ready, the cache is pruned after a turn of the event loop: waiting requests go first', async (t) => {
  const root = await tree(t, 2, 3)
  const cacheDir = await tempDir(t, 'eggserve-cache-')
  const first = await services(t, root, { cacheDir })
  await new Warmup({ index: first.index, analyzer: first.analyzer, log: silent }).run()
  await first.close()
  await rm(join(root, 'p1', 'p1-1.2.tar.gz'))
  const second = await services(t, root, { cacheDir })
  assert.equal(second.facts.size, 6, 'the gone file is still in the cache')
  const sizes: number[] = []
  const work = new BackgroundWork({
    services: second,
    log: silent,
    reconcileIntervalMs: 0,
    // What a request that came in while the warm-up finished would find.
    onReady: () => setImmediate(() => sizes.push(second.facts.size)),
  })
  t.after(() => work.stop())
  work.start()
  // Read through a function: the narrowing of the assertion above must not carry over.
  const size = (): number => second.facts.size
  for (let turns = 0; size() !== 5; turns++) {
    assert.ok(turns < 1000, 'never pruned')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  assert.deepEqual(sizes, [6])
})

await test("a warm start is ready before the facts are kept under the listing's identity strings", async (t) => {
  const root = await tree(t, 2, 3)
  const cacheDir = await tempDir(t, 'eggserve-cache-')
  const first = await services(t, root, { cacheDir })
  await new Warmup({ index: first.index, analyzer: first.analyzer, log: silent }).run()
  await first.close()
  const second = await services(t, root, { cacheDir })
  // Whether /health/ready said ready when adopt() ran (it walks every file: 0.2 s at 100,000).
  const readyWhenAdopted: boolean[] = []
  class Watched extends MemoizingAnalyzer {
    ready = (): boolean => false
    override adopt(identities: Iterable<string>): void {
      readyWhenAdopted.push(this.ready())
      super.adopt(identities)
    }
  }
  const analyzer = new Watched(second.reader, second.facts)
  const work = new BackgroundWork({ services: { ...second, analyzer }, log: silent, reconcileIntervalMs: 0 })
  analyzer.ready = () => work.readiness().ready
  t.after(() => work.stop())
  work.start()
  for (let turns = 0; readyWhenAdopted.length === 0; turns++) {
    assert.ok(turns < 1000, 'never adopted')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  assert.deepEqual(readyWhenAdopted, [true])
  assert.equal(second.reader.stats.files, 0, 'every file came from the cache')
})

await test('index.load() waits for the facts it was told to (the cache read beside the listing)', async (t) => {
  const root = await tree(t, 2, 3)
  const s = await services(t, root)
  let release = (): void => undefined
  const factsLoaded = new Promise<void>((resolve) => {
    release = resolve
  })
  const index = new IndexService({ storage: s.storage, analyzer: s.analyzer, log: silent, factsLoaded })
  t.after(() => {
    index.close()
  })
  let done = false
  const loading = index.load().then(() => {
    done = true
  })
  // The tree is listed, and then some turns of the event loop.
  for (let turns = 0; index.heldProjects().length < 2 || turns < 10; turns++) {
    assert.ok(turns < 1000, 'never listed')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  assert.equal(done, false)
  assert.equal(index.loaded, false)
  release()
  await loading
  assert.equal(index.loaded, true)
  assert.equal(index.heldProjects().length, 2)
})
