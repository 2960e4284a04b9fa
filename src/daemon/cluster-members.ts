// The primary's worker slots (--workers): which process serves each slot now, what it has
// reported (listening, warm), and the messages and waits that go to all of them.
import type { Worker } from 'node:cluster'
import type { Channel, PrimaryEvent, PrimaryRequests, WorkerEvent, WorkerRequests } from './cluster-channel.js'

/** One worker slot: the process serving it now, and what it has reported. */
export interface Member {
  readonly slot: number
  readonly worker: Worker
  readonly channel: Channel<WorkerRequests, PrimaryRequests, WorkerEvent, PrimaryEvent>
  readonly startedAt: number
  /** Listening (and not reloading). */
  ready: boolean
  /** Its warm-up pass is over. */
  warm: boolean
  /** It has said READY once: the primary hands it connections from then on, until it exits. */
  accepting: boolean
  /** Connections handed to it and not reported closed yet (cluster-balancer.ts). */
  connections: number
  /** Called at its next READY (listening, or a reload done) or exit. */
  readonly waiters: (() => void)[]
}

/** The slots, each with the process serving it now. */
export class Members {
  readonly #bySlot = new Map<number, Member>()

  get size(): number {
    return this.#bySlot.size
  }

  get(slot: number): Member | undefined {
    return this.#bySlot.get(slot)
  }

  /** `member` takes its slot (a replacement takes the place of the one that died). */
  add(member: Member): void {
    this.#bySlot.set(member.slot, member)
  }

  /** `member` exited: its waiters hear it, and its slot is free unless a replacement holds it. */
  exited(member: Member): void {
    member.ready = false
    this.wake(member)
    if (this.#bySlot.get(member.slot) === member) this.#bySlot.delete(member.slot)
  }

  all(): Member[] {
    return [...this.#bySlot.values()]
  }

  /** Those whose IPC channel is open, but for the one in slot `except`. */
  connected(except?: number): Member[] {
    return this.all().filter((member) => member.slot !== except && member.worker.isConnected())
  }

  /** Those that take connections now. */
  accepting(): Member[] {
    return this.connected().filter((member) => member.accepting)
  }

  /** Every slot holds a worker that has finished its warm-up. */
  allWarm(count: number): boolean {
    const members = this.all()
    return members.length === count && members.every((member) => member.warm)
  }

  send(member: Member, event: PrimaryEvent): void {
    if (member.worker.isConnected()) member.channel.event(event)
  }

  /** Forward `signal` to every connected worker; returns them. */
  forward(signal: 'SIGTERM' | 'SIGHUP'): Member[] {
    const members = this.connected()
    for (const member of members) this.send(member, { type: 'signal', signal })
    return members
  }

  /** Resolves at `member`'s next READY (true) or exit (false). */
  waitReady(member: Member): Promise<boolean> {
    return new Promise((resolve) => {
      member.waiters.push(() => {
        resolve(member.ready)
      })
    })
  }

  /** Tell whoever waits for `member` (it said READY, or exited). */
  wake(member: Member): void {
    for (const waiter of member.waiters.splice(0)) waiter()
  }
}
