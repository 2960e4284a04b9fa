// Run in a child process (`node --expose-gc --import tsx test/helpers/heap-probe.ts EGGDIR
// PROJECT COUNT BUDGET`): an app over EGGDIR, listening on loopback with a page cache of BUDGET
// bytes, answers `/pypi/<PROJECT>/json` COUNT times, each time for a different Host, over
// kept-alive connections; the heap is measured after a forced GC before and after. Prints one
// JSON line: { before, after, statuses }. The caller compares the growth with the budget.
// (A real socket, not app.inject: light-my-request's objects outlive the requests it makes.)
import { Agent, request } from 'node:http'
import { pino } from 'pino'
import { buildApp } from '../../src/app.js'
import { SETTINGS } from '../../src/config.js'
import { PageCache } from '../../src/http/page-cache.js'
import { createIndexServices } from '../../src/services.js'

const [eggdir = '', project = '', countText = '0', budgetText = '0'] = process.argv.slice(2)
const count = Number(countText)
const pageCacheBytes = Number(budgetText)
const PARALLEL = 4
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

const logger = pino({ level: 'silent' })
const services = await createIndexServices({ eggdir, hashAlgorithm: 'sha256', logger })
await services.index.load()
const app = await buildApp({
  index: services.index,
  storage: services.storage,
  logger,
  hashAlgorithm: 'sha256',
  cacheControl: SETTINGS.cacheControl.defaultValue,
  pageCache: new PageCache(pageCacheBytes),
})

const address = await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = new URL(address)
const agent = new Agent({ keepAlive: true, maxSockets: PARALLEL })
const statuses: Record<number, number> = {}

function get(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: '127.0.0.1', port, path: `/pypi/${project}/json`, headers: { host } }, (res) => {
      res.resume()
      res.once('end', () => {
        resolve(res.statusCode ?? 0)
      })
    })
    req.once('error', reject)
    req.end()
  })
}

async function flood(from: number, to: number): Promise<void> {
  let next = from
  const worker = async (): Promise<void> => {
    for (let i = next++; i < to; i = next++) {
      const status = await get(`h${String(i)}.example:31001`)
      statuses[status] = (statuses[status] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker))
}

function heapAfterGc(): number {
  // Twice: the first pass may leave what finalizers released for the second.
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}

// Warm up first (JIT, the caches filled to their budget), so what follows measures growth only.
const warmup = Math.min(5000, Math.floor(count / 10))
await flood(0, warmup)
const before = heapAfterGc()
await flood(warmup, count)
const after = heapAfterGc()
process.stdout.write(`${JSON.stringify({ before, after, statuses })}\n`)
agent.destroy()
await app.close()
await services.close()
