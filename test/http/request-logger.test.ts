// request.log is made on the first log call (src/http/request-logger.ts): a request that logs
// nothing makes no pino child, and what a request logs is what the child would have logged.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { registerAccessLog } from '../../src/http/access-log.js'
import { lazyChildLogger } from '../../src/http/request-logger.js'
import { ResponseOverController } from '../../src/http/response-over.js'
import { buildTestApp, memoryLogger } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

/** A real pino logger into `records` whose child() calls are counted. */
function countingLogger(records: Record<string, unknown>[]): { logger: FastifyBaseLogger; children: () => number } {
  const logger = memoryLogger(records)
  // pino's child() is on the prototype; the children pino makes inherit this counting one.
  const pinoLogger = Object.getPrototypeOf(logger) as FastifyBaseLogger
  let made = 0
  logger.child = function (this: FastifyBaseLogger, bindings, options) {
    made++
    return pinoLogger.child.call(this, bindings, options)
  }
  return { logger, children: () => made }
}

await test('no child is made until something is logged; then one, carrying the bindings', () => {
  const records: Record<string, unknown>[] = []
  const { logger, children } = countingLogger(records)
  const log = lazyChildLogger(logger, { reqId: 'req-7' }, {})
  assert.equal(log.level, 'debug', 'the parent level, read without making the child')
  assert.equal(children(), 0)
  log.info({ url: '/simple/' }, 'request')
  log.warn('again %s', 'here')
  assert.equal(children(), 1)
  assert.deepEqual(
    records.map(({ reqId, url, msg, level }) => ({ reqId, url, msg, level })),
    [
      { reqId: 'req-7', url: '/simple/', msg: 'request', level: 30 },
      { reqId: 'req-7', url: undefined, msg: 'again here', level: 40 },
    ],
  )
})

await test('the options are the child’s: a route log level filters as pino’s child would', () => {
  const records: Record<string, unknown>[] = []
  const { logger, children } = countingLogger(records)
  const log = lazyChildLogger(logger, { reqId: 'req-8' }, { level: 'warn' })
  assert.equal(log.level, 'warn')
  log.info('dropped')
  log.error('kept')
  assert.deepEqual(
    records.map((record) => record.msg),
    ['kept'],
  )
  assert.equal(children(), 1)
  log.level = 'info'
  log.info('now kept')
  assert.equal(log.level, 'info')
  assert.deepEqual(
    records.map((record) => record.msg),
    ['kept', 'now kept'],
  )
})

await test('through the app: each request logs under its own request id, in the place a child puts it', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'demo/demo-1.0.tar.gz': 'demo' })
  const { app, logs } = await buildTestApp(t, { root })
  // A URL that cannot be percent-decoded is logged by the request's own logger (frameworkErrors);
  // the others by the access log.
  assert.equal((await app.inject('/simple/%zz/')).statusCode, 400)
  assert.equal((await app.inject('/simple/demo/')).statusCode, 200)
  assert.equal((await app.inject('/simple/demo/')).statusCode, 200)
  const lines = logs.filter((record) => record.msg === 'request')
  assert.equal(lines.length, 3, JSON.stringify(logs))
  const ids = lines.map((record) => record.reqId)
  assert.ok(
    ids.every((id) => typeof id === 'string' && id !== ''),
    JSON.stringify(ids),
  )
  assert.equal(new Set(ids).size, 3)
  // Where request.log (a child bound to the request id) puts it: right after the logger's own
  // fields, before the line's (access-log.ts writes the line with the app's logger).
  for (const line of lines)
    assert.deepEqual(Object.keys(line).slice(0, 7), [
      'level',
      'time',
      'pid',
      'hostname',
      'reqId',
      'remoteAddress',
      'method',
    ])
})

await test('the access log writes its line without making a child logger per request', async (t) => {
  const records: Record<string, unknown>[] = []
  const { logger, children } = countingLogger(records)
  const responses = new ResponseOverController()
  const app = Fastify({
    loggerInstance: logger,
    logController: responses,
    childLoggerFactory: lazyChildLogger,
  })
  t.after(() => app.close())
  registerAccessLog(app, responses)
  app.get('/', (_request, reply) => reply.send('ok\n'))
  await app.ready()
  const before = children()
  for (let i = 0; i < 3; i++) assert.equal((await app.inject('/')).statusCode, 200)
  assert.equal(children(), before)
  const lines = records.filter((record) => record.msg === 'request')
  assert.equal(lines.length, 3)
  assert.deepEqual(new Set(lines.map((record) => record.reqId)).size, 3)
})
