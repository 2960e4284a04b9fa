// The size cap's bookkeeping (--upstream-cache-max): least recently used files go first, files
// in use are skipped, and a file removed while in use is counted until its last user is done.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FileLru } from '../../src/upstream/file-lru.js'

await test('evicts the least recently used files until the total fits', () => {
  const lru = new FileLru(100)
  assert.deepEqual(lru.add('a/a-1.whl', 40), [])
  assert.deepEqual(lru.add('b/b-1.whl', 40), [])
  lru.touch('a/a-1.whl')
  // 120 > 100: b is the least recently used now.
  assert.deepEqual(lru.add('c/c-1.whl', 40), ['b/b-1.whl'])
  assert.equal(lru.totalBytes, 80)
  assert.deepEqual(lru.keys(), ['a/a-1.whl', 'c/c-1.whl'])
  // One big file pushes out everything older.
  assert.deepEqual(lru.add('d/d-1.whl', 90), ['a/a-1.whl', 'c/c-1.whl'])
  assert.equal(lru.totalBytes, 90)
})

await test('a file in use is skipped; the cap is met again as soon as users are done', () => {
  const lru = new FileLru(100)
  lru.add('a', 60)
  const releaseA = lru.use('a')
  const releaseB = lru.use('b')
  assert.deepEqual(lru.add('b', 60), [], 'both files are in use: nothing can go yet')
  assert.equal(lru.totalBytes, 120)
  // b is done first: a is still being sent, so b (the only one free) goes.
  assert.deepEqual(releaseB(), ['b'])
  assert.equal(lru.totalBytes, 60)
  assert.deepEqual(releaseA(), [])
  assert.deepEqual(releaseA(), [], 'a release counts once')
  assert.deepEqual(lru.keys(), ['a'])
})

await test('a file still arriving is protected from the moment it is used, before it is counted', () => {
  const lru = new FileLru(100)
  lru.add('old', 50)
  const release = lru.use('arriving')
  // The older file goes, never the one its clients are still receiving.
  assert.deepEqual(lru.add('arriving', 80), ['old'])
  assert.equal(lru.totalBytes, 80)
  lru.add('small', 10)
  assert.deepEqual(release(), [])
  assert.deepEqual(lru.add('next', 30), ['arriving'], 'released, it is the least recently used')
  assert.deepEqual(lru.keys(), ['small', 'next'])
})

await test('a file removed while in use keeps counting until its last user is done', () => {
  const lru = new FileLru(100)
  lru.add('a', 70)
  const first = lru.use('a')
  const second = lru.use('a')
  lru.remove('a')
  assert.equal(lru.has('a'), false)
  assert.equal(lru.totalBytes, 70, 'the bytes are still on disk while streamed')
  // A new copy of the same file arrives meanwhile: both count.
  assert.deepEqual(lru.add('a', 70), [])
  assert.equal(lru.totalBytes, 140)
  assert.deepEqual(first(), [])
  assert.equal(lru.totalBytes, 140)
  // The old copy is gone now; the new one fits.
  assert.deepEqual(second(), [])
  assert.equal(lru.totalBytes, 70)
  assert.equal(lru.size, 1)
})

await test('adding a known key again counts it once, as the most recent', () => {
  const lru = new FileLru(100)
  lru.add('a', 30)
  lru.add('b', 30)
  lru.add('a', 40)
  assert.equal(lru.totalBytes, 70)
  assert.deepEqual(lru.keys(), ['b', 'a'])
})
