// `npm run bench:catalog`: the browse UI's project list and search at scale (docs/ui.md,
// "Project list and search"): the catalog's own heap over 10,000 projects × 10 files, then a real
// catalog over such a tree on disk (summaries read in the background, search time, a refresh).
// The UI's speed targets (a cached project page, a cold 1,000-file render) are measured by
// `npm run bench -- --only ui` (scripts/bench/ui-run.ts).
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { Catalog } from '../../src/http/ui/catalog.js'
import type { DistFile } from '../../src/core/index-model.js'
import type { IndexService } from '../../src/live-index/index-service.js'
import { CoreMetadataStore } from '../../src/live-index/metadata-store.js'
import { createIndexServices } from '../../src/services.js'
import { buildWheel, writeDist } from '../../test/helpers/distributions.js'

const log = pino({ level: 'warn' })

async function catalogScale(workDir: string): Promise<void> {
  const dir = join(workDir, 'scale')
  for (let p = 0; p < 10_000; p++) {
    const name = `project-${p.toString().padStart(5, '0')}`
    const wheel = buildWheel({
      name,
      version: '1.0',
      summary: `Summary of ${name}: ${createHash('md5').update(name).digest('hex')}`,
    })
    // Ten files per project with the same (small) bytes: the catalog reads one file's metadata.
    for (let v = 0; v < 10; v++)
      await writeDist(join(dir, name), { filename: wheel.filename.replace('-1.0-', `-1.${v}-`), bytes: wheel.bytes })
  }
  const services = await createIndexServices({ eggdir: dir, hashAlgorithm: 'md5', logger: log })
  await services.index.load()
  const measured = await (async () => {
    const catalog = new Catalog({
      index: services.index,
      metadata: new CoreMetadataStore({ storage: services.storage, log, maxBytes: 0 }),
      log,
    })
    let started = performance.now()
    await catalog.refresh()
    const listed = performance.now() - started
    while (catalog.loading) await new Promise((resolve) => setTimeout(resolve, 50))
    const loaded = performance.now() - started
    const times: number[] = []
    for (const query of ['project-0', '12345', 'summary of project-09', 'zzz', 'f3']) {
      started = performance.now()
      for (let i = 0; i < 20; i++) catalog.search(query, 10)
      times.push((performance.now() - started) / 20)
    }
    await new Promise((resolve) => setTimeout(resolve, 1100))
    started = performance.now()
    await catalog.refresh()
    const again = performance.now() - started
    return { listed, loaded, times, again }
  })()
  console.log(
    `catalog of 10,000 projects / 100,000 files: listed in ${measured.listed.toFixed(0)} ms, summaries read in ${(measured.loaded / 1000).toFixed(1)} s; search ${measured.times.map((t) => t.toFixed(2)).join(' / ')} ms per query; a refresh with nothing changed ${measured.again.toFixed(1)} ms`,
  )
  await services.close()
}

// The catalog's own heap, over an index stand-in (10,000 projects × 10 files, in memory), so
// that nothing else a real index allocates on the way is counted: heap with it minus heap without.
async function catalogMemory(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  const projects = Array.from({ length: 10_000 }, (_, p) => ({
    folder: `project-${p.toString().padStart(5, '0')}`,
    project: `project-${p.toString().padStart(5, '0')}`,
  }))
  const files = new Map(
    projects.map(({ project }) => [
      project,
      Array.from({ length: 10 }, (_, v): DistFile => ({
        folder: project,
        filename: `${project}-1.${v}-py3-none-any.whl`,
        key: `${project}/${project}-1.${v}-py3-none-any.whl`,
        parsed: { kind: 'wheel', name: project, project, version: `1.${v}`, pythonTag: 'py3' },
        size: 1000,
        mtimeMs: 1.8e12 + v,
        identity: `${project}-${v}`,
      })),
    ]),
  )
  const snapshots = projects.map(({ folder, project }) => {
    const list = files.get(project) ?? []
    return {
      folder,
      project,
      generation: 1,
      lastModifiedMs: 0,
      files: list,
      file: (filename: string) => list.find((file) => file.filename === filename),
    }
  })
  const held = new Map(snapshots.map((snapshot) => [snapshot.project, snapshot]))
  const index = {
    listProjects: () => Promise.resolve({ projects, generation: 1, lastModifiedMs: 0 }),
    findProject: (project: string) => Promise.resolve(held.get(project)),
    heldProjects: () => snapshots,
  }
  const metadata = {
    read: (file: DistFile) =>
      Promise.resolve({
        bytes: Buffer.from(
          `Metadata-Version: 2.1\nName: ${file.parsed.name}\nVersion: 1.9\nSummary: Summary of ${file.parsed.name}: ${createHash('md5').update(file.parsed.name).digest('hex')}\n`,
        ),
        identity: file.identity,
      }),
  }
  const measured = await (async () => {
    // The stand-ins have the shape of the index's public methods the catalog calls.
    const catalog = new Catalog({
      index: index as unknown as IndexService,
      metadata: metadata as unknown as CoreMetadataStore,
      log,
    })
    await catalog.refresh()
    while (catalog.loading) await new Promise((resolve) => setTimeout(resolve, 20))
    gc()
    return { projects: catalog.list('name', 0, 0).total, heap: process.memoryUsage().heapUsed }
  })()
  gc()
  console.log(
    `catalog heap for ${measured.projects} projects with summaries: ${((measured.heap - process.memoryUsage().heapUsed) / 1024 / 1024).toFixed(1)} MB`,
  )
}

const workDir = await mkdtemp(join(tmpdir(), 'eggserve-bench-catalog-'))
try {
  await catalogMemory()
  await catalogScale(workDir)
} finally {
  await rm(workDir, { recursive: true, force: true })
}
