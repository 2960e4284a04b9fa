// The upstream cache's commands and policies through the real daemon and CLI: `cache purge`
// beside a running server (it asks the upstream again), `cache warm -r` then an --offline
// server that real pip installs from, the size cap (least recently used files go, pages stay,
// the order survives a restart), and --upstream-hash-change pin vs follow when the upstream's
// file really changes. Real upstream eggserve behind the counting fault proxy.
import assert from 'node:assert/strict'
import { readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, writeDist, type BuiltDist } from '../helpers/distributions.js'
import { createVenv, installHashed, output } from '../helpers/python.js'
import { httpGet, openRequest, pollUntil, runCli } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { noise } from '../helpers/test-bytes.js'
import { startUpstreamFaultProxy } from '../helpers/upstream-fault-proxy.js'
import { filesUnder, sha256Hex, startUpstreamEggserve, startWithUpstreams } from '../helpers/upstream-index.js'

const KIB = 1024

await test('cache purge beside a running server: pages, files and 404s are asked for again', async (t) => {
  const wheel = buildWheel({ name: 'Purge.Me', version: '1.0' })
  const { server: upstream } = await startUpstreamEggserve(t, { 'purge-me': [wheel] })
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const root = await tempDir(t, 'eggserve-purge-')
  const cacheDir = join(root, 'cache')
  // The default TTL (600 s): without the purge, nothing here would be asked again.
  const server = await startWithUpstreams(t, { eggdir: join(root, 'eggs'), cacheDir, upstreams: [proxy.url] })
  const fileUrl = `${server.url}/files/upstream/purge-me/${wheel.filename}`
  const filePath = `/packages/purge-me/${wheel.filename}`

  assert.equal((await httpGet(`${server.url}/simple/purge-me/`)).status, 200)
  assert.deepEqual((await httpGet(fileUrl)).body, wheel.bytes)
  assert.equal((await httpGet(`${server.url}/simple/never-published/`)).status, 404)
  for (let round = 0; round < 2; round++) {
    assert.equal((await httpGet(`${server.url}/simple/purge-me/`)).status, 200)
    assert.equal((await httpGet(fileUrl)).status, 200)
    assert.equal((await httpGet(`${server.url}/simple/never-published/`)).status, 404)
  }
  assert.equal(proxy.count('/simple/purge-me/'), 1)
  assert.equal(proxy.count(filePath), 1)
  assert.equal(proxy.count('/simple/never-published/'), 1, 'the 404 is remembered')

  const purged = await runCli(['cache', 'purge', '--cache-dir', cacheDir, 'PURGE_me', 'never.published', 'other'])
  assert.equal(purged.code, 0, purged.stderr)
  assert.match(purged.stdout, /^purge-me: removed 1 page and 1 file \([^)]+\)$/m)
  assert.match(purged.stdout, /^never-published: nothing cached$/m)
  assert.match(purged.stdout, /^other: nothing cached$/m)
  assert.match(purged.stdout, /^Freed [^ ]+ [^ ]+ in /m)
  assert.deepEqual(await filesUnder(join(cacheDir, 'upstream', 'files', 'purge-me')), [])

  // The running server held the page, the pin and the 404 in memory: it asks again.
  assert.equal((await httpGet(`${server.url}/simple/purge-me/`)).status, 200)
  assert.equal(proxy.count('/simple/purge-me/'), 2)
  assert.deepEqual((await httpGet(fileUrl)).body, wheel.bytes)
  assert.equal(proxy.count(filePath), 2)
  assert.equal((await httpGet(`${server.url}/simple/never-published/`)).status, 404)
  assert.equal(proxy.count('/simple/never-published/'), 2)
  assert.deepEqual(await filesUnder(join(cacheDir, 'upstream', 'files', 'purge-me')), [
    wheel.filename,
    `${wheel.filename}.sha256`,
  ])

  // A file removed by hand (its digest left behind): the server notices and fetches it again.
  await rm(join(cacheDir, 'upstream', 'files', 'purge-me', wheel.filename))
  assert.deepEqual((await httpGet(fileUrl)).body, wheel.bytes)
  assert.equal(proxy.count(filePath), 3)
  assert.equal(server.lines.filter((line) => line.level === 50).length, 0, 'no error was logged')

  const bad = await runCli(['cache', 'purge', '--cache-dir', cacheDir, 'not a name'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /Invalid project name "not a name"/)
})

await test('cache warm -r, then an --offline server: real pip installs from the warmed cache', async (t) => {
  const venv = await createVenv(t)
  if (venv === undefined) return
  const one = buildWheel({ name: 'warm-one', version: '1.0' })
  const oneNewer = buildWheel({ name: 'warm-one', version: '2.0' })
  const two = buildWheel({ name: 'warm_two', version: '1.5' })
  const twoOlder = buildWheel({ name: 'warm_two', version: '1.0' })
  const twoPre = buildWheel({ name: 'warm_two', version: '2.0rc1' })
  const twoNext = buildWheel({ name: 'warm_two', version: '2.0' })
  const { server: upstream } = await startUpstreamEggserve(t, {
    'warm-one': [one, oneNewer],
    'warm-two': [twoOlder, two, twoPre, twoNext],
    'acme-secret': [buildWheel({ name: 'acme-secret', version: '9.0' })],
  })
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const root = await tempDir(t, 'eggserve-warm-')
  const cacheDir = join(root, 'cache')
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'localpkg'), buildWheel({ name: 'localpkg', version: '1.0' }))
  const requirements = join(root, 'requirements.txt')
  await writeFile(join(root, 'base.txt'), 'warm-two>=1,<2  # the highest 1.x: 1.5\n')
  await writeFile(
    requirements,
    [
      '# pinned, with hashes (pip-compile --generate-hashes)',
      'warm-one==1.0 \\',
      `    --hash=sha256:${sha256Hex(one.bytes)}`,
      '-r base.txt',
      'localpkg',
      'acme-secret ; python_version >= "3"',
      '--index-url https://pypi.org/simple/',
      '',
    ].join('\n'),
  )
  const flags = [
    '--eggdir',
    eggdir,
    '--cache-dir',
    cacheDir,
    '--hash-workers',
    '0',
    '--upstream',
    `${proxy.url}/simple/`,
  ]
  const warmed = await runCli(['cache', 'warm', '-r', requirements, ...flags, '--never-upstream', 'acme-*'])
  assert.equal(warmed.code, 0, `${warmed.stdout}\n${warmed.stderr}`)
  assert.match(warmed.stdout, /^Warmed 4 requirements: 4 files fetched \([^)]+\), 0 were already cached/m)
  assert.match(warmed.stderr, /skipped localpkg: a local project/)
  assert.match(warmed.stderr, /skipped acme-secret: matches --never-upstream/)
  assert.match(warmed.stderr, /requirements\.txt:7: skipped "--index-url https:\/\/pypi.org\/simple\/"/)
  assert.match(warmed.stderr, /\[4\/4\] warm_two-1\.5-py3-none-any\.whl\.metadata: fetched/)
  // Each wheel with its PEP 658 metadata (pip asks for it first), and nothing else.
  assert.deepEqual((await filesUnder(join(cacheDir, 'upstream', 'files', 'warm-one'))).filter(isData), [
    one.filename,
    `${one.filename}.metadata`,
  ])
  assert.deepEqual((await filesUnder(join(cacheDir, 'upstream', 'files', 'warm-two'))).filter(isData), [
    two.filename,
    `${two.filename}.metadata`,
  ])
  assert.equal(proxy.countMatching('acme-secret'), 0)
  assert.equal(proxy.countMatching('localpkg'), 0)

  // Again: everything is cached already, no file is asked for.
  const files = proxy.count('/packages/*')
  const again = await runCli(['cache', 'warm', '-r', requirements, ...flags, '--never-upstream', 'acme-*'])
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stdout, /0 files fetched \(0 bytes\), 4 were already cached/)
  assert.equal(proxy.count('/packages/*'), files)

  const before = proxy.count()
  const offline = await startWithUpstreams(t, { eggdir, cacheDir, upstreams: [proxy.url], args: ['--offline'] })
  const locked = join(root, 'locked.txt')
  await writeFile(
    locked,
    `warm-one==1.0 --hash=sha256:${sha256Hex(one.bytes)}\nwarm-two==1.5 --hash=sha256:${sha256Hex(two.bytes)}\n`,
  )
  const installed = await installHashed(venv, {
    index: `${offline.url}/simple/`,
    requirements: locked,
    target: join(root, 'target'),
    timeoutS: 60,
  })
  assert.equal(installed.code, 0, output(installed))
  assert.ok((await readdir(join(root, 'target'))).includes('warm_two'))
  assert.equal(proxy.count(), before, 'offline: the upstream saw nothing')

  // A requirement nothing satisfies, and a project no upstream has: exit 1 with a summary.
  const failing = join(root, 'failing.txt')
  await writeFile(failing, 'warm-one>=3\nno-such-project==1.0\nwarm-two==1.5\n')
  const failed = await runCli(['cache', 'warm', '-r', failing, ...flags])
  assert.equal(failed.code, 1, failed.stdout)
  assert.match(failed.stdout, /^2 failures:$/m)
  assert.match(failed.stdout, /failing\.txt:1: warm-one: no version on the upstream satisfies ">=3"/)
  assert.match(failed.stdout, /failing\.txt:2: no-such-project: no upstream has this project/)
})

function isData(name: string): boolean {
  return !name.endsWith('.sha256')
}

await test('--upstream-cache-max: least recently used files go, pages stay, the order survives a restart', async (t) => {
  const dist = (name: string, seed: number): BuiltDist => ({
    filename: `${name}-1.0.tar.gz`,
    bytes: noise(400 * KIB, seed),
  })
  const [a, b, c] = [dist('cap-a', 1), dist('cap-b', 2), dist('cap-c', 3)]
  const { server: upstream } = await startUpstreamEggserve(t, { 'cap-a': [a], 'cap-b': [b], 'cap-c': [c] })
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const root = await tempDir(t, 'eggserve-cap-')
  const cacheDir = join(root, 'cache')
  const eggdir = join(root, 'eggs')
  // Two files of 400 KiB fit in 1 MiB, three do not.
  let server = await startWithUpstreams(t, {
    eggdir,
    cacheDir,
    upstreams: [proxy.url],
    args: ['--upstream-cache-max', '1M'],
  })
  const get = async (file: BuiltDist): Promise<void> => {
    const project = file.filename.slice(0, 5)
    assert.equal((await httpGet(`${server.url}/simple/${project}/`)).status, 200)
    assert.deepEqual((await httpGet(`${server.url}/files/upstream/${project}/${file.filename}`)).body, file.bytes)
  }
  const cached = async (file: BuiltDist): Promise<boolean> =>
    (await filesUnder(join(cacheDir, 'upstream', 'files', file.filename.slice(0, 5)))).includes(file.filename)
  const upstreamGets = (file: BuiltDist): number =>
    proxy.count(`/packages/${file.filename.slice(0, 5)}/${file.filename}`)

  await get(a)
  await get(b)
  // a is used again: b is now the least recently used.
  await get(a)
  assert.equal(upstreamGets(a), 1)
  await get(c)
  await server.waitForLine((line) => line.msg === 'Evicted an upstream file (--upstream-cache-max)', 10_000)
  assert.ok(await pollUntil(async () => !(await cached(b)), 10_000), 'b was evicted')
  assert.deepEqual(await filesUnder(join(cacheDir, 'upstream', 'files', 'cap-b')), [], 'with its pinned digest')
  assert.ok((await cached(a)) && (await cached(c)))
  // Pages are never evicted.
  const pages = await readdir(join(cacheDir, 'upstream', 'pages'))
  const pageFiles = (await Promise.all(pages.map((dir) => filesUnder(join(cacheDir, 'upstream', 'pages', dir))))).flat()
  // (Beside them, projects.list: the UI's list of the cached pages.)
  assert.deepEqual(pageFiles.filter((name) => name !== 'projects.list').sort(), [
    'cap-a.json',
    'cap-b.json',
    'cap-c.json',
  ])
  // b again: fetched again, and now a (used before c) is the least recently used.
  await get(b)
  assert.equal(upstreamGets(b), 2)
  assert.ok(await pollUntil(async () => !(await cached(a)), 10_000), 'a was evicted')
  assert.ok((await cached(b)) && (await cached(c)))

  // After a restart with a smaller cap, the start-up count evicts the older of c and b: c.
  await server.stop()
  server = await startWithUpstreams(t, {
    eggdir,
    cacheDir,
    upstreams: [proxy.url],
    args: ['--upstream-cache-max', '500K'],
  })
  await server.waitForLine(
    (line) => line.msg === 'Counted the cached upstream files against --upstream-cache-max',
    10_000,
  )
  assert.ok(await pollUntil(async () => !(await cached(c)), 10_000), 'c was evicted at start-up')
  assert.ok(await cached(b))
  const gets = upstreamGets(b)
  await get(b)
  assert.equal(upstreamGets(b), gets, 'b is still served from the cache')
})

await test('--upstream-cache-max: a file being sent is skipped, the next least recently used goes instead', async (t) => {
  // Larger than the socket buffers, so a client that does not read keeps the response open.
  const big: BuiltDist = { filename: 'stream-big-1.0.tar.gz', bytes: noise(8 * 1024 * KIB, 4) }
  const [b, c] = [1, 2].map((seed): BuiltDist => ({
    filename: `stream-small-${String(seed)}.0.tar.gz`,
    bytes: noise(400 * KIB, seed),
  }))
  assert.ok(b !== undefined && c !== undefined)
  const { server: upstream } = await startUpstreamEggserve(t, { 'stream-big': [big], 'stream-small': [b, c] })
  const root = await tempDir(t, 'eggserve-cap-stream-')
  const cacheDir = join(root, 'cache')
  const server = await startWithUpstreams(t, {
    eggdir: join(root, 'eggs'),
    cacheDir,
    upstreams: [upstream.url],
    args: ['--upstream-cache-max', '8.5M'],
  })
  const url = (file: BuiltDist): string =>
    `${server.url}/files/upstream/${file === big ? 'stream-big' : 'stream-small'}/${file.filename}`
  const onDisk = async (file: BuiltDist): Promise<boolean> =>
    (await filesUnder(join(cacheDir, 'upstream', 'files', file === big ? 'stream-big' : 'stream-small'))).includes(
      file.filename,
    )
  for (const project of ['stream-big', 'stream-small'])
    assert.equal((await httpGet(`${server.url}/simple/${project}/`)).status, 200)
  assert.deepEqual((await httpGet(url(big))).body, big.bytes)
  // A client starts receiving the big file and stops reading: the response stays open.
  const paused = await openRequest(url(big))
  paused.pause()
  // b is used after it, so the big file is the least recently used when c arrives...
  assert.deepEqual((await httpGet(url(b))).body, b.bytes)
  assert.deepEqual((await httpGet(url(c))).body, c.bytes)
  await server.waitForLine((line) => line.msg === 'Evicted an upstream file (--upstream-cache-max)', 10_000)
  // ...but it is being sent: b goes instead.
  assert.ok(await pollUntil(async () => !(await onDisk(b)), 10_000), 'b was evicted')
  assert.ok(await onDisk(big), 'the file being sent stays')
  const chunks: Buffer[] = []
  paused.resume()
  for await (const chunk of paused) chunks.push(chunk as Buffer)
  assert.deepEqual(Buffer.concat(chunks), big.bytes)
  assert.ok((await onDisk(big)) && (await onDisk(c)), 'big + c fit under the cap')
})

await test('--upstream-hash-change: pin keeps the cached bytes, follow fetches the new ones', async (t) => {
  const first = buildWheel({ name: 'changing', version: '1.0', moduleSource: 'VALUE = 1\n' })
  const second = buildWheel({ name: 'changing', version: '1.0', moduleSource: 'VALUE = 2\n' })
  assert.equal(first.filename, second.filename)
  const { server: upstream, eggdir: upstreamEggdir } = await startUpstreamEggserve(t, { changing: [first] })
  const proxy = await startUpstreamFaultProxy(t, upstream.url)
  const root = await tempDir(t, 'eggserve-hash-change-')
  const start = (name: string, args: readonly string[]) =>
    startWithUpstreams(t, {
      eggdir: join(root, name, 'eggs'),
      cacheDir: join(root, name, 'cache'),
      upstreams: [proxy.url],
      args: ['--upstream-ttl', '0', ...args],
    })
  const pinning = await start('pin', [])
  const following = await start('follow', ['--upstream-hash-change', 'follow'])
  const fileOf = (server: { url: string }): Promise<Buffer> =>
    httpGet(`${server.url}/files/upstream/changing/${first.filename}`).then((response) => response.body)
  assert.deepEqual(await fileOf(pinning), first.bytes)
  assert.deepEqual(await fileOf(following), first.bytes)
  assert.equal(proxy.count(`/packages/changing/${first.filename}`), 2)

  // The upstream's file really changes (same name, other bytes): its page shows the new sha256.
  await writeDist(join(upstreamEggdir, 'changing'), second)
  const changed = await pollUntil(
    async () => (await httpGet(`${upstream.url}/simple/changing/`)).body.toString().includes(sha256Hex(second.bytes)),
    20_000,
    100,
  )
  assert.ok(changed !== undefined, 'the upstream noticed its new file')

  const pinnedPage = (await httpGet(`${pinning.url}/simple/changing/`)).body.toString()
  assert.ok(pinnedPage.includes(`#sha256=${sha256Hex(first.bytes)}`), pinnedPage)
  assert.deepEqual(await fileOf(pinning), first.bytes)
  await pinning.waitForLine(
    (line) =>
      typeof line.msg === 'string' &&
      line.msg.includes('serving the pinned bytes') &&
      line.listed === sha256Hex(second.bytes),
    10_000,
  )

  assert.deepEqual(await fileOf(following), second.bytes)
  assert.equal(proxy.count(`/packages/changing/${first.filename}`), 3, 'only the follower fetched again')
  const followedPage = (await httpGet(`${following.url}/simple/changing/`)).body.toString()
  assert.ok(followedPage.includes(`#sha256=${sha256Hex(second.bytes)}`), followedPage)
  await following.waitForLine(
    (line) =>
      typeof line.msg === 'string' && line.msg.includes('following it') && line.pinned === sha256Hex(first.bytes),
    10_000,
  )
  // The new bytes are pinned now: served from the cache.
  assert.deepEqual(await fileOf(following), second.bytes)
  assert.equal(proxy.count(`/packages/changing/${first.filename}`), 3)
})
