// The string table that lets the index hold repeated short strings once: what it hands out,
// what it holds, and its bound.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { InternTable } from '../../src/core/intern.js'

await test('intern() hands out a string equal to the one given, and holds each distinct string once', () => {
  const table = new InternTable()
  for (const value of ['py3', 'any', '1.0.0', '', 'py3', 'any', '1.0.0', '']) assert.equal(table.intern(value), value)
  assert.equal(table.size, 4, 'four distinct strings')
  // A string built at run time (as split() and JSON.parse() build them) finds the one held.
  assert.equal(table.intern(['p', 'y', '3'].join('')), 'py3')
  assert.equal(table.size, 4)
})

await test('the table never holds more than its capacity: full, it starts again empty', () => {
  const table = new InternTable(3)
  for (const value of ['a', 'b', 'c']) table.intern(value)
  assert.equal(table.size, 3)
  table.intern('a')
  assert.equal(table.size, 3, 'a string held is found, not added')
  assert.equal(table.intern('d'), 'd')
  assert.equal(table.size, 1, 'the fourth distinct string cleared the table and is the one held now')
  for (let i = 0; i < 1000; i++) assert.equal(table.intern(`v${i}`), `v${i}`)
  assert.ok(table.size <= 3)
})

await test('a capacity that is not a positive integer is refused', () => {
  for (const capacity of [0, -1, 1.5, Number.NaN]) assert.throws(() => new InternTable(capacity), RangeError)
})
