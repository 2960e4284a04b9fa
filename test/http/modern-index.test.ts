// PEP 691 JSON, PEP 658/714 metadata, Requires-Python and yanking, through app.inject().
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildTestApp } from '../helpers/build-app.js'
import { buildEgg, buildSdist, buildWheel, writeDist, type BuiltWheel } from '../helpers/distributions.js'
import { tempDir } from '../helpers/temp-tree.js'

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex')
const md5 = (data: Uint8Array | string): string => createHash('md5').update(data).digest('hex')

const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json'

interface Fixture {
  root: string
  wheel: BuiltWheel
  sdist: { filename: string; bytes: Buffer }
  egg: { filename: string; bytes: Buffer }
  old: BuiltWheel
}

async function fixture(t: TestContext): Promise<Fixture> {
  const root = await tempDir(t)
  const wheel = buildWheel({ name: 'holygrail', version: '1.0', requiresPython: '>=3.8,<4' })
  const old = buildWheel({ name: 'holygrail', version: '0.9' })
  const sdist = buildSdist({ name: 'holygrail', version: '1.0', requiresPython: '>=3.8,<4' })
  const egg = buildEgg({ name: 'holygrail', version: '0.8', requiresPython: '>=2.7' }, { pyVersion: '3.7' })
  for (const dist of [wheel, old, sdist, egg]) await writeDist(join(root, 'HolyGrail'), dist)
  await writeFile(join(root, 'HolyGrail', `${old.filename}.yanked`), 'broken build\n')
  await writeFile(join(root, 'HolyGrail', `${egg.filename}.yanked`), '')
  return { root, wheel, sdist, egg, old }
}

await test('HTML carries data-requires-python (escaped), PEP 714 metadata attributes and data-yanked', async (t) => {
  const f = await fixture(t)
  const { app } = await buildTestApp(t, { root: f.root })
  for (const url of ['/simple/holygrail/', '/HolyGrail/']) {
    const body = (await app.inject(url)).body
    const link = (filename: string): string =>
      body.split('\n').find((line) => line.includes(`>${filename}</a>`)) ??
      assert.fail(`no link for ${filename} in ${url}`)
    const wheelLink = link(f.wheel.filename)
    assert.match(wheelLink, /data-requires-python="&gt;=3\.8,&lt;4"/)
    assert.ok(wheelLink.includes(`data-core-metadata="sha256=${sha256(f.wheel.metadata)}"`))
    assert.ok(wheelLink.includes(`data-dist-info-metadata="sha256=${sha256(f.wheel.metadata)}"`))
    assert.doesNotMatch(wheelLink, /data-yanked/)
    const sdistLink = link(f.sdist.filename)
    assert.match(sdistLink, /data-requires-python="&gt;=3\.8,&lt;4"/)
    assert.doesNotMatch(
      sdistLink,
      /core-metadata|dist-info-metadata/,
      "only wheels advertise .metadata (as PyPI: an sdist's PKG-INFO may be dynamic)",
    )
    assert.match(link(f.old.filename), /data-yanked="broken build"/)
    assert.doesNotMatch(
      link(f.old.filename),
      /requires-python/,
      'no attribute without Requires-Python (Simple Repository API)',
    )
    const eggLink = link(f.egg.filename)
    assert.match(
      eggLink,
      /data-yanked=""/,
      'an empty sidecar yanks without a reason, never a bare attribute (which pip and unearth read as not yanked)',
    )
    assert.match(eggLink, /data-requires-python="&gt;=2\.7"/, 'eggs: Requires-Python from EGG-INFO/PKG-INFO')
  }
})

await test('JSON (PEP 691/700/714) for pip, uv and poetry, from the same model', async (t) => {
  const f = await fixture(t)
  const { app } = await buildTestApp(t, { root: f.root })
  for (const [url, base] of [
    ['/simple/holygrail/', '../../packages/HolyGrail/'],
    ['/HolyGrail/', ''],
  ] as const) {
    const res = await app.inject({ url, headers: { accept: PIP_ACCEPT } })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], JSON_TYPE)
    const doc = res.json<{
      meta: Record<string, unknown>
      name: string
      versions: string[]
      files: Record<string, unknown>[]
    }>()
    assert.equal(doc.meta['api-version'], '1.1')
    assert.equal(doc.name, 'holygrail')
    assert.deepEqual(doc.versions, ['0.8', '0.9', '1.0'])
    assert.ok(!res.body.includes('null'), 'no null anywhere (uv fails the page on a null size, upload-time or yanked)')
    assert.ok(!res.body.includes('"dist-info-metadata"'), 'never the key that crashes pip 22.3-23.1 (PEP 714)')
    const byName = new Map(doc.files.map((file) => [String(file.filename), file]))
    const wheel = byName.get(f.wheel.filename) ?? assert.fail('wheel missing')
    assert.equal(wheel.url, `${base}${f.wheel.filename}`)
    assert.deepEqual(wheel.hashes, { md5: md5(f.wheel.bytes), sha256: sha256(f.wheel.bytes) })
    assert.equal(wheel.size, f.wheel.bytes.length)
    assert.match(String(wheel['upload-time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.equal(wheel['requires-python'], '>=3.8,<4')
    assert.equal(wheel.yanked, false)
    assert.deepEqual(wheel['core-metadata'], { sha256: sha256(f.wheel.metadata) })
    assert.deepEqual(wheel['data-dist-info-metadata'], { sha256: sha256(f.wheel.metadata) })
    assert.equal(byName.get(f.old.filename)?.yanked, 'broken build')
    assert.equal(byName.get(f.egg.filename)?.yanked, true)
    assert.equal(byName.get(f.sdist.filename)?.['core-metadata'], undefined)
    assert.equal(byName.get(f.old.filename)?.['requires-python'], undefined)
  }
  const root = await app.inject({ url: '/simple/', headers: { accept: JSON_TYPE } })
  assert.deepEqual(root.json(), { meta: { 'api-version': '1.1' }, projects: [{ name: 'HolyGrail' }] })
})

await test('negotiation: Accept vectors, ?format=, 406 and Vary', async (t) => {
  const f = await fixture(t)
  const { app } = await buildTestApp(t, { root: f.root })
  const cases: [Record<string, string>, string, number][] = [
    [{}, 'text/html; charset=utf-8', 200],
    [{ accept: '*/*' }, 'text/html; charset=utf-8', 200],
    [{ accept: 'text/html' }, 'text/html; charset=utf-8', 200],
    [{ accept: PIP_ACCEPT }, JSON_TYPE, 200],
    [{ accept: 'application/vnd.pypi.simple.v1+json, */*;q=0.1' }, JSON_TYPE, 200],
    [{ accept: 'application/vnd.pypi.simple.v1+html' }, 'application/vnd.pypi.simple.v1+html; charset=utf-8', 200],
    [{ accept: 'application/vnd.pypi.simple.latest+json' }, JSON_TYPE, 200],
    [{ accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }, 'text/html; charset=utf-8', 200],
  ]
  for (const [headers, type, status] of cases) {
    const res = await app.inject({ url: '/simple/holygrail/', headers })
    assert.equal(res.statusCode, status, JSON.stringify(headers))
    assert.equal(res.headers['content-type'], type, JSON.stringify(headers))
    assert.equal(res.headers.vary, 'Accept, Accept-Encoding')
  }
  const refused = await app.inject({ url: '/simple/holygrail/', headers: { accept: 'application/json' } })
  assert.equal(refused.statusCode, 406)
  assert.equal(refused.headers.vary, 'Accept, Accept-Encoding')
  assert.match(refused.body, /application\/vnd\.pypi\.simple\.v1\+json/)
  const format = await app.inject({
    url: '/simple/holygrail/?format=application/vnd.pypi.simple.v1%2Bjson',
    headers: { accept: 'text/html' },
  })
  assert.equal(format.headers['content-type'], JSON_TYPE)
  assert.equal((await app.inject('/simple/holygrail/?format=text/*')).statusCode, 406)
  const redirect = await app.inject({ url: '/simple/HolyGrail/', headers: { accept: PIP_ACCEPT } })
  assert.equal(redirect.statusCode, 301)
  // A redirect does not depend on Accept: no Vary (RFC 9110 §12.5.5).
  assert.equal(redirect.headers.vary, undefined)
})

await test('<wheel>.metadata serves the exact METADATA bytes with the advertised hash; not for sdists', async (t) => {
  const f = await fixture(t)
  const { app } = await buildTestApp(t, { root: f.root })
  for (const url of [`/packages/HolyGrail/${f.wheel.filename}.metadata`, `/HolyGrail/${f.wheel.filename}.metadata`]) {
    const res = await app.inject({ url, headers: { 'accept-encoding': 'gzip' } })
    assert.equal(res.statusCode, 200, url)
    assert.deepEqual(res.rawPayload, f.wheel.metadata)
    assert.equal(res.headers['content-encoding'], undefined, 'never compressed (pip hashes the bytes as sent)')
    assert.equal(res.headers['content-length'], String(f.wheel.metadata.length))
    const again = await app.inject({ url, headers: { 'if-none-match': String(res.headers.etag) } })
    assert.equal(again.statusCode, 304)
    const head = await app.inject({ method: 'HEAD', url })
    assert.equal(head.statusCode, 200)
    assert.equal(head.headers['content-length'], String(f.wheel.metadata.length))
  }
  for (const url of [
    `/packages/HolyGrail/${f.sdist.filename}.metadata`,
    `/packages/HolyGrail/${f.egg.filename}.metadata`,
    '/packages/HolyGrail/nope.whl.metadata',
  ]) {
    assert.equal((await app.inject(url)).statusCode, 404, url)
  }
})

await test("a long wheel name: the .metadata URL over 100 characters works (find-my-way's maxParamLength is 100 by default)", async (t) => {
  const root = await tempDir(t)
  const wheel = buildWheel({ name: 'tensorflow-io-gcs-filesystem', version: '0.37.1' }, { pythonTag: 'py2.py3' })
  await writeDist(join(root, 'tensorflow-io-gcs-filesystem'), wheel)
  const { app } = await buildTestApp(t, { root })
  const segment = `${wheel.filename}.metadata`
  assert.ok(segment.length > 50)
  const url = `/packages/tensorflow-io-gcs-filesystem/${segment}`
  assert.ok(url.length > 100)
  const res = await app.inject(url)
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.rawPayload, wheel.metadata)
})

await test('a broken wheel is served without metadata, never a crash', async (t) => {
  const root = await tempDir(t)
  await writeFile(join(root, 'fine.txt'), 'x')
  await writeDist(join(root, 'broken'), {
    filename: 'broken-1.0-py3-none-any.whl',
    bytes: Buffer.from('this is not a zip file at all'),
  })
  const { app, logs } = await buildTestApp(t, { root })
  const res = await app.inject({ url: '/simple/broken/', headers: { accept: JSON_TYPE } })
  assert.equal(res.statusCode, 200)
  const file = res.json<{ files: Record<string, unknown>[] }>().files[0]
  assert.equal(file?.filename, 'broken-1.0-py3-none-any.whl')
  assert.equal(file['core-metadata'], undefined)
  assert.equal((await app.inject('/packages/broken/broken-1.0-py3-none-any.whl.metadata')).statusCode, 404)
  assert.ok(logs.some((record) => String(record.msg).includes('No core metadata')))
})

await test('yanking is live: adding, changing and removing a sidecar shows within 1 s', async (t) => {
  const f = await fixture(t)
  const { app } = await buildTestApp(t, { root: f.root, watch: true })
  const yankOf = async (filename: string): Promise<unknown> => {
    const doc = (await app.inject({ url: '/simple/holygrail/', headers: { accept: JSON_TYPE } })).json<{
      files: { filename: string; yanked: unknown }[]
    }>()
    return doc.files.find((file) => file.filename === filename)?.yanked
  }
  // Live means within a second: watch events arrive a moment after the change.
  const eventually = async (filename: string, expected: unknown, what: string): Promise<void> => {
    const start = Date.now()
    while ((await yankOf(filename)) !== expected) {
      assert.ok(Date.now() - start < 1000, `${what} shows within 1 s`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  assert.equal(await yankOf(f.wheel.filename), false)
  await writeFile(join(f.root, 'HolyGrail', `${f.wheel.filename}.yanked`), 'security issue')
  await eventually(f.wheel.filename, 'security issue', 'a new sidecar')
  await rm(join(f.root, 'HolyGrail', `${f.old.filename}.yanked`))
  await eventually(f.old.filename, false, 'a removed sidecar')
  // Rewritten in place (same folder entries): the watcher sees it.
  await writeFile(join(f.root, 'HolyGrail', `${f.wheel.filename}.yanked`), 'another reason')
  await eventually(f.wheel.filename, 'another reason', 'a changed reason')
})
