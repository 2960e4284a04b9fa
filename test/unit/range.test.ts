// Byte ranges (RFC 9110 §14.1.2, §14.2, §14.4), in the @fastify/send parseBytesRange style.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { contentRange, planRange, unsatisfiedRange, type RangePlan } from '../../src/core/range.js'

const FULL: RangePlan = { kind: 'full' }
const UNSATISFIABLE: RangePlan = { kind: 'unsatisfiable' }

function partial(start: number, end: number): RangePlan {
  return { kind: 'partial', range: { start, end } }
}

await describe('planRange', async () => {
  const cases: readonly (readonly [string | undefined, number, RangePlan, string])[] = [
    [undefined, 1000, FULL, 'no Range header'],
    // Single satisfiable ranges.
    ['bytes=0-0', 1000, partial(0, 0), 'first byte only'],
    ['bytes=0-499', 1000, partial(0, 499), 'first 500 bytes'],
    ['bytes=500-999', 1000, partial(500, 999), 'last 500 bytes by position'],
    ['bytes=999-999', 1000, partial(999, 999), 'last byte by position'],
    ['bytes=0-999', 1000, partial(0, 999), 'the whole file as a range'],
    ['bytes=0-0', 1, partial(0, 0), 'the one byte of a 1-byte file'],
    // RFC 9110 §14.1.2 suffix-range: the last N bytes.
    ['bytes=-10', 1000, partial(990, 999), 'suffix of 10'],
    ['bytes=-1', 1000, partial(999, 999), 'suffix of 1'],
    ['bytes=-1000', 1000, partial(0, 999), 'suffix equal to the size'],
    ['bytes=-5000', 1000, partial(0, 999), 'suffix longer than the file: the whole file, as 206'],
    ['bytes=-5', 3, partial(0, 2), 'suffix longer than a tiny file'],
    // RFC 9110 §14.1.2 int-range without last-pos: to the end.
    ['bytes=10-', 1000, partial(10, 999), 'open-ended from 10'],
    ['bytes=0-', 1000, partial(0, 999), 'open-ended from 0'],
    ['bytes=999-', 1000, partial(999, 999), 'open-ended from the last byte'],
    // A last-pos at or beyond the end is clamped to size - 1.
    ['bytes=500-1000', 1000, partial(500, 999), 'end equal to the size'],
    ['bytes=500-99999', 1000, partial(500, 999), 'end far beyond the size'],
    ['bytes=0-99999999999999999999', 1000, partial(0, 999), 'end beyond 2^53'],
    // RFC 9110 §14.1.1: satisfiable only when first-pos < length; a zero-length suffix is never satisfiable.
    ['bytes=1000-', 1000, UNSATISFIABLE, 'first-pos == size'],
    ['bytes=1000-1000', 1000, UNSATISFIABLE, 'first-pos == last-pos == size'],
    ['bytes=1001-2000', 1000, UNSATISFIABLE, 'first-pos beyond the size'],
    ['bytes=99999999999999999999-', 1000, UNSATISFIABLE, 'first-pos beyond 2^53'],
    ['bytes=-0', 1000, UNSATISFIABLE, 'zero-length suffix'],
    ['bytes=1-', 1, UNSATISFIABLE, 'first-pos == size of a 1-byte file'],
    // Invalid range: last-pos below first-pos means the header is ignored.
    ['bytes=500-499', 1000, FULL, 'last < first'],
    ['bytes=5-3', 3, FULL, 'last < first, first beyond the size'],
    // Several ranges are ignored (RFC 9110 §14.2: a server MAY ignore Range), and so is anything we do not parse.
    ['bytes=0-1,5-6', 1000, FULL, 'multi-range'],
    ['bytes=0-1, -5', 1000, FULL, 'multi-range with a suffix'],
    ['bytes=-', 1000, FULL, 'neither first nor last'],
    ['bytes=', 1000, FULL, 'empty range set'],
    ['bytes', 1000, FULL, 'unit only'],
    ['items=0-5', 1000, FULL, 'other unit'],
    ['none', 1000, FULL, 'the "none" unit'],
    ['bytes=a-b', 1000, FULL, 'letters'],
    ['bytes=1.5-2', 1000, FULL, 'decimals'],
    ['bytes=-1-2', 1000, FULL, 'negative first-pos'],
    ['bytes 0-5', 1000, FULL, 'no equals sign'],
    ['bytes=0-5 garbage', 1000, FULL, 'trailing garbage'],
    ['', 1000, FULL, 'empty header'],
    ['garbage', 1000, FULL, 'garbage'],
    // An empty representation has no bytes: always a 200 with the (empty) whole.
    ['bytes=0-0', 0, FULL, 'empty file, first byte'],
    ['bytes=-1', 0, FULL, 'empty file, suffix'],
    ['bytes=0-', 0, FULL, 'empty file, open-ended'],
    ['bytes=-0', 0, FULL, 'empty file, zero suffix'],
    // Whitespace and case: the range unit is case-insensitive (RFC 9110 §14.1).
    ['BYTES=0-4', 1000, partial(0, 4), 'upper-case unit'],
    ['Bytes=-4', 1000, partial(996, 999), 'mixed-case unit'],
    ['  bytes=0-4  ', 1000, partial(0, 4), 'surrounding spaces'],
    ['bytes = 0 - 4', 1000, partial(0, 4), 'spaces around = and -'],
    ['\tbytes=10-\t', 1000, partial(10, 999), 'tabs'],
    ['bytes=007-010', 1000, partial(7, 10), 'leading zeros'],
  ]
  for (const [header, size, expected, why] of cases) {
    await test(`${why}: ${JSON.stringify(header)} of ${size} bytes → ${expected.kind}`, () => {
      assert.deepEqual(planRange(header, size), expected)
    })
  }

  await test('a partial range always lies inside the file and is not empty', () => {
    const headers = [
      'bytes=0-0',
      'bytes=-1',
      'bytes=-7',
      'bytes=3-',
      'bytes=2-4',
      'bytes=0-100',
      'bytes=-100',
      'bytes=6-6',
    ]
    for (const size of [1, 2, 7, 8]) {
      for (const header of headers) {
        const plan = planRange(header, size)
        if (plan.kind !== 'partial') continue
        const { start, end } = plan.range
        assert.ok(Number.isSafeInteger(start) && Number.isSafeInteger(end), `${header} of ${size}`)
        assert.ok(start >= 0 && start <= end && end <= size - 1, `${header} of ${size}: ${start}-${end}`)
      }
    }
  })
})

await describe('contentRange and unsatisfiedRange (RFC 9110 §14.4)', async () => {
  const cases: readonly (readonly [number, number, number, string])[] = [
    [0, 0, 1000, 'bytes 0-0/1000'],
    [990, 999, 1000, 'bytes 990-999/1000'],
    [0, 0, 1, 'bytes 0-0/1'],
    [42, 4_294_967_296, 4_294_967_297, 'bytes 42-4294967296/4294967297'],
  ]
  for (const [start, end, size, expected] of cases) {
    await test(`${start}-${end} of ${size} → ${expected}`, () => {
      assert.equal(contentRange({ start, end }, size), expected)
    })
  }

  await test('renders the planned range of a suffix request', () => {
    const plan = planRange('bytes=-10', 1000)
    assert.equal(plan.kind, 'partial')
    assert.equal(contentRange(plan.range, 1000), 'bytes 990-999/1000')
  })

  for (const [size, expected] of [
    [1000, 'bytes */1000'],
    [0, 'bytes */0'],
    [1, 'bytes */1'],
  ] as const) {
    await test(`unsatisfied range of ${size} → ${expected}`, () => {
      assert.equal(unsatisfiedRange(size), expected)
    })
  }
})
