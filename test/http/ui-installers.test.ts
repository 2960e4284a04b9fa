// The browse UI changes nothing an installer sees: for the exact request headers of pip, uv,
// poetry, pdm, easy_install and curl, every page, redirect and file of both trees is answered
// with the same status, headers and bytes by an app with the UI and an app without it. Only a
// browser's navigation to `/` is answered differently (a no-store 303 to the UI).
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helpers/build-app.js'
import { buildEgg, buildSdist, buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { ALICE, writePasswords } from '../helpers/users.js'

// Request headers as each client sends them (from their source: pip's LinkCollector and
// PipSession, uv's client, requests' defaults used by poetry 1.3, unearth for pdm, setuptools'
// package_index over urllib).
const CLIENTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'pip 23': {
    accept: 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01',
    'accept-encoding': 'gzip, deflate',
    'cache-control': 'max-age=0',
    'user-agent': 'pip/23.0.1 {"ci":null,"cpu":"x86_64","implementation":{"name":"CPython","version":"3.11.2"}}',
  },
  'pip 19': {
    accept: 'text/html',
    'accept-encoding': 'gzip, deflate',
    'cache-control': 'max-age=0',
    'user-agent': 'pip/19.2.3 {"python":"2.7.18"}',
  },
  uv: {
    accept: 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01',
    'accept-encoding': 'gzip, br',
    'user-agent': 'uv/0.4.30',
  },
  'poetry 1.3': { accept: '*/*', 'accept-encoding': 'gzip, deflate', 'user-agent': 'python-requests/2.28.1' },
  pdm: {
    accept: 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01',
    'accept-encoding': 'gzip, deflate',
    'user-agent': 'pdm/2.2.1',
  },
  easy_install: { 'accept-encoding': 'identity', 'user-agent': 'setuptools/41.2.0 Python-urllib/2.7' },
  curl: { accept: '*/*', 'user-agent': 'curl/7.88.1' },
  'no headers': {},
}

const BROWSER = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
  'upgrade-insecure-requests': '1',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36',
}

const WHEEL = buildWheel({
  name: 'Mixed.Name',
  version: '1.0',
  summary: 'Mixed <b>summary</b>',
  requiresPython: '>=3.8',
})
const SDIST = buildSdist({ name: 'Mixed.Name', version: '1.1' })
const EGG = buildEgg({ name: 'eggonly', version: '0.1' }, { pyVersion: '2.7' })

interface Snapshot {
  readonly status: number
  readonly headers: Record<string, unknown>
  readonly body: string
}

async function snapshot(
  app: FastifyInstance,
  method: 'GET' | 'HEAD',
  url: string,
  headers: Readonly<Record<string, string>>,
): Promise<Snapshot> {
  const res = await app.inject({ method, url, headers })
  const copy: Record<string, unknown> = { ...res.headers }
  delete copy.date
  return { status: res.statusCode, headers: copy, body: res.rawPayload.toString('base64') }
}

await test('installers get the same bytes from an app with the UI and one without it', async (t) => {
  const root = await tempDir(t)
  await writeDist(join(root, 'Mixed.Name'), WHEEL)
  await writeDist(join(root, 'Mixed.Name'), SDIST)
  await writeDist(join(root, 'eggonly'), EGG)
  await writeTree(root, { [`Mixed.Name/${SDIST.filename}.yanked`]: 'broken\n' })
  const withUi = (await buildTestApp(t, { root })).app
  const withoutUi = (await buildTestApp(t, { root, ui: false })).app
  const urls: readonly (readonly ['GET' | 'HEAD', string])[] = [
    ['GET', '/'],
    ['HEAD', '/'],
    ['GET', '/?format=text/html'],
    ['GET', '/Mixed.Name/'],
    ['GET', '/mixed-name/'],
    ['GET', '/Mixed.Name'],
    ['GET', '/eggonly/'],
    ['GET', '/simple/'],
    ['GET', '/simple'],
    ['GET', '/simple/mixed-name/'],
    ['GET', '/simple/Mixed.Name/'],
    ['GET', '/simple/eggonly/'],
    ['GET', `/Mixed.Name/${WHEEL.filename}`],
    ['GET', `/packages/Mixed.Name/${WHEEL.filename}`],
    ['GET', `/packages/Mixed.Name/${WHEEL.filename}.metadata`],
    ['GET', `/eggonly/${EGG.filename}`],
    ['GET', '/pypi/mixed-name/json'],
    ['GET', '/no-such-project/'],
    ['GET', '/simple/no-such-project/'],
  ]
  let compared = 0
  for (const [client, headers] of Object.entries(CLIENTS)) {
    for (const [method, url] of urls) {
      const expected = await snapshot(withoutUi, method, url, headers)
      const actual = await snapshot(withUi, method, url, headers)
      assert.deepEqual(actual, expected, `${client}: ${method} ${url}`)
      compared++
    }
  }
  assert.equal(compared, Object.keys(CLIENTS).length * urls.length)
  // The pages really were pages (the comparison was not between two errors).
  const root200 = await withUi.inject({ url: '/', headers: { 'user-agent': 'setuptools/41.2.0 Python-urllib/2.7' } })
  assert.equal(root200.statusCode, 200)
  assert.match(root200.body, /<a href="Mixed\.Name\/">Mixed\.Name<\/a>/)
  assert.doesNotMatch(root200.body, /-\//, 'no link to the UI in the original root page')
})

await test('a browser opening / is sent to the UI; without the UI it gets the original page', async (t) => {
  const root = await tempDir(t)
  await writeDist(join(root, 'Mixed.Name'), WHEEL)
  const withUi = (await buildTestApp(t, { root })).app
  const withoutUi = (await buildTestApp(t, { root, ui: false })).app
  const redirected = await withUi.inject({ url: '/', headers: BROWSER })
  assert.equal(redirected.statusCode, 303)
  assert.equal(redirected.headers.location, '-/')
  assert.equal(redirected.headers['cache-control'], 'no-store')
  // Over https, browsers also send Fetch Metadata; the same answer.
  const secure = await withUi.inject({
    url: '/',
    headers: {
      ...BROWSER,
      'upgrade-insecure-requests': '',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
    },
  })
  assert.equal(secure.statusCode, 303)
  const original = await withoutUi.inject({ url: '/', headers: BROWSER })
  assert.equal(original.statusCode, 200)
  assert.match(original.body, /^<!DOCTYPE html>/)
  // The escape hatch: a query string shows the original page to a browser too.
  const explicit = await withUi.inject({ url: '/?format=text/html', headers: BROWSER })
  assert.equal(explicit.statusCode, 200)
  assert.equal(explicit.body, original.body)
  // Only / is redirected: a browser opening a project folder or /simple/ sees the link list.
  for (const url of ['/Mixed.Name/', '/simple/']) {
    const page = await withUi.inject({ url, headers: BROWSER })
    assert.equal(page.statusCode, 200, url)
    assert.equal(page.body, (await withoutUi.inject({ url, headers: BROWSER })).body, url)
  }
  // The UI itself answers where the redirect points.
  assert.equal((await withUi.inject({ url: '/-/', headers: BROWSER })).statusCode, 200)
  assert.equal((await withoutUi.inject({ url: '/-/', headers: BROWSER })).statusCode, 404)
})

await test('the redirect of / comes before access control, and only / has it', async (t) => {
  const root = await tempDir(t)
  await writeDist(join(root, 'Mixed.Name'), WHEEL)
  const passwords = await writePasswords(await tempDir(t, 'eggserve-users-'), [ALICE])
  const { app } = await buildTestApp(t, { root, passwords, authenticate: ['list'] })
  const home = await app.inject({ url: '/', headers: BROWSER })
  assert.equal(home.statusCode, 303)
  assert.equal(home.headers.location, '-/')
  // Installers, and every other page, meet the credentials check as before.
  assert.equal((await app.inject({ url: '/' })).statusCode, 401)
  assert.equal((await app.inject({ url: '/simple/', headers: BROWSER })).statusCode, 401)
  assert.equal((await app.inject({ method: 'HEAD', url: '/', headers: BROWSER })).statusCode, 401)
})
