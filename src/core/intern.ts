// A small table of strings, so that text repeated across many records is held once.
//
// Why: the index keeps a record per file for the life of the process. Parsing makes a new
// string for every field of every file (split() and JSON.parse() copy short strings), so at
// 100,000 files the same "py3", "any", "1.0.0" or ">=3.8" was held hundreds of thousands of
// times (docs/benchmarks.md, "Memory"). Equal strings are indistinguishable in JavaScript, so
// handing out the first copy changes nothing but the memory.
//
// Bounded: it holds at most `capacity` strings and starts again empty when full, so a tree
// whose every file has a version of its own costs a fixed amount at most, while the strings
// that really repeat (tags, common versions, Requires-Python) are found again at once. No LRU
// bookkeeping: a hit must cost one Map lookup, as it happens for every field of every file.

/** Hands out one instance per distinct string, for at most `capacity` strings at a time. */
export class InternTable {
  readonly #capacity: number
  readonly #strings = new Map<string, string>()

  constructor(capacity = 4096) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer`)
    this.#capacity = capacity
  }

  /** Strings held now. */
  get size(): number {
    return this.#strings.size
  }

  /**
   * A string equal to `value`: the one held when there is one, else `value` itself, now held.
   * @example table.intern('py3') === table.intern(['p', 'y', '3'].join('')) // true (one instance)
   */
  intern(value: string): string {
    const held = this.#strings.get(value)
    if (held !== undefined) return held
    if (this.#strings.size >= this.#capacity) this.#strings.clear()
    this.#strings.set(value, value)
    return value
  }
}
