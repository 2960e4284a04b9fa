// The uploader record: kept by file identity, persisted as JSON lines in the cache directory,
// read back after a restart, torn or foreign lines skipped.
import assert from 'node:assert/strict'
import { appendFile, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { UploaderLog } from '../../src/upload/uploader-log.js'
import { memoryLogger } from '../helpers/build-app.js'
import { tempDir } from '../helpers/temp-tree.js'

await test('records survive a restart; other eggdirs have their own file', async (t) => {
  const dir = await tempDir(t)
  const log = memoryLogger([])
  const first = await UploaderLog.open({ dir, root: '/srv/eggs', log })
  first.record({ identity: 'dev:1:ino:2', key: 'demo/demo-1.0.tar.gz', user: 'alice' })
  first.record({ identity: 'dev:1:ino:3', key: 'demo/demo-1.1.tar.gz', user: 'ci-bot' })
  await first.flushed()
  assert.equal(first.userOf('dev:1:ino:2'), 'alice')
  const files = await readdir(dir)
  assert.equal(files.length, 1)
  assert.match(files[0] ?? '', /^uploaders-[0-9a-f]{16}\.log$/)
  // A torn last line (a crash mid-append) and a line of something else are skipped.
  await appendFile(join(dir, files[0] ?? ''), '{"identity":"dev:1:ino:4","user":"tru\n[1,2]\n')
  const second = await UploaderLog.open({ dir, root: '/srv/eggs', log })
  assert.equal(second.userOf('dev:1:ino:2'), 'alice')
  assert.equal(second.userOf('dev:1:ino:3'), 'ci-bot')
  assert.equal(second.userOf('dev:1:ino:4'), undefined)
  const other = await UploaderLog.open({ dir, root: '/srv/other', log })
  assert.equal(other.userOf('dev:1:ino:2'), undefined)
  const line = JSON.parse((await readFile(join(dir, files[0] ?? ''), 'utf8')).split('\n')[0] ?? '') as Record<
    string,
    unknown
  >
  assert.deepEqual(Object.keys(line), ['identity', 'key', 'user', 'time'])
})

await test('without a cache directory the record lives in memory', async () => {
  const record = await UploaderLog.open({ dir: undefined, root: '/srv/eggs', log: memoryLogger([]) })
  record.record({ identity: 'x', key: 'a/b', user: 'bob' })
  await record.flushed()
  assert.equal(record.userOf('x'), 'bob')
})
