// The daemon's persistent cache and readiness, and the `check` and `warm` commands, as shipped.
import assert from 'node:assert/strict'
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { binPath, childEnv, httpGet, pollUntil, runCli, runProcess, startServer } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'

async function tree(root: string, projects: number, files: number, size = 64 * 1024): Promise<void> {
  const content: Record<string, Buffer> = {}
  for (let p = 0; p < projects; p++) {
    for (let f = 0; f < files; f++)
      content[`proj${p}/proj${p}-1.${f}.tar.gz`] = Buffer.concat([Buffer.alloc(size, p), Buffer.from(`${p}.${f}`)])
  }
  await writeTree(root, content)
}

await test('cold start: /health at once, /health/ready 503 then 200, progress logged; a warm restart hashes nothing', async (t) => {
  const root = await tempDir(t)
  const eggdir = join(root, 'eggs')
  const cacheDir = join(root, 'cache')
  await tree(eggdir, 20, 20, 256 * 1024)
  const cold = await startServer(t, { eggdir, args: ['--cache-dir', cacheDir, '--hash-workers', '1'] })
  assert.equal((await httpGet(`${cold.url}/health`)).status, 200)
  const early = await httpGet(`${cold.url}/health/ready`)
  t.diagnostic(`/health/ready right after start: ${early.status} ${early.body.toString()}`)
  const waited = await pollUntil(async () => (await httpGet(`${cold.url}/health/ready`)).status === 200, 30_000)
  assert.ok(waited !== undefined, 'ready within 30 s')
  const started = await cold.waitForLine(
    (line) => typeof line.msg === 'string' && line.msg.startsWith('Hashing 400 files'),
  )
  assert.equal(started.files, 400)
  await cold.waitForLine((line) => typeof line.msg === 'string' && line.msg.startsWith('Hashed 400 files'))
  assert.equal(await cold.stop(), 0)
  assert.ok(
    (await readdir(cacheDir)).some((name) => name.startsWith('facts-')),
    'the cache file is there',
  )

  const warm = await startServer(t, { eggdir, args: ['--cache-dir', cacheDir, '--hash-workers', '1'] })
  const serving = await warm.waitForLine((line) => line.msg === 'Serving')
  assert.equal(serving.cached, 400)
  assert.equal((await httpGet(`${warm.url}/health/ready`)).status, 200, 'ready at once')
  const page = await httpGet(`${warm.url}/simple/proj3/`)
  assert.equal(page.status, 200)
  assert.equal(
    warm.lines.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('Hashing')).length,
    0,
    'nothing re-hashed',
  )
  assert.equal(await warm.stop(), 0)
})

await test('a page someone asks for is served before the background pass is over', async (t) => {
  const root = await tempDir(t)
  const eggdir = join(root, 'eggs')
  await tree(eggdir, 10, 30, 1024 * 1024)
  await writeDist(join(eggdir, 'wanted'), buildWheel({ name: 'wanted', version: '1.0' }))
  const server = await startServer(t, { eggdir, args: ['--cache-dir', join(root, 'cache'), '--hash-workers', '1'] })
  const page = await httpGet(`${server.url}/simple/wanted/`)
  assert.equal(page.status, 200)
  assert.match(page.body.toString(), /wanted-1\.0-py3-none-any\.whl#sha256=/)
  const ready = await httpGet(`${server.url}/health/ready`)
  t.diagnostic(`readiness when the page came back: ${ready.body.toString()}`)
  assert.equal(ready.status, 503, 'the 300 MB background pass was still running')
  assert.equal(await server.stop(), 0)
})

await test('eggserve check prints every problem and exits 1, or a summary and 0', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'good/good-1.0.tar.gz': 'x', 'good/other-1.0.tar.gz': 'y', 'stray-1.0.tar.gz': 'z' })
  const bad = await runCli(['check', '--eggdir', root])
  assert.equal(bad.code, 1)
  assert.match(bad.stdout, /^good\/other-1\.0\.tar\.gz: belongs to project "other", not "good"$/m)
  assert.match(bad.stdout, /^stray-1\.0\.tar\.gz: distribution outside a project folder$/m)
  assert.match(bad.stderr, /has 2 problems/)
  assert.ok(!bad.stdout.includes(root) && !bad.stderr.includes(`${root}/`), 'paths are relative to the eggdir')
  const goodRoot = await tempDir(t)
  await writeTree(goodRoot, { 'good/good-1.0.tar.gz': 'x' })
  const good = await runCli(['check', '--eggdir', goodRoot])
  assert.equal(good.code, 0, good.stderr)
  assert.equal(good.stdout, `"${goodRoot}": 1 project, 1 distribution, no problems\n`)
  assert.equal(good.stderr, '')
  assert.equal((await runCli(['check', '--eggdir', join(goodRoot, 'missing')])).code, 1)
  assert.equal((await runCli(['check', '--port', '1'])).code, 2, 'check takes only its own flags')
})

await test('eggserve warm fills the cache with plain progress lines; the daemon then starts ready', async (t) => {
  const root = await tempDir(t)
  const eggdir = join(root, 'eggs')
  const cacheDir = join(root, 'cache')
  await tree(eggdir, 5, 10)
  const warm = await runCli(['warm', '--eggdir', eggdir, '--cache-dir', cacheDir, '--hash-workers', '2'])
  assert.equal(warm.code, 0, warm.stderr)
  assert.match(warm.stdout, /Hashed 50 files .*; 0 were already cached/)
  assert.match(
    warm.stderr,
    /50\/50 files, 3\.1 MiB of 3\.1 MiB, [\d.]+ (bytes|KiB|MiB|GiB)\/s, ETA 0s/,
    'not a TTY: plain progress lines',
  )
  assert.ok(!warm.stderr.includes('\r'))
  // The fixture's .tar.gz files are not gzip: each gets a warning, as a plain line among the others.
  const lines = warm.stderr.split('\n').filter((text) => text !== '')
  assert.ok(
    lines.some((text) => text.startsWith('eggserve: warning: No core metadata for "proj0/proj0-1.0.tar.gz": ')),
    warm.stderr,
  )
  for (const text of lines)
    assert.match(text, /^(eggserve: warning: |\d+\/\d+ files?, )/, 'plain text only, no JSON log records')
  const again = await runCli(['warm', '--eggdir', eggdir, '--cache-dir', cacheDir])
  assert.match(again.stdout, /Hashed 0 files .*; 50 were already cached/)
  await writeFile(join(eggdir, 'proj0', 'proj0-9.9.tar.gz'), 'new')
  const server = await startServer(t, { eggdir, args: ['--cache-dir', cacheDir] })
  const serving = await server.waitForLine((line) => line.msg === 'Serving')
  assert.equal(serving.cached, 50)
  assert.ok(
    (await pollUntil(async () => (await httpGet(`${server.url}/health/ready`)).status === 200, 10_000)) !== undefined,
  )
  assert.equal(await server.stop(), 0)
  assert.equal((await runCli(['warm', '--eggdir', eggdir, '--cache-dir', 'none'])).code, 2, 'warm needs a cache')
  const unusable = await runCli(['warm', '--eggdir', eggdir, '--cache-dir', '/proc/eggserve-cache'])
  assert.equal(unusable.code, 1, JSON.stringify(unusable))
  assert.ok(
    unusable.stderr.endsWith(
      'eggserve: Cannot use the cache directory "/proc/eggserve-cache": no such file or directory\n',
    ),
    unusable.stderr,
  )
  assert.equal(unusable.stdout, '')
})

await test('eggserve warm --log FILE: log records go to FILE as the server writes them, none to stdout or stderr', async (t) => {
  const root = await tempDir(t)
  const eggdir = join(root, 'eggs')
  await tree(eggdir, 1, 2)
  const logFile = join(root, 'warm.log')
  const warm = await runCli(['warm', '--eggdir', eggdir, '--cache-dir', join(root, 'cache'), '--log', logFile])
  assert.equal(warm.code, 0, warm.stderr)
  // Two files of 64 KiB and 3 bytes: 131,078 bytes, 128.0 KiB, printed rounded.
  assert.equal(warm.stdout, `Hashed 2 files (128 KiB); 0 were already cached; cache: ${join(root, 'cache')}\n`)
  assert.doesNotMatch(warm.stderr, /warning|\{/)
  const records = (await readFile(logFile, 'utf8'))
    .split('\n')
    .filter((text) => text !== '')
    .map((text) => JSON.parse(text) as Record<string, unknown>)
  const warnings = records.filter((record) => record.level === 40)
  assert.equal(warnings.length, 2, JSON.stringify(records))
  for (const record of records) {
    // The server's record format: pid, no hostname.
    assert.deepEqual(Object.keys(record).slice(0, 3), ['level', 'time', 'pid'], JSON.stringify(record))
    assert.ok(!('hostname' in record), JSON.stringify(record))
  }
})

await test('a folder without distributions: check says so, the server warns naming it', async (t) => {
  const root = await tempDir(t)
  await writeTree(root, { 'src/index.ts': 'x', 'docs/README': 'y' })
  const check = await runCli(['check', root])
  assert.equal(check.code, 0, check.stderr)
  assert.equal(check.stdout, `"${root}": 2 projects, 0 distributions, no problems\n`)
  assert.equal(
    check.stderr,
    `eggserve: warning: No distributions in "${root}" (2 folders, none holding a distribution file): is it the folder you meant?\n`,
  )
  const server = await startServer(t, { eggdir: root, args: ['--cache-dir', 'none'] })
  const warning = server.lines.find((line) => line.level === 40)
  assert.equal(warning?.eggdir, root, JSON.stringify(server.lines))
  assert.match(String(warning.msg), /^No distributions in ".+" \(2 folders, none holding a distribution file\)/)
  assert.equal(await server.stop(), 0)
  const bare = await tempDir(t)
  assert.match((await runCli(['check', bare])).stderr, /No distributions in ".+" \(no project folder\)/)
})

await test('eggserve warm draws a progress bar on a terminal', async (t) => {
  const script = needTool(t, 'script')
  if (script === undefined) return
  const root = await tempDir(t)
  const eggdir = join(root, 'eggs')
  await tree(eggdir, 2, 3)
  // script(1) gives the command a pseudo-terminal, so stderr is a TTY.
  const command = [process.execPath, binPath, 'warm', '--eggdir', eggdir, '--cache-dir', join(root, 'cache')]
    .map((arg) => `'${arg}'`)
    .join(' ')
  const result = await runProcess(script, ['-qec', command, '/dev/null'], { env: childEnv() })
  assert.equal(result.code, 0, result.stdout + result.stderr)
  assert.match(result.stdout, /\r\[#{30}\] 100% 6\/6 files/, 'a redrawn bar, full at the end')
  assert.match(result.stdout, /Hashed 6 files/)
})

await test('a cache directory that cannot be used is logged and skipped: under /proc, and read-only', async (t) => {
  const root = await tempDir(t)
  const eggdir = join(root, 'eggs')
  await writeDist(join(eggdir, 'wanted'), buildWheel({ name: 'wanted', version: '1.0' }))
  const readOnly = join(root, 'read-only')
  await mkdir(readOnly, { mode: 0o555 })
  let wrapper: string[] | undefined
  if (process.getuid?.() === 0) {
    // root writes anywhere: the daemon runs as nobody, who may read the tree but not write there.
    const setpriv = needTool(t, 'setpriv')
    if (setpriv === undefined) return
    await chmod(root, 0o755)
    wrapper = [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups']
  }
  const cases = [
    // procfs answers ENOENT to mkdir: Node's recursive mkdir retried that for ever, silently.
    { cacheDir: '/proc/eggserve-cache', reason: 'no such file or directory' },
    { cacheDir: join(readOnly, 'cache'), reason: 'permission denied' },
    { cacheDir: readOnly, reason: 'permission denied' },
  ]
  for (const { cacheDir, reason } of cases) {
    const server = await startServer(t, {
      eggdir,
      args: ['--cache-dir', cacheDir],
      ...(wrapper === undefined ? {} : { wrapper }),
    })
    const warning = await server.waitForLine((line) => line.level === 40)
    assert.equal(warning.msg, `Cannot use the cache directory "${cacheDir}": ${reason}; facts are kept in memory only`)
    assert.equal(warning.cacheDir, cacheDir)
    assert.equal(
      (await server.waitForLine((line) => line.msg === 'Serving')).cacheDir,
      null,
      'the Serving line says no cache is used',
    )
    const page = await httpGet(`${server.url}/simple/wanted/`)
    assert.equal(page.status, 200)
    assert.match(page.body.toString(), /wanted-1\.0-py3-none-any\.whl#/)
    assert.equal(await server.stop(), 0, server.stderr)
  }
  assert.deepEqual(await readdir(readOnly), [], 'nothing was written into the read-only folder')
})
