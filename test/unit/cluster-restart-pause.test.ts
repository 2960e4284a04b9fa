// How soon the --workers primary replaces a worker that died: at once after a long life; after
// a pause that doubles (1 s, 2 s, ... 30 s) while it keeps dying soon after starting.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { restartPause } from '../../src/daemon/cluster-restart-pause.js'

await test('a worker dying soon after start waits 1 s, then twice as long each time, up to 30 s', () => {
  const pauses: number[] = []
  let previous: number | undefined
  for (let death = 0; death < 8; death++) {
    previous = restartPause(2_000, previous)
    pauses.push(previous)
  }
  assert.deepEqual(pauses, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000])
})

await test('a worker that lived 10 s or more is replaced at once', () => {
  assert.equal(restartPause(10_000, undefined), 0)
  assert.equal(restartPause(60_000, 30_000), 0)
})

await test('after a long life, quick deaths pause again from 1 s (no restart loop)', () => {
  // A worker ran for an hour, died (replaced at once); its replacements now die at start-up.
  const afterLongLife = restartPause(3_600_000, 8_000)
  assert.equal(afterLongLife, 0)
  const first = restartPause(500, afterLongLife)
  const second = restartPause(500, first)
  assert.deepEqual([first, second], [1_000, 2_000])
})
