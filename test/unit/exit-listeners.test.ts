// Many children side by side (the CLI tests run a dozen commands at once) must not add an
// 'exit' listener each to the test process: past 10, Node warns (MaxListenersExceededWarning).
// The helpers register every child, moto servers included, with one listener (test/helpers/exit-cleanup.ts).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { startMoto } from '../helpers/moto.js'
import { runProcess } from '../helpers/spawn-server.js'

const SIDE_BY_SIDE = 16

await test(`${SIDE_BY_SIDE} commands side by side: one exit listener, no MaxListenersExceededWarning`, async () => {
  const warnings: Error[] = []
  const onWarning = (warning: Error): void => {
    warnings.push(warning)
  }
  process.on('warning', onWarning)
  const before = process.listenerCount('exit')
  // Each child lives 300 ms, so all of them run at once; each is registered as it is spawned.
  const runs = Array.from({ length: SIDE_BY_SIDE }, () =>
    runProcess(process.execPath, ['-e', 'setTimeout(() => {}, 300)']),
  )
  const most = process.listenerCount('exit')
  const results = await Promise.all(runs)
  // A warning is emitted on a later tick: give it one.
  await new Promise((resolve) => setImmediate(resolve))
  process.off('warning', onWarning)
  for (const result of results) assert.equal(result.code, 0, result.stderr)
  assert.ok(most <= before + 1, `exit listeners went from ${before} to ${most} with ${SIDE_BY_SIDE} children`)
  assert.deepEqual(
    warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning').map((warning) => warning.message),
    [],
  )
})

await test('killOnExit runs what is still registered when the process exits, and nothing forgotten', () => {
  const helper = new URL('../helpers/exit-cleanup.ts', import.meta.url).pathname
  // A child Node process registers three, forgets one, and exits: the other two run (one silently),
  // and the three took one 'exit' listener.
  const script = [
    `const before = process.listenerCount('exit')`,
    `const { killOnExit } = await import(${JSON.stringify(helper)})`,
    `killOnExit(() => process.stdout.write('kept\\n'))`,
    `const forget = killOnExit(() => process.stdout.write('forgotten\\n'))`,
    'forget()',
    `killOnExit(() => undefined)`,
    `console.log('listeners added', process.listenerCount('exit') - before)`,
  ].join('\n')
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  })
  assert.equal(result.status, 0, result.stderr)
  assert.equal(result.stdout, 'listeners added 1\nkept\n')
})

await test('moto servers started side by side share the one exit listener', async (t) => {
  const before = process.listenerCount('exit')
  const servers = await Promise.all([startMoto(t), startMoto(t), startMoto(t)])
  if (servers.includes(undefined)) return
  const most = process.listenerCount('exit')
  assert.ok(most <= before + 1, `exit listeners went from ${before} to ${most} with ${servers.length} moto servers`)
})
