// FairScheduler: bounded concurrency, round-robin between groups, urgent groups first.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises'
import { FairScheduler } from '../../src/file-facts/fair-scheduler.js'

/** A promise settled from outside, to decide exactly when a task ends. */
interface Gate {
  readonly promise: Promise<void>
  readonly open: () => void
}

function gate(): Gate {
  let open: () => void = () => undefined
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** Let queued callbacks, promise reactions and the scheduler's follow-up starts run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await nextMacrotask()
}

/** Resolves to 'timeout' when `promise` has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  const controller = new AbortController()
  try {
    return await Promise.race([promise, sleep(ms, 'timeout' as const, { signal: controller.signal })])
  } finally {
    controller.abort()
  }
}

/** Deterministic delays in ms, 0–3. */
function delayFor(i: number): number {
  return (i * 7 + 3) % 4
}

await describe('FairScheduler', async () => {
  await test('constructor rejects 0, negative, fractional and non-finite concurrency', () => {
    for (const concurrency of [0, -1, -0.5, 1.5, 0.999, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new FairScheduler(concurrency), RangeError, String(concurrency))
    }
    assert.doesNotThrow(() => new FairScheduler(1))
    assert.doesNotThrow(() => new FairScheduler(64))
  })

  for (const concurrency of [1, 3, 8]) {
    await test(`never runs more than ${concurrency} tasks at once, and reaches that bound`, async () => {
      const scheduler = new FairScheduler(concurrency)
      let running = 0
      let maxRunning = 0
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          scheduler.run(
            `group-${i % 4}`,
            async () => {
              running++
              maxRunning = Math.max(maxRunning, running)
              await sleep(delayFor(i))
              await nextMacrotask()
              running--
              return i * 10
            },
            i % 3 === 0,
          ),
        ),
      )
      assert.deepEqual(
        results,
        Array.from({ length: 40 }, (_, i) => i * 10),
      )
      assert.equal(maxRunning, concurrency)
      assert.equal(running, 0)
      assert.equal(scheduler.pending, 0)
    })
  }

  await test('holds tasks beyond the bound as pending, and starts them as slots free up', async () => {
    const scheduler = new FairScheduler(2)
    const gates = [gate(), gate(), gate()]
    const started: number[] = []
    const done = gates.map((g, i) =>
      scheduler.run('g', async () => {
        started.push(i)
        await g.promise
        return i
      }),
    )
    await settle()
    assert.deepEqual(started, [0, 1])
    assert.equal(scheduler.pending, 1)
    gates[1]?.open()
    await settle()
    assert.deepEqual(started, [0, 1, 2])
    assert.equal(scheduler.pending, 0)
    gates[0]?.open()
    gates[2]?.open()
    assert.deepEqual(await Promise.all(done), [0, 1, 2])
  })

  await test('round-robin: a group enqueued behind 50 tasks of another starts before most of them', async () => {
    const concurrency = 2
    const scheduler = new FairScheduler(concurrency)
    const order: string[] = []
    const task = (name: string) => async (): Promise<void> => {
      order.push(name)
      await sleep(1)
    }
    const a = Array.from({ length: 50 }, (_, i) => scheduler.run('A', task(`A${i}`)))
    const b = scheduler.run('B', task('B0'))
    await Promise.all([...a, b])
    assert.equal(order.length, 51)
    const position = order.indexOf('B0')
    // Only the tasks already running (and at most one more turn of A) may start before B.
    assert.ok(
      position <= concurrency + 1,
      `B started at position ${position}: ${order.slice(0, position + 1).join(' ')}`,
    )
  })

  await test('round-robin: a newly enqueued group takes the very next free slot', async () => {
    // A's running tasks fill every slot when B arrives; A has just had its turn, so B's comes next.
    for (const concurrency of [1, 2, 4]) {
      const scheduler = new FairScheduler(concurrency)
      const order: string[] = []
      const gates = new Map<string, Gate>()
      const task = (name: string) => async (): Promise<void> => {
        order.push(name)
        const g = gate()
        gates.set(name, g)
        await g.promise
      }
      const all = Array.from({ length: 10 }, (_, i) => scheduler.run('A', task(`A${i}`)))
      await settle()
      all.push(scheduler.run('B', task('B0')))
      await settle()
      assert.equal(order.length, concurrency)
      gates.get('A0')?.open()
      await settle()
      assert.equal(order[concurrency], 'B0', `concurrency ${concurrency}: ${order.join(' ')}`)
      // Let everything finish: every started task gets its gate opened until all 11 have run.
      while (order.length < 11) {
        for (const g of gates.values()) g.open()
        await settle()
      }
      for (const g of gates.values()) g.open()
      await Promise.all(all)
    }
  })

  await test('alternates between two busy groups', async () => {
    const scheduler = new FairScheduler(1)
    const order: string[] = []
    const blocker = gate()
    const first = scheduler.run('x', () => blocker.promise)
    const tasks = ['A', 'B'].flatMap((group) =>
      [1, 2, 3].map((i) =>
        scheduler.run(group, async () => {
          order.push(`${group}${i}`)
          await nextMacrotask()
        }),
      ),
    )
    blocker.open()
    await Promise.all([first, ...tasks])
    assert.deepEqual(order, ['A1', 'B1', 'A2', 'B2', 'A3', 'B3'])
  })

  await test('urgent groups go before background groups', async () => {
    const scheduler = new FairScheduler(1)
    const order: string[] = []
    const blocker = gate()
    const record = (name: string) => async (): Promise<void> => {
      order.push(name)
      await nextMacrotask()
    }
    const first = scheduler.run('busy', () => blocker.promise)
    const tasks = [
      scheduler.run('background', record('bg1'), false),
      scheduler.run('background', record('bg2'), false),
      scheduler.run('background', record('bg3'), false),
      scheduler.run('page', record('page1')),
      scheduler.run('page', record('page2'), true),
    ]
    await settle()
    assert.equal(scheduler.pending, 5)
    blocker.open()
    await Promise.all([first, ...tasks])
    assert.deepEqual(order, ['page1', 'page2', 'bg1', 'bg2', 'bg3'])
  })

  await test('promote moves a background group ahead of other background groups', async () => {
    const scheduler = new FairScheduler(1)
    const order: string[] = []
    const blocker = gate()
    const record = (name: string) => async (): Promise<void> => {
      order.push(name)
      await nextMacrotask()
    }
    const first = scheduler.run('busy', () => blocker.promise)
    const tasks = [
      scheduler.run('a', record('a1'), false),
      scheduler.run('a', record('a2'), false),
      scheduler.run('b', record('b1'), false),
      scheduler.run('b', record('b2'), false),
    ]
    scheduler.promote('b')
    scheduler.promote('no-such-group')
    blocker.open()
    await Promise.all([first, ...tasks])
    assert.deepEqual(order, ['b1', 'b2', 'a1', 'a2'])
  })

  await test('background groups alone take turns too', async () => {
    const scheduler = new FairScheduler(1)
    const order: string[] = []
    const blocker = gate()
    const first = scheduler.run('busy', () => blocker.promise, false)
    const tasks = ['a', 'b'].flatMap((group) =>
      [1, 2].map((i) =>
        scheduler.run(
          group,
          async () => {
            order.push(`${group}${i}`)
            await nextMacrotask()
          },
          false,
        ),
      ),
    )
    blocker.open()
    await Promise.all([first, ...tasks])
    assert.deepEqual(order, ['a1', 'b1', 'a2', 'b2'])
  })

  await test('a rejection reaches its caller and does not stall the queue', async () => {
    const scheduler = new FairScheduler(1)
    const boom = new Error('boom')
    const failing = scheduler.run('g', async () => {
      await nextMacrotask()
      throw boom
    })
    const after = [1, 2, 3].map((i) =>
      scheduler.run(i % 2 === 0 ? 'g' : 'h', async () => {
        await nextMacrotask()
        return i
      }),
    )
    await assert.rejects(failing, (err: unknown) => err === boom)
    assert.deepEqual(await within(Promise.all(after), 1000), [1, 2, 3])
    assert.equal(scheduler.pending, 0)
  })

  await test('many rejections in a row do not leak slots', async () => {
    const scheduler = new FairScheduler(2)
    const failures = Array.from({ length: 10 }, (_, i) =>
      scheduler.run('g', async () => {
        await sleep(delayFor(i))
        throw new Error(`fail ${i}`)
      }),
    )
    const results = await Promise.allSettled(failures)
    assert.deepEqual(
      results.map((r) => r.status),
      Array.from({ length: 10 }, () => 'rejected'),
    )
    let running = 0
    let maxRunning = 0
    const oks = Array.from({ length: 6 }, () =>
      scheduler.run('g', async () => {
        running++
        maxRunning = Math.max(maxRunning, running)
        await sleep(1)
        running--
      }),
    )
    assert.notEqual(await within(Promise.all(oks), 1000), 'timeout')
    assert.equal(maxRunning, 2)
  })

  await test('a task that throws synchronously rejects its caller and frees its slot', async () => {
    const scheduler = new FairScheduler(1)
    const boom = new Error('sync boom')
    // Typed as returning a promise, as a plain (non-async) function may be, but it throws before returning one.
    const throwing = (): Promise<number> => {
      throw boom
    }
    const failing = scheduler.run('g', throwing)
    await assert.rejects(within(failing, 1000), (err: unknown) => err === boom)
    const next = scheduler.run('g', () => Promise.resolve(7))
    assert.equal(await within(next, 1000), 7)
  })
})
