// The PyPI JSON API (as Warehouse's legacy/api/json.py answers; docs/http.md): info from the newest
// non-yanked release, urls, releases.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fastify } from 'fastify'
import { NotFoundError, RequestRejected } from '../../src/errors.js'
import { JSON_API_ERRORS, registerErrorHandling } from '../../src/http/error-handler.js'
import { buildTestApp } from '../helpers/build-app.js'
import { buildSdist, buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'

interface FileDoc {
  filename: string
  packagetype: string
  python_version: string
  digests: Record<string, string>
  yanked: boolean
  yanked_reason: string | null
  requires_python: string | null
  upload_time: string
  upload_time_iso_8601: string
  url: string
  size: number
}
interface ApiDoc {
  info: Record<string, unknown>
  urls: FileDoc[]
  releases?: Record<string, FileDoc[]>
  last_serial: number
}

async function fixture(t: Parameters<typeof tempDir>[0]): Promise<{ root: string; wheel10: Buffer }> {
  const root = await tempDir(t)
  const wheel10 = buildWheel({
    name: 'Demo.Pkg',
    version: '1.0',
    summary: 'One point oh',
    requiresPython: '>=3.7',
    requiresDist: ['requests>=2'],
  })
  await writeDist(join(root, 'Demo.Pkg'), wheel10)
  await writeDist(join(root, 'Demo.Pkg'), buildSdist({ name: 'Demo.Pkg', version: '1.0', summary: 'One point oh' }))
  await writeDist(join(root, 'Demo.Pkg'), buildWheel({ name: 'Demo.Pkg', version: '2.0.0', summary: 'Two, yanked' }))
  await writeFile(join(root, 'Demo.Pkg', 'demo_pkg-2.0.0-py3-none-any.whl.yanked'), 'do not use')
  await writeDist(join(root, 'Demo.Pkg'), buildWheel({ name: 'Demo.Pkg', version: '3.0b1', summary: 'A beta' }))
  await writeDist(join(root, 'Demo.Pkg'), buildWheel({ name: 'Demo.Pkg', version: '0.9' }))
  return { root, wheel10: wheel10.bytes }
}

await test('/pypi/<p>/json: info from the newest non-yanked final release, with urls and releases', async (t) => {
  const { root, wheel10 } = await fixture(t)
  const { app } = await buildTestApp(t, { root })
  const res = await app.inject({ url: '/pypi/demo-pkg/json', headers: { host: 'index.example:31001' } })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'application/json')
  const doc = res.json<ApiDoc>()
  assert.equal(doc.info.version, '1.0')
  assert.equal(doc.info.name, 'Demo.Pkg')
  assert.equal(doc.info.summary, 'One point oh')
  assert.equal(doc.info.requires_python, '>=3.7')
  assert.deepEqual(doc.info.requires_dist, ['requests>=2'])
  assert.equal(doc.info.yanked, false)
  assert.deepEqual(
    Object.keys(doc.releases ?? {}),
    ['0.9', '1.0', '2', '3.0b1'].map((v) => (v === '2' ? '2.0.0' : v)),
  )
  assert.deepEqual(doc.urls.map((f) => f.packagetype).sort(), ['bdist_wheel', 'sdist'])
  const wheel = doc.urls.find((f) => f.packagetype === 'bdist_wheel') ?? assert.fail('no wheel')
  assert.equal(wheel.python_version, 'py3')
  assert.equal(wheel.digests.sha256, createHash('sha256').update(wheel10).digest('hex'))
  assert.equal(wheel.digests.md5, createHash('md5').update(wheel10).digest('hex'))
  assert.equal(wheel.size, wheel10.length)
  assert.equal(wheel.url, 'http://index.example:31001/packages/Demo.Pkg/demo_pkg-1.0-py3-none-any.whl')
  assert.match(wheel.upload_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/)
  assert.match(wheel.upload_time_iso_8601, /Z$/)
  assert.equal(doc.urls.find((f) => f.packagetype === 'sdist')?.python_version, 'source')
  const yanked = doc.releases?.['2.0.0']?.[0]
  assert.equal(yanked?.yanked, true)
  assert.equal(yanked.yanked_reason, 'do not use')
  assert.equal(typeof doc.last_serial, 'number')
})

await test('/pypi/<p>/<v>/json: by canonical version, without releases; 404s; redirects', async (t) => {
  const { root } = await fixture(t)
  const { app } = await buildTestApp(t, { root })
  for (const url of ['/pypi/demo-pkg/2/json', '/pypi/demo-pkg/2.0.0/json', '/pypi/demo-pkg/2.0/json/']) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 200, url)
    const doc = res.json<ApiDoc>()
    assert.equal(doc.info.version, '2.0.0')
    assert.equal(doc.info.yanked, true)
    assert.equal(doc.info.yanked_reason, 'do not use')
    assert.equal(doc.releases, undefined)
  }
  for (const url of ['/pypi/nope/json', '/pypi/demo-pkg/7.0/json', '/pypi/nope/1.0/json/']) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 404, url)
    assert.equal(res.statusMessage, 'Not Found')
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    assert.equal(res.body, '{"message":"Not Found"}')
    const head = await app.inject({ method: 'HEAD', url })
    assert.equal(head.statusCode, 404, url)
    assert.equal(head.headers['content-length'], '23')
  }
  const redirects: [string, string][] = [
    ['/pypi/Demo.Pkg/json', '../demo-pkg/json'],
    ['/pypi/Demo.Pkg/json/', '../../demo-pkg/json/'],
    ['/pypi/Demo_Pkg/1.0/json', '../../demo-pkg/1.0/json'],
  ]
  for (const [url, location] of redirects) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 301, url)
    assert.equal(res.headers.location, location, url)
    assert.equal(res.headers.vary, undefined, url)
  }
})

await test('when every final release is yanked, the newest pre-release is "latest"', async (t) => {
  const root = await tempDir(t)
  await writeDist(join(root, 'beta'), buildWheel({ name: 'beta', version: '1.0' }))
  await writeFile(join(root, 'beta', 'beta-1.0-py3-none-any.whl.yanked'), '')
  await writeDist(join(root, 'beta'), buildWheel({ name: 'beta', version: '2.0rc1' }))
  const { app } = await buildTestApp(t, { root })
  assert.equal((await app.inject('/pypi/beta/json')).json<ApiDoc>().info.version, '2.0rc1')
})

await test('the error handler answers a NotFoundError in JSON on routes that ask for it, and nothing else', async (t) => {
  const app = fastify()
  t.after(() => app.close())
  registerErrorHandling(app)
  app.get('/json', { config: JSON_API_ERRORS }, () => {
    throw new NotFoundError()
  })
  app.get('/text', () => {
    throw new NotFoundError()
  })
  app.get('/json-refused', { config: JSON_API_ERRORS }, () => {
    throw new RequestRejected('EGGSERVE_UNAUTHORIZED', 'Authentication required')
  })
  const json = await app.inject('/json')
  assert.equal(json.statusCode, 404)
  assert.equal(json.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(json.body, '{"message":"Not Found"}')
  const text = await app.inject('/text')
  assert.equal(text.statusCode, 404)
  assert.equal(text.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(text.body, 'Not Found\n')
  // Refusals keep the plain text (and reason phrase) clients show, on every route.
  const refused = await app.inject('/json-refused')
  assert.equal(refused.statusCode, 401)
  assert.equal(refused.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(refused.body, 'Authentication required\n')
})
