// `npm run bench:ui`: the browse UI's numbers (docs/ui.md, "Speed"): the cold render of a project
// page with 1,000 files, the cached project page under wrk against the real daemon, and with
// --scale the catalog's memory and search time over 10,000 projects × 10 files (--cold-only: only the first).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { pino } from 'pino'
import { buildApp } from '../../src/app.js'
import { SETTINGS } from '../../src/config.js'
import { Catalog } from '../../src/http/ui/catalog.js'
import type { DistFile } from '../../src/core/index-model.js'
import type { IndexService } from '../../src/index/index-service.js'
import { CoreMetadataStore } from '../../src/index/metadata-store.js'
import { createIndexServices } from '../../src/services.js'
import { buildWheel, writeDist } from '../../test/helpers/distributions.js'
import { binPath } from '../../test/helpers/spawn-server.js'
import { listeningUrl } from './listening-line.js'
import { runWrk } from './wrk.js'

const log = pino({ level: 'warn' })
const scale = process.argv.includes('--scale')

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

async function bigTree (dir: string): Promise<void> {
  const paragraphs = Array.from({ length: 60 }, (_, i) => `Paragraph ${i} with \`code\`, **bold** and a [link](https://example.org/${i}): ${createHash('sha256').update(String(i)).digest('hex')}.`)
  const readme = { metadataLines: ['Description-Content-Type: text/markdown', 'License: MIT', 'Project-URL: Docs, https://example.org/'], description: `# Big project\n\n${paragraphs.join('\n\n')}\n` }
  const tags = ['cp38', 'cp39', 'cp310', 'cp311', 'cp312', 'cp313', 'pp39', 'pp310', 'py2', 'py3']
  for (let minor = 0; minor < 100; minor++) {
    for (const tag of tags) await writeDist(join(dir, 'big-project'), buildWheel({ name: 'big-project', version: `1.${minor}`, summary: 'A project with 1,000 files', ...readme }, { pythonTag: tag }))
  }
}

async function coldRender (dir: string): Promise<void> {
  const services = await createIndexServices({ eggdir: dir, hashAlgorithm: 'md5', logger: log })
  await services.index.load()
  await services.index.analyzedPage(await services.index.findProject('big-project') ?? assert.fail('no big-project'))
  const times: number[] = []
  const cpu: number[] = []
  for (let run = 0; run < 11; run++) {
    // A new app: empty page cache, README cache and metadata cache; only the files' digests are known.
    const app = await buildApp({ index: services.index, storage: services.storage, logger: log, hashAlgorithm: 'md5', cacheControl: SETTINGS.cacheControl.defaultValue })
    await app.inject({ url: '/-/project/small/' })
    const started = performance.now()
    const cpuStarted = process.cpuUsage()
    const res = await app.inject({ url: '/-/project/big-project/' })
    times.push(performance.now() - started)
    // CPU time of the whole process (README worker included): the work, without the waits of a loaded machine.
    const used = process.cpuUsage(cpuStarted)
    cpu.push((used.user + used.system) / 1000)
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`)
    await app.close()
  }
  console.log(`cold project page, 1,000 files (new app each time, README worker started by a first page): median ${median(times).toFixed(1)} ms, best ${Math.min(...times).toFixed(1)} ms, all ${times.map((t) => t.toFixed(1)).join(', ')} ms; CPU time median ${median(cpu).toFixed(1)} ms, best ${Math.min(...cpu).toFixed(1)} ms`)
  await services.close()
}

async function cachedThroughput (dir: string, workDir: string): Promise<void> {
  const child = spawn(process.execPath, [binPath, '--eggdir', dir, '--port', '0', '--host', '127.0.0.1', '--cache-dir', 'none', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const url = await new Promise<string>((resolve, reject) => {
      // Line by line: a chunk may end inside the listening line.
      createInterface({ input: child.stdout }).on('line', (line) => {
        const listening = listeningUrl(line)
        if (listening !== undefined) resolve(listening)
      })
      child.once('exit', () => { reject(new Error('eggserve exited')) })
    })
    for (const path of ['/-/project/big-project/', '/-/', '/-/api/search?q=big']) {
      await fetch(`${url}${path}`)
      const result = await runWrk({ url: `${url}${path}`, durationS: 10, connections: 32, workDir, label: path.replace(/\W+/g, '_') })
      console.log(`${path}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(1)} ms, errors ${result.errors} (${result.command})`)
    }
  } finally {
    child.kill('SIGTERM')
  }
}

async function catalogScale (workDir: string): Promise<void> {
  const dir = join(workDir, 'scale')
  for (let p = 0; p < 10_000; p++) {
    const name = `project-${p.toString().padStart(5, '0')}`
    const wheel = buildWheel({ name, version: '1.0', summary: `Summary of ${name}: ${createHash('md5').update(name).digest('hex')}` })
    // Ten files per project with the same (small) bytes: the catalog reads one file's metadata.
    for (let v = 0; v < 10; v++) await writeDist(join(dir, name), { filename: wheel.filename.replace('-1.0-', `-1.${v}-`), bytes: wheel.bytes })
  }
  const services = await createIndexServices({ eggdir: dir, hashAlgorithm: 'md5', logger: log })
  await services.index.load()
  const measured = await (async () => {
    const catalog = new Catalog({ index: services.index, metadata: new CoreMetadataStore({ storage: services.storage, log, maxBytes: 0 }), log })
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
  console.log(`catalog of 10,000 projects / 100,000 files: listed in ${measured.listed.toFixed(0)} ms, summaries read in ${(measured.loaded / 1000).toFixed(1)} s; search ${measured.times.map((t) => t.toFixed(2)).join(' / ')} ms per query; a refresh with nothing changed ${measured.again.toFixed(1)} ms`)
  await services.close()
}

// The catalog's own heap, over an index stand-in (10,000 projects × 10 files, in memory), so
// that nothing else a real index allocates on the way is counted: heap with it minus heap without.
async function catalogMemory (): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  const projects = Array.from({ length: 10_000 }, (_, p) => ({ folder: `project-${p.toString().padStart(5, '0')}`, project: `project-${p.toString().padStart(5, '0')}` }))
  const files = new Map(projects.map(({ project }) => [project, Array.from({ length: 10 }, (_, v): DistFile => ({
    folder: project, filename: `${project}-1.${v}-py3-none-any.whl`, key: `${project}/${project}-1.${v}-py3-none-any.whl`,
    parsed: { kind: 'wheel', name: project, project, version: `1.${v}`, pythonTag: 'py3' }, size: 1000, mtimeMs: 1.8e12 + v, identity: `${project}-${v}`,
  }))]))
  const snapshots = projects.map(({ folder, project }) => {
    const list = files.get(project) ?? []
    return { folder, project, generation: 1, lastModifiedMs: 0, files: list, file: (filename: string) => list.find((file) => file.filename === filename) }
  })
  const held = new Map(snapshots.map((snapshot) => [snapshot.project, snapshot]))
  const index = { listProjects: () => Promise.resolve({ projects, generation: 1, lastModifiedMs: 0 }), findProject: (project: string) => Promise.resolve(held.get(project)), heldProjects: () => snapshots }
  const metadata = { read: (file: DistFile) => Promise.resolve({ bytes: Buffer.from(`Metadata-Version: 2.1\nName: ${file.parsed.name}\nVersion: 1.9\nSummary: Summary of ${file.parsed.name}: ${createHash('md5').update(file.parsed.name).digest('hex')}\n`), identity: file.identity }) }
  const measured = await (async () => {
    // The stand-ins have the shape of the index's public methods the catalog calls.
    const catalog = new Catalog({ index: index as unknown as IndexService, metadata: metadata as unknown as CoreMetadataStore, log })
    await catalog.refresh()
    while (catalog.loading) await new Promise((resolve) => setTimeout(resolve, 20))
    gc()
    return { projects: catalog.list('name', 0, 0).total, heap: process.memoryUsage().heapUsed }
  })()
  gc()
  console.log(`catalog heap for ${measured.projects} projects with summaries: ${((measured.heap - process.memoryUsage().heapUsed) / 1024 / 1024).toFixed(1)} MB`)
}

const workDir = await mkdtemp(join(tmpdir(), 'eggserve-bench-ui-'))
try {
  const dir = join(workDir, 'tree')
  await bigTree(dir)
  await writeDist(join(dir, 'small'), buildWheel({ name: 'small', version: '1.0', metadataLines: ['Description-Content-Type: text/markdown'], description: '# Small\n' }))
  await coldRender(dir)
  if (!process.argv.includes('--cold-only')) await cachedThroughput(dir, workDir)
  if (scale) {
    await catalogMemory()
    await catalogScale(workDir)
  }
} finally {
  await rm(workDir, { recursive: true, force: true })
}
