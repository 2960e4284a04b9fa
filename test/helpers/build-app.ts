// An app over a real directory, driven with app.inject(); logs are captured for assertions.
import { Writable } from 'node:stream'
import type { TestContext } from 'node:test'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildApp } from '../../src/app.js'
import { SETTINGS } from '../../src/config.js'
import type { HashAlgorithm } from '../../src/core/digests.js'
import type { LayoutReport } from '../../src/core/layout.js'
import { createIndexServices, type IndexServices } from '../../src/services.js'

/** What buildTestApp gives back. */
export interface TestApp {
  readonly app: FastifyInstance
  readonly services: IndexServices
  readonly report: LayoutReport
  /** Every log record written so far, parsed. */
  readonly logs: Record<string, unknown>[]
}

/** A logger writing JSON records into `records`. */
export function memoryLogger (records: Record<string, unknown>[]): FastifyBaseLogger {
  const sink = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') records.push(JSON.parse(line) as Record<string, unknown>)
      }
      callback()
    },
  })
  return pino({ level: 'debug' }, sink)
}

/** Build, load and (optionally) watch an index over `root`; the app is closed after the test. */
export async function buildTestApp (t: TestContext, options: { root: string; hashAlgorithm?: HashAlgorithm; watch?: boolean; cacheControl?: string }): Promise<TestApp> {
  const logs: Record<string, unknown>[] = []
  const logger = memoryLogger(logs)
  const hashAlgorithm = options.hashAlgorithm ?? 'md5'
  const services = await createIndexServices({ eggdir: options.root, hashAlgorithm, logger })
  const report = await services.index.load()
  if (options.watch === true) services.index.watch()
  const app = await buildApp({ index: services.index, storage: services.storage, logger, hashAlgorithm, cacheControl: options.cacheControl ?? SETTINGS.cacheControl.defaultValue })
  t.after(async () => {
    await app.close()
    await services.close()
  })
  return { app, services, report, logs }
}
