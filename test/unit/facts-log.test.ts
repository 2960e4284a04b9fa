// The persistent cache: round trips, torn and corrupt records, foreign files, pruning, and
// several processes sharing one cache directory.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { open, readFile, stat, symlink, truncate, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { FactsLog } from '../../src/file-facts/facts-log.js'
import { encode, header, LogParser, parseLog } from '../../src/file-facts/facts-record.js'
import type { FileFacts } from '../../src/core/index-model.js'
import type { StoredFileFacts } from '../../src/file-facts/packed-facts.js'
import { errnoCode } from '../../src/errors.js'
import { makeDirectory } from '../../src/storage/make-directory.js'
import { memoryLogger } from '../helpers/build-app.js'
import { runProcess } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

const silent = pino({ level: 'silent' })
const facts = (n: number): FileFacts => ({
  digests: { md5: n.toString(16).padStart(32, '0'), sha256: n.toString(16).padStart(64, '0') },
  metadata: n % 2 === 0 ? { sha256: 'c'.repeat(64), requiresPython: '>=3.8,<4' } : { sha256: 'd'.repeat(64) },
})

async function openLog(dir: string, logs?: Record<string, unknown>[]): Promise<FactsLog> {
  return FactsLog.open({
    dir,
    namespace: '/srv/eggs',
    algorithms: ['md5', 'sha256'],
    log: logs === undefined ? silent : memoryLogger(logs),
    flushDelayMs: 1,
  })
}

await test('facts survive a restart, record by record', async (t) => {
  const dir = await tempDir(t)
  const first = await openLog(dir)
  for (let i = 0; i < 10; i++) first.set(`id:${i}`, facts(i))
  await first.close()
  const again = await openLog(dir)
  assert.equal(again.size, 10)
  for (let i = 0; i < 10; i++) assert.deepEqual(again.get(`id:${i}`), facts(i))
  assert.equal(again.stats.corrupt, 0)
  const lines = (await readFile(again.path, 'utf8')).split('\n')
  assert.equal(lines[0], 'eggserve-facts 2 /srv/eggs')
  assert.match(lines[1] ?? '', /^[0-9a-f]{8}\tid:0\tmd5=/, 'every record carries its checksum')
  await again.close()
})

await test('a torn last record is detected, logged, skipped, and the file rewritten clean', async (t) => {
  const dir = await tempDir(t)
  const log = await openLog(dir)
  for (let i = 0; i < 5; i++) log.set(`id:${i}`, facts(i))
  await log.close()
  // A crash in the middle of the last write.
  await truncate(log.path, (await stat(log.path)).size - 20)
  const logs: Record<string, unknown>[] = []
  const reopened = await openLog(dir, logs)
  assert.equal(reopened.size, 4)
  assert.equal(reopened.get('id:4'), undefined)
  assert.equal(reopened.stats.corrupt, 1)
  assert.ok(logs.some((record) => String(record.msg).includes('corrupt or torn')))
  const text = await readFile(reopened.path, 'utf8')
  assert.ok(text.endsWith('\n'), 'rewritten without the torn tail')
  reopened.set('id:9', facts(9))
  await reopened.close()
  assert.equal((await openLog(dir)).size, 5, 'new records are not glued to a torn line')
})

await test('a flipped byte fails that record only; it is never trusted', async (t) => {
  const dir = await tempDir(t)
  const log = await openLog(dir)
  for (let i = 0; i < 5; i++) log.set(`id:${i}`, facts(i))
  await log.close()
  const text = await readFile(log.path, 'utf8')
  const lines = text.split('\n')
  // Change a digest of the third record without touching its checksum.
  lines[3] = (lines[3] ?? '').replace(/md5=(.)/, (_m, c: string) => `md5=${c === '0' ? '1' : '0'}`)
  await writeFile(log.path, lines.join('\n'))
  const reopened = await openLog(dir)
  assert.equal(reopened.size, 4)
  assert.equal(reopened.get('id:2'), undefined)
  assert.equal(reopened.stats.corrupt, 1)
  await reopened.close()
})

await test('a file that is not an eggserve cache (or is garbage) is replaced, never fatal', async (t) => {
  const dir = await tempDir(t)
  const log = await openLog(dir)
  await log.close()
  for (const content of [
    '\u0000\u0001garbage\n',
    'eggserve-facts 99 /srv/eggs\n',
    'eggserve-facts 2 /other/tree\n',
    'eggserve-facts 1 /srv/eggs\n',
  ]) {
    await writeFile(log.path, content)
    const logs: Record<string, unknown>[] = []
    const reopened = await openLog(dir, logs)
    assert.equal(reopened.size, 0)
    assert.ok(logs.some((record) => String(record.msg).includes('rebuilding')))
    assert.equal((await readFile(reopened.path, 'utf8')).split('\n')[0], 'eggserve-facts 2 /srv/eggs')
    await reopened.close()
  }
})

await test('records lacking a digest the configuration needs are ignored', async (t) => {
  const dir = await tempDir(t)
  const log = await openLog(dir)
  log.set('id:1', facts(1))
  await log.close()
  const wantsSha512 = await FactsLog.open({
    dir,
    namespace: '/srv/eggs',
    algorithms: ['md5', 'sha256', 'sha512'],
    log: silent,
  })
  assert.equal(wantsSha512.get('id:1'), undefined)
  await wantsSha512.close()
})

await test('compaction prunes entries of files that are gone', async (t) => {
  const dir = await tempDir(t)
  const log = await openLog(dir)
  for (let i = 0; i < 100; i++) log.set(`id:${i}`, facts(i))
  await log.flush()
  const before = (await stat(log.path)).size
  await log.compact(new Set(['id:1', 'id:2']))
  assert.equal(log.size, 2)
  assert.ok((await stat(log.path)).size < before / 10)
  await log.close()
  const reopened = await openLog(dir)
  assert.deepEqual([reopened.get('id:1'), reopened.get('id:2'), reopened.get('id:3')], [facts(1), facts(2), undefined])
  await reopened.close()
})

const WRITER = fileURLToPath(new URL('../helpers/facts-writer.ts', import.meta.url))

await test('two processes appending to one cache file, and compacting it, lose no record and corrupt none', async (t) => {
  const dir = await tempDir(t)
  // Each writer compacts the file as it starts (there is none yet) and every 500 records, while
  // the other appends: every acknowledged record must be in the file at the end, whatever the
  // interleaving. (A compaction that replaced the file without reading what the other had
  // appended since it loaded dropped those records: 5,799 of 6,000 on a loaded machine.)
  const run = (prefix: string): ReturnType<typeof runProcess> =>
    runProcess(process.execPath, ['--import', 'tsx', WRITER, dir, '/srv/eggs', prefix, '3000', 'compact-often'])
  const results = await Promise.all([run('a'), run('b')])
  for (const result of results) assert.equal(result.code, 0, result.stderr)
  const log = await openLog(dir)
  assert.equal(log.stats.corrupt, 0)
  const missing = ['a', 'b']
    .flatMap((prefix) => Array.from({ length: 3000 }, (_, i) => `${prefix}:${i}`))
    .filter((identity) => log.get(identity) === undefined)
  assert.deepEqual(missing, [])
  assert.equal(log.size, 6000)
  await log.close()
})

await test('a compaction keeps the records another process appended after this one loaded the file', async (t) => {
  const dir = await tempDir(t)
  const appender = await openLog(dir)
  const compactor = await openLog(dir)
  for (let i = 0; i < 100; i++) appender.set(`a:${i}`, facts(i))
  await appender.flush()
  // The compactor never loaded those records; it must not drop them with the old file.
  await compactor.compact(new Set([...Array.from({ length: 150 }, (_, i) => `a:${i}`), 'c:1']))
  assert.deepEqual(compactor.get('a:7'), facts(7), 'what it found in the file serves it too')
  compactor.set('c:1', facts(1))
  for (let i = 100; i < 200; i++) appender.set(`a:${i}`, facts(i))
  await appender.close()
  await compactor.close()
  const log = await openLog(dir)
  assert.equal(log.stats.corrupt, 0)
  assert.equal(log.size, 201)
  assert.deepEqual(
    [log.get('a:0'), log.get('a:99'), log.get('a:199'), log.get('c:1')],
    [facts(0), facts(99), facts(199), facts(1)],
  )
  await log.close()
})

await test('an append that lands in a file another process has just replaced is written again to the new one', async (t) => {
  const dir = await tempDir(t)
  const log = await openLog(dir)
  log.set('id:0', facts(0))
  await log.flush()
  // Another process's compaction, forced into the worst moment: it read the file before this
  // write and puts its copy (without the record being written) in place just before the write.
  const probe = await open(log.path, 'r')
  const proto = Object.getPrototypeOf(probe) as FileHandle
  await probe.close()
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the handle as `this`
  const realWrite = proto.write as (this: FileHandle, data: Buffer | string) => Promise<{ bytesWritten: number }>
  let replaced = false
  t.mock.method(proto, 'write', async function (this: FileHandle, data: Buffer | string) {
    if (!replaced) {
      replaced = true
      writeFileSync(`${log.path}.other`, readFileSync(log.path))
      renameSync(`${log.path}.other`, log.path)
    }
    return realWrite.call(this, data)
  })
  log.set('id:1', facts(1))
  await log.flush()
  t.mock.restoreAll()
  assert.ok(replaced)
  await log.close()
  const again = await openLog(dir)
  assert.deepEqual([again.get('id:0'), again.get('id:1')], [facts(0), facts(1)])
  assert.equal(again.stats.corrupt, 0)
  await again.close()
})

await test('a process that compacts while another appends: both files stay whole', async (t) => {
  const dir = await tempDir(t)
  const mine = await openLog(dir)
  for (let i = 0; i < 100; i++) mine.set(`mine:${i}`, facts(i))
  await mine.flush()
  const other = await runProcess(process.execPath, [
    '--import',
    'tsx',
    WRITER,
    dir,
    '/srv/eggs',
    'other',
    '100',
    'compact',
  ])
  assert.equal(other.code, 0, other.stderr)
  // The other process replaced the file; this one must notice and append to the new one.
  for (let i = 100; i < 200; i++) mine.set(`mine:${i}`, facts(i))
  await mine.close()
  const log = await openLog(dir)
  assert.equal(log.stats.corrupt, 0)
  assert.ok(log.get('mine:150') !== undefined, 'appends after the compaction landed in the new file')
  assert.ok(log.get('other:50') !== undefined)
  await log.close()
})

await test('a Requires-Python holding a tab, quotes or a newline round-trips (it is JSON-encoded in its field)', async (t) => {
  const dir = await tempDir(t)
  const odd: FileFacts = {
    digests: { md5: 'a'.repeat(32), sha256: 'b'.repeat(64) },
    metadata: { sha256: 'c'.repeat(64), requiresPython: '>=3.8,\t<4 "x"\nz' },
  }
  const log = await openLog(dir)
  log.set('odd', odd)
  await log.close()
  const again = await openLog(dir)
  assert.deepEqual(again.get('odd'), odd)
  assert.equal(again.stats.corrupt, 0)
  await again.close()
})

await test('a cache directory that cannot be made is an error at once, never a hang', async (t) => {
  const dir = await tempDir(t)
  // procfs answers ENOENT to mkdir although /proc exists: Node's recursive mkdir loops on that.
  if (existsSync('/proc/self')) {
    const where = `/proc/eggserve-test-${process.pid}/cache`
    await assert.rejects(makeDirectory(where, 0o700), (err: unknown) => errnoCode(err) === 'ENOENT')
    await assert.rejects(openLog(where), (err: unknown) => errnoCode(err) === 'ENOENT')
  } else {
    t.diagnostic('no /proc here: the procfs case is not tried')
  }
  await writeFile(join(dir, 'plain'), 'a file')
  await assert.rejects(
    makeDirectory(join(dir, 'plain', 'cache'), 0o700),
    (err: unknown) => errnoCode(err) === 'ENOTDIR',
  )
  await assert.rejects(makeDirectory(join(dir, 'plain'), 0o700), (err: unknown) => errnoCode(err) === 'EEXIST')
  await symlink(join(dir, 'nowhere'), join(dir, 'dangling'))
  await assert.rejects(makeDirectory(join(dir, 'dangling', 'cache'), 0o700), (err: unknown) =>
    ['ENOENT', 'ENOTDIR'].includes(errnoCode(err) ?? ''),
  )
  // What works: missing parents are made, with the mode; an existing directory is fine.
  await makeDirectory(join(dir, 'a', 'b', 'c'), 0o700)
  assert.equal((await stat(join(dir, 'a', 'b'))).mode & 0o777, 0o700)
  await makeDirectory(join(dir, 'a', 'b', 'c'), 0o700)
  await symlink(join(dir, 'a'), join(dir, 'to-a'))
  await makeDirectory(join(dir, 'to-a', 'd'), 0o700)
  assert.ok((await stat(join(dir, 'a', 'd'))).isDirectory())
})

await test('a cache file fed in pieces of any size gives the same records as the whole of it', () => {
  const body = [0, 1, 2, 3].map((n) => encode(`id:${n}`, facts(n))).join('')
  const flipped = encode('id:9', facts(9)).replace('id:9', 'id:8')
  const files = [
    header('/srv/eggs') + body,
    header('/srv/eggs') + body + flipped + encode('id:5', facts(5)),
    header('/srv/eggs') + body + encode('id:6', facts(6)).slice(0, 20),
    header('/srv/other') + body,
    '',
    header('/srv/eggs').slice(0, 10),
  ]
  for (const text of files) {
    const bytes = Buffer.from(text)
    const whole: [string, StoredFileFacts][] = []
    const expected = parseLog(bytes, '/srv/eggs', (identity, found) => whole.push([identity, found]))
    for (const size of [1, 7, 64, 1000]) {
      const records: [string, StoredFileFacts][] = []
      const parser = new LogParser('/srv/eggs', (identity, found) => records.push([identity, found]))
      let pending = Buffer.alloc(0)
      for (let at = 0; at < bytes.length; at += size) {
        pending = Buffer.concat([pending, bytes.subarray(at, at + size)])
        pending = pending.subarray(parser.feed(pending, false))
      }
      parser.feed(pending, true)
      assert.deepEqual(parser.result(), expected, `${JSON.stringify(text.slice(0, 30))} in pieces of ${size}`)
      assert.deepEqual(records, whole)
    }
  }
  const sound: [string, StoredFileFacts][] = []
  assert.deepEqual(
    parseLog(Buffer.from(files[1] ?? ''), '/srv/eggs', (identity, found) => sound.push([identity, found])),
    { foreign: false, corrupt: 1 },
  )
  assert.deepEqual(
    sound.map(([identity]) => identity),
    ['id:0', 'id:1', 'id:2', 'id:3', 'id:5'],
  )
})

await test('a large cache file is read in a worker thread, to the same entries, counts and problems', async (t) => {
  const dir = await tempDir(t)
  const log = await openLog(dir)
  for (let i = 0; i < 20; i++) log.set(`id:${i}`, facts(i))
  // A later record of an identity wins; one without sha256 is not usable here.
  log.set('id:3', facts(33))
  log.set('id:only-md5', { digests: { md5: 'e'.repeat(32) } })
  await log.close()
  // A flipped byte in one record, and a torn last line.
  const lines = (await readFile(log.path, 'utf8')).split('\n')
  lines[5] = (lines[5] ?? '').replace(/md5=(.)/, (_m, c: string) => `md5=${c === '0' ? '1' : '0'}`)
  await writeFile(log.path, lines.join('\n') + 'f00d\tid:torn')
  const copy = join(await tempDir(t), 'copy')
  await writeFile(copy, await readFile(log.path))
  const open = (workerFromBytes?: number): Promise<FactsLog> =>
    FactsLog.open({
      dir,
      namespace: '/srv/eggs',
      algorithms: ['md5', 'sha256'],
      log: silent,
      ...(workerFromBytes === undefined ? {} : { workerFromBytes }),
    })
  const here = await open()
  await here.close()
  // The first open rewrote the file clean: read the same bytes again.
  await writeFile(log.path, await readFile(copy))
  const inWorker = await open(0)
  await inWorker.close()
  assert.equal(here.stats.readInWorker, false, 'a small file is read in the calling thread')
  assert.equal(inWorker.stats.readInWorker, true)
  assert.deepEqual([...inWorker.entries()], [...here.entries()])
  assert.equal(inWorker.size, 19, 'the corrupt record, the torn line and the md5-only one are left out')
  assert.deepEqual(inWorker.get('id:3'), facts(33))
  assert.deepEqual(
    { corrupt: inWorker.stats.corrupt, loaded: inWorker.stats.loaded },
    { corrupt: here.stats.corrupt, loaded: here.stats.loaded },
  )
  assert.equal(inWorker.stats.corrupt, 2)
})

await test('opening() resolves before the file is read; loaded says when it has been', async (t) => {
  const dir = await tempDir(t)
  const log = await openLog(dir)
  for (let i = 0; i < 5; i++) log.set(`id:${i}`, facts(i))
  await log.close()
  const store = await FactsLog.opening({
    dir,
    namespace: '/srv/eggs',
    algorithms: ['md5', 'sha256'],
    log: silent,
    workerFromBytes: 0,
  })
  assert.equal(store.size, 0, 'nothing read yet (the worker thread reads it)')
  await store.loaded
  assert.equal(store.size, 5)
  await store.close()
})
