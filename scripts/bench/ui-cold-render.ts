// Child of ui-run.ts: time N cold renders of the 1,000-file UI project page with the build under
// test (the snapshot's dist/). Usage: node --import tsx ui-cold-render.ts ROOT EGGDIR N
// Prints one JSON line: { "wallMs": [...], "cpuMs": [...], "bytes": n }.
// A process of its own, so the renders share the heap and the CPU with nothing of the bench.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { pino } from 'pino'
import type * as AppModule from '../../src/app.js'
import type * as ConfigModule from '../../src/config.js'
import type * as ServicesModule from '../../src/services.js'
import { UI_BIG_PROJECT, UI_SMALL_PROJECT } from './ui-tree.js'

const [root, eggdir, count] = process.argv.slice(2)
if (root === undefined || eggdir === undefined || count === undefined || !/^\d+$/.test(count)) {
  process.stderr.write('usage: ui-cold-render.ts ROOT EGGDIR RENDERS\n')
  process.exit(2)
}
const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(root, 'dist', path)).href)) as T
const { buildApp } = await load<typeof AppModule>('app.js')
const { SETTINGS } = await load<typeof ConfigModule>('config.js')
const { createIndexServices } = await load<typeof ServicesModule>('services.js')

const log = pino({ level: 'warn' })
const services = await createIndexServices({ eggdir, hashAlgorithm: 'md5', logger: log })
try {
  await services.index.load()
  const big = await services.index.findProject(UI_BIG_PROJECT)
  if (big === undefined) throw new Error(`no ${UI_BIG_PROJECT} in ${eggdir}`)
  // Digests known (as on a running server): "cold" is the page, not the hashing of 1,000 files.
  await services.index.analyzedPage(big)
  const wallMs: number[] = []
  const cpuMs: number[] = []
  let bytes = 0
  for (let run = 0; run < Number(count); run++) {
    // A new app: empty page, README and metadata caches. A first page of another project starts
    // the README worker, which a running server has started long before.
    const app = await buildApp({
      index: services.index,
      storage: services.storage,
      logger: log,
      hashAlgorithm: 'md5',
      cacheControl: SETTINGS.cacheControl.defaultValue,
    })
    try {
      await app.inject({ url: `/-/project/${UI_SMALL_PROJECT}/` })
      const started = performance.now()
      const cpuStarted = process.cpuUsage()
      const res = await app.inject({ url: `/-/project/${UI_BIG_PROJECT}/` })
      wallMs.push(performance.now() - started)
      // CPU time of the whole process (the README worker included): the work, without the
      // waits of a loaded machine.
      const used = process.cpuUsage(cpuStarted)
      cpuMs.push((used.user + used.system) / 1000)
      if (res.statusCode !== 200) throw new Error(`/-/project/${UI_BIG_PROJECT}/ answered ${res.statusCode}`)
      bytes = res.rawPayload.length
    } finally {
      await app.close()
    }
  }
  process.stdout.write(`${JSON.stringify({ wallMs, cpuMs, bytes })}\n`)
} finally {
  await services.close()
}
