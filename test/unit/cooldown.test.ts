// The cooldown filter (src/core/cooldown.ts) and the durations it is set with (src/core/duration.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { applyCooldown, holdOf, NO_COOLDOWN, uploadTimeMs, type CooldownRule } from '../../src/core/cooldown.js'
import { formatDuration, parseDuration } from '../../src/core/duration.js'
import type { UpstreamPage } from '../../src/core/upstream-page.js'

const DAY = 86_400_000
const NOW = Date.parse('2026-06-10T12:00:00Z')
const WEEK: CooldownRule = { minAgeMs: 7 * DAY, undated: 'hide' }

await test('durations: seconds, units and combinations; anything else is refused', () => {
  const cases: [string | number, number | undefined][] = [
    ['600', 600_000],
    [600, 600_000],
    [1.5, 1500],
    ['0', 0],
    ['600s', 600_000],
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['7d', 7 * DAY],
    ['2w', 14 * DAY],
    ['500ms', 500],
    [' 36H ', 36 * 3_600_000],
    ['7 days', undefined],
    ['-1', undefined],
    [-1, undefined],
    [Infinity, undefined],
    ['', undefined],
    ['m', undefined],
    ['10x', undefined],
    ['1e3', undefined],
  ]
  for (const [text, expected] of cases) assert.equal(parseDuration(text), expected, String(text))
  assert.equal(formatDuration(7 * DAY), '7d')
  assert.equal(formatDuration(90_000), '1m30s')
  assert.equal(formatDuration(0), '0s')
  assert.equal(formatDuration(1500), '1s500ms')
})

await test('PEP 700 upload-time: ISO 8601 with any fraction and offset; other text is no time', () => {
  assert.equal(uploadTimeMs('2026-06-10T12:00:00.123456Z'), NOW + 123)
  assert.equal(uploadTimeMs('2026-06-10T12:00:00Z'), NOW)
  assert.equal(uploadTimeMs('2026-06-10T14:00:00+02:00'), NOW)
  assert.equal(uploadTimeMs('2026-06-10T12:00:00.5z'), NOW + 500)
  for (const bad of [undefined, '', '2026-06-10', 'yesterday', '2026-06-10 12:00:00Z', '2026-13-40T99:00:00Z'])
    assert.equal(uploadTimeMs(bad), undefined, String(bad))
})

await test('a file is held while younger than the minimum age, and says when it comes of age', () => {
  const uploaded = NOW - 2 * DAY
  const file = { uploadTime: new Date(uploaded).toISOString() }
  assert.deepEqual(holdOf(file, WEEK, NOW), {
    reason: 'young',
    uploadedAtMs: uploaded,
    availableAtMs: uploaded + 7 * DAY,
  })
  // One millisecond before its time it is still held; at its time it is not.
  assert.notEqual(holdOf(file, WEEK, uploaded + 7 * DAY - 1), undefined)
  assert.equal(holdOf(file, WEEK, uploaded + 7 * DAY), undefined)
  assert.equal(holdOf({ uploadTime: new Date(NOW - 8 * DAY).toISOString() }, WEEK, NOW), undefined)
  // A time in the future (a skewed clock upstream) is young, not old.
  assert.equal(holdOf({ uploadTime: new Date(NOW + DAY).toISOString() }, WEEK, NOW)?.reason, 'young')
})

await test('files without a (readable) upload-time follow the undated setting', () => {
  assert.deepEqual(holdOf({}, WEEK, NOW), { reason: 'undated' })
  assert.deepEqual(holdOf({ uploadTime: 'soon' }, WEEK, NOW), { reason: 'undated' })
  assert.equal(holdOf({}, { ...WEEK, undated: 'keep' }, NOW), undefined)
  // Without a cooldown nothing is held, dated or not.
  assert.equal(holdOf({}, NO_COOLDOWN, NOW), undefined)
  assert.equal(holdOf({ uploadTime: new Date(NOW).toISOString() }, NO_COOLDOWN, NOW), undefined)
})

await test('applyCooldown takes held files off the page and says when the result changes', () => {
  const file = (filename: string, uploadTime?: string): UpstreamPage['files'][number] => ({
    filename,
    url: `https://files.example/${filename}`,
    hashes: {},
    ...(uploadTime === undefined ? {} : { uploadTime }),
  })
  const page: UpstreamPage = {
    project: 'demo',
    files: [
      file('demo-1.0-py3-none-any.whl', new Date(NOW - 30 * DAY).toISOString()),
      file('demo-2.0-py3-none-any.whl', new Date(NOW - 3 * DAY).toISOString()),
      file('demo-2.0.tar.gz', new Date(NOW - 1 * DAY).toISOString()),
      file('demo-0.9.tar.gz'),
    ],
  }
  const cooled = applyCooldown(page, WEEK, NOW)
  assert.deepEqual(
    cooled.page.files.map((listed) => listed.filename),
    ['demo-1.0-py3-none-any.whl'],
  )
  assert.deepEqual([...cooled.held.keys()], ['demo-2.0-py3-none-any.whl', 'demo-2.0.tar.gz', 'demo-0.9.tar.gz'])
  assert.equal(cooled.changesAtMs, NOW + 4 * DAY, 'the oldest held file comes of age first')
  const later = applyCooldown(page, { ...WEEK, undated: 'keep' }, NOW + 4 * DAY)
  assert.deepEqual(
    later.page.files.map((listed) => listed.filename),
    ['demo-1.0-py3-none-any.whl', 'demo-2.0-py3-none-any.whl', 'demo-0.9.tar.gz'],
  )
  assert.equal(later.changesAtMs, NOW + 6 * DAY)
  // No cooldown: the very same page, nothing held, never changes.
  const none = applyCooldown(page, NO_COOLDOWN, NOW)
  assert.equal(none.page, page)
  assert.equal(none.held.size, 0)
  assert.equal(none.changesAtMs, Infinity)
})
