// The request/reply layer between the --workers primary and a worker, over a pair of in-memory
// ports that deliver asynchronously, as an IPC channel does.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { test } from 'node:test'
import { Channel, wireError, type Envelope, type Port, type WorkerEvent } from '../../src/daemon/cluster-channel.js'
import { FileGoneError } from '../../src/file-facts/analyzer.js'

interface Asks {
  double: { ask: { n: number }; answer: number }
  gone: { ask: { key: string }; answer: null }
}

// Two ends: what one sends, the other receives on a later turn of the event loop.
function ports(): { a: Port & { closed: boolean }; b: Port & { closed: boolean } } {
  const make = (): Port & { closed: boolean; inbox: EventEmitter; peer?: { inbox: EventEmitter } } => {
    const inbox = new EventEmitter()
    const port = {
      closed: false,
      inbox,
      send(message: Envelope) {
        if (port.closed) throw new Error('channel closed')
        setImmediate(() => port.peer?.inbox.emit('message', structuredClone(message)))
        return true
      },
      on: (event: 'message', listener: (message: unknown) => void) => inbox.on(event, listener),
      off: (event: 'message', listener: (message: unknown) => void) => inbox.off(event, listener),
    } as Port & { closed: boolean; inbox: EventEmitter; peer?: { inbox: EventEmitter } }
    return port
  }
  const a = make()
  const b = make()
  a.peer = b
  b.peer = a
  return { a, b }
}

// What the answering side could ask back (nothing here but a name).
interface Nothing {
  none: { ask: null; answer: null }
}

await test('requests are answered, errors keep their code and message, events arrive, a closed end fails what waits', async () => {
  const { a, b } = ports()
  const events: WorkerEvent[] = []
  const asker = new Channel<Asks, Nothing, WorkerEvent, WorkerEvent>(
    a,
    { none: () => Promise.resolve(null) },
    () => undefined,
  )
  new Channel<Nothing, Asks, WorkerEvent, WorkerEvent>(
    b,
    {
      double: ({ n }) => Promise.resolve(n * 2),
      gone: ({ key }) => Promise.reject(new FileGoneError(key)),
    },
    (event) => events.push(event),
  )
  assert.deepEqual(await Promise.all([asker.request('double', { n: 2 }), asker.request('double', { n: 21 })]), [4, 42])
  const failure = await asker.request('gone', { key: 'alpha/a.whl' }).catch((err: unknown) => err)
  assert.deepEqual(wireError(failure), {
    code: 'EGGSERVE_FILE_GONE',
    message: '"alpha/a.whl" disappeared before it could be read',
  })
  asker.event({ type: 'forget', identity: 'x' })
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(events, [{ type: 'forget', identity: 'x' }])

  // The other process is gone: a pending request fails, and so does a new one.
  const pending = asker.request('double', { n: 1 })
  asker.close()
  await assert.rejects(pending, /the other process is gone/)
  a.closed = true
  await assert.rejects(asker.request('double', { n: 1 }), /the other process is gone/)
})
