// The rendered-page cache: bounded by bytes whatever the keys, one render per miss, versions.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PageCache, type PageKey } from '../../src/http/page-cache.js'

const key = (name: string, variant = 0): PageKey => ({ section: 'pypi', name, variant })
const text = (size: number, seed: string): string => seed.repeat(Math.ceil(size / seed.length)).slice(0, size)

await test('the cache stays within its byte budget however many distinct keys come', async () => {
  const budget = 64 * 1024
  const cache = new PageCache(budget)
  let peak = 0
  for (let i = 0; i < 5000; i++) {
    // Long names too: the key counts against the budget.
    const page = await cache.get(key(`http://host-${String(i)}.example:31001/${'x'.repeat(200)}|demo|1.0`), 1, 0, () =>
      Promise.resolve(text(1500, `page ${String(i)} `)),
    )
    assert.equal(page.body.toString(), text(1500, `page ${String(i)} `))
    peak = Math.max(peak, cache.bytes)
  }
  assert.ok(peak <= budget, `peak ${String(peak)} > ${String(budget)}`)
  assert.ok(cache.size > 1 && cache.size < 5000, `size ${String(cache.size)}`)
})

await test('a hit renders nothing; concurrent misses share one render', async () => {
  const cache = new PageCache()
  let renders = 0
  const render = async (): Promise<string> => {
    renders++
    await new Promise((resolve) => setTimeout(resolve, 10))
    return 'hello'
  }
  const pending = Array.from({ length: 20 }, () => cache.get(key('demo'), 1, 1_700_000_000_000, render))
  const pages = await Promise.all(pending)
  assert.equal(renders, 1)
  assert.ok(pages.every((p) => p === pages[0]))
  const hit = await cache.get(key('demo'), 1, 1_700_000_000_000, render)
  assert.equal(renders, 1)
  assert.equal(hit, pages[0])
  assert.equal(hit.body.toString(), 'hello')
  assert.equal(hit.lastModified, 'Tue, 14 Nov 2023 22:13:20 GMT')
  // Another variant of the same name is another page.
  assert.equal((await cache.get(key('demo', 1), 1, 0, () => Promise.resolve('other'))).body.toString(), 'other')
  assert.equal(renders, 1)
})

await test('a new version renders again; a request that joined an older render gets the newer page', async () => {
  const cache = new PageCache()
  let release = (): void => undefined
  const slow = cache.get(
    key('demo'),
    1,
    0,
    () =>
      new Promise<string>((resolve) => {
        release = () => {
          resolve('v1')
        }
      }),
  )
  // Version 2 arrives while version 1 is rendering: it joins, sees v1, and renders v2.
  const newer = cache.get(key('demo'), 2, 0, () => Promise.resolve('v2'))
  release()
  assert.equal((await slow).body.toString(), 'v1')
  assert.equal((await newer).body.toString(), 'v2')
  const hit = await cache.get(key('demo'), 2, 0, () => Promise.reject(new Error('not called')))
  assert.equal(hit.body.toString(), 'v2')
})

await test('a failed render fails its waiters and is not kept; the next request renders again', async () => {
  const cache = new PageCache()
  const failing = (): Promise<string> => Promise.reject(new Error('gone'))
  await Promise.all([
    assert.rejects(Promise.resolve(cache.get(key('demo'), 1, 0, failing)), /gone/),
    assert.rejects(Promise.resolve(cache.get(key('demo'), 1, 0, failing)), /gone/),
  ])
  assert.equal((await cache.get(key('demo'), 1, 0, () => Promise.resolve('back'))).body.toString(), 'back')
})

await test('renders evicted while running (a budget smaller than what is in flight) still answer', async () => {
  const cache = new PageCache(8 * 1024)
  const pages = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      Promise.resolve(
        cache.get(key(`p${String(i)}`), 1, 0, async () => {
          await new Promise((resolve) => setTimeout(resolve, i % 5))
          return text(2000, `page ${String(i)} `)
        }),
      ),
    ),
  )
  pages.forEach((page, i) => {
    assert.equal(page.body.toString(), text(2000, `page ${String(i)} `))
  })
  assert.ok(cache.bytes <= 8 * 1024)
  // A page larger than the whole budget is answered, not kept.
  const huge = await cache.get(key('huge'), 1, 0, () => Promise.resolve(text(20_000, 'abc')))
  assert.equal(huge.body.length, 20_000)
  assert.ok(cache.bytes <= 8 * 1024)
})

await test('cached(): the page of that version at once, counted as a hit; nothing (and no count) otherwise', async () => {
  const counts = { hits: 0, misses: 0 }
  const cache = new PageCache(undefined, {
    hit: () => {
      counts.hits++
    },
    miss: () => {
      counts.misses++
    },
  })
  assert.equal(cache.cached(key('demo'), 1), undefined)
  assert.deepEqual(counts, { hits: 0, misses: 0 })
  const page = await cache.get(key('demo'), 1, 0, () => Promise.resolve('hello'))
  assert.deepEqual(counts, { hits: 0, misses: 1 })
  // Not a promise: the page itself.
  assert.equal(cache.cached(key('demo'), 1), page)
  assert.deepEqual(counts, { hits: 1, misses: 1 })
  // Another version or variant is not that page.
  assert.equal(cache.cached(key('demo'), 2), undefined)
  assert.equal(cache.cached(key('demo', 1), 1), undefined)
  assert.deepEqual(counts, { hits: 1, misses: 1 })
})
