// The logger handle: lines held during start-up, the marked first line (the daemon's listening
// line, logged by Fastify itself) going out before them, and nothing reordered afterwards.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import Fastify from 'fastify'
import type { Level } from 'pino'
import { createLogger, type LoggerHandle } from '../../src/logger.js'
import { pollUntil } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

/** A handle writing to a fresh file, and a reader of the messages written there once there are `count`. */
async function fileLogger(
  t: TestContext,
  level: Level = 'info',
): Promise<{ log: LoggerHandle; messages: (count: number) => Promise<string[]> }> {
  const file = join(await tempDir(t, 'eggserve-logger-'), 'eggserve.log')
  const log = createLogger({ file, level })
  const read = async (): Promise<string[]> => {
    const text = await readFile(file, 'utf8').catch(() => '')
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => String((JSON.parse(line) as { msg?: unknown }).msg))
  }
  // The file is written asynchronously (and flush() does not wait for writes under way).
  const messages = async (count: number): Promise<string[]> => {
    await pollUntil(async () => (await read()).length >= count, 10_000)
    return read()
  }
  return { log, messages }
}

await test('lines are held until release(), then written in order', async (t) => {
  const { log, messages } = await fileLogger(t)
  log.logger.warn('one')
  log.logger.child({ component: 'x' }).info('two')
  log.release()
  log.logger.info('three')
  assert.deepEqual(await messages(3), ['one', 'two', 'three'])
})

await test('the line firstLine() marks goes out before the held ones, whatever its text and whoever logs it', async (t) => {
  const { log, messages } = await fileLogger(t)
  log.logger.warn('held warning')
  log.logger.child({ component: 'x' }).info(log.firstLine('any words at all'))
  log.logger.info('held info')
  log.release()
  assert.deepEqual(await messages(3), ['any words at all', 'held warning', 'held info'])
})

await test('only the first marked line leads; a second keeps its place, and after release() nothing is reordered', async (t) => {
  const { log, messages } = await fileLogger(t)
  log.logger.warn('a')
  log.logger.info(log.firstLine('first address'))
  log.logger.info('b')
  log.logger.info(log.firstLine('second address'))
  log.release()
  log.logger.info('c')
  log.logger.info(log.firstLine('after release'))
  assert.deepEqual(await messages(6), ['first address', 'a', 'b', 'second address', 'c', 'after release'])
})

await test('a marked message logged with fields, or an unmarked one with the same words, is not the first line', async (t) => {
  const { log, messages } = await fileLogger(t)
  const message = log.firstLine('listening')
  log.logger.warn('a')
  log.logger.info({ extra: 1 }, message)
  log.release()
  assert.deepEqual(await messages(2), ['a', 'listening'])
})

await test("Fastify's own listening line, marked through listenTextResolver, is the first line of the log", async (t) => {
  const { log, messages } = await fileLogger(t)
  log.logger.warn('logged during start-up, before the address is known')
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  const address = await app.listen({
    port: 0,
    host: '127.0.0.1',
    listenTextResolver: (bound) => log.firstLine(`up on ${bound}`),
  })
  log.logger.info('after listening')
  log.release()
  assert.deepEqual(await messages(3), [
    `up on ${address}`,
    'logged during start-up, before the address is known',
    'after listening',
  ])
})

await test('with quieter logs, a child at info level can still log the marked line first', async (t) => {
  const { log, messages } = await fileLogger(t, 'warn')
  log.logger.warn('a warning')
  log.logger.info(log.firstLine('not written: info is off'))
  log.logger.child({}, { level: 'info' }).info(log.firstLine('the address'))
  log.release()
  log.logger.warn('after release')
  assert.deepEqual(await messages(3), ['the address', 'a warning', 'after release'])
})
