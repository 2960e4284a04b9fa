// Fastify's schema compilers (ajv, fast-json-stringify) are loaded only when a route with a
// schema needs one: eggserve's routes have none, and loading them cost start-up time.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import Fastify from 'fastify'
import { lazySchemaController } from '../../src/http/lazy-schema-compilers.js'
import { buildTestApp } from '../helpers/build-app.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'

// Every CommonJS module this process has loaded (one cache for all of them).
function loaded(pattern: RegExp): string[] {
  return Object.keys(createRequire(import.meta.url).cache).filter((path) => pattern.test(path))
}

// Fastify's own error serializer uses two small files of fast-json-stringify/lib: not the compiler.
const COMPILERS =
  /node_modules\/(ajv\/|fast-json-stringify\/index\.js|@fastify\/(ajv-compiler|fast-json-stringify-compiler)\/)/

// First in this file (its own process under node --test): nothing may have loaded them yet.
await test('building and serving the app loads neither ajv nor fast-json-stringify', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'foo/foo-1.0.tar.gz': 'foo sdist bytes' })
  const { app } = await buildTestApp(t, { root })
  await app.ready()
  for (const url of ['/simple/', '/simple/foo/', '/pypi/foo/json', '/health/ready', '/nope/']) await app.inject({ url })
  assert.deepEqual(loaded(COMPILERS), [])
})

await test('a route with a schema still gets Fastify’s compilers, loaded then', async (t) => {
  const app = Fastify({ schemaController: lazySchemaController() })
  t.after(() => app.close())
  app.post(
    '/echo',
    {
      schema: {
        body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
        response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
      },
    },
    (request) => request.body,
  )
  const bad = await app.inject({ method: 'POST', url: '/echo', payload: { n: 'one' } })
  assert.equal(bad.statusCode, 400)
  const good = await app.inject({ method: 'POST', url: '/echo', payload: { n: 1, extra: true } })
  assert.equal(good.statusCode, 200)
  // The serializer drops what the response schema does not name.
  assert.deepEqual(good.json(), { n: 1 })
  assert.notDeepEqual(loaded(COMPILERS), [])
})
